"""Command line: `python -m agents COMMAND …` (see --help); every subcommand checks its input before computing."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from .board import ENVIRONMENT as TENSORBOARD_ENVIRONMENT  # board.py imports nothing of TensorBoard until asked
from .errors import ConfigError, DemoFileError, NonFiniteError, OutputError


def _config(args) -> dict:
    """--config laid over the workflow's base config, as the workflow lays a --configfile over it (so a cell rerun by
    hand is the workflow's cell), then --config-json laid over that."""
    from .config_file import WORKFLOW_CONFIG, overlay, read_config_file

    config = {}
    if args.config:
        config, base = read_config_file(Path(args.config)), Path(WORKFLOW_CONFIG)
        if not base.is_file():
            print(f"config: {args.config} alone, as no {base} is here to lay it over (the workflow lays every config "
                  "over it: run from the repository, or pass what the workflow passes, --config-json)", file=sys.stderr)
        elif base.resolve() != Path(args.config).resolve():
            config = overlay(read_config_file(base), config)
            print(f"config: {args.config} laid over {base}, as the workflow lays it", file=sys.stderr)
    if args.config_json:
        example = """'{"settings": {"gamma": 0.99}}'"""
        try:
            overrides = json.loads(args.config_json)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--config-json is not valid JSON ({error.msg} at column {error.colno}); "
                              f"pass an object such as {example}") from None
        if not isinstance(overrides, dict):
            raise ConfigError(f"--config-json holds a {type(overrides).__name__}; pass an object such as {example}")
        for key, value in overrides.items():
            # Mappings (settings, method_settings, ...) merge key by key, so --config-json can adjust a config file.
            if isinstance(value, dict) and isinstance(config.get(key), dict):
                config[key] = {**config[key], **value}
            else:
                config[key] = value
    return config


def available_cores() -> int:
    """The CPU cores this process may run on (its affinity: a cluster job's allotment), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_thread_environment() -> None:
    """OMP_NUM_THREADS or MKL_NUM_THREADS that is not a whole number of 1 or more makes libgomp complain as torch loads
    and fall back on its own choice: drop it before torch loads, and say so (a run's threads are --threads)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name)
        if value is not None and not (value.strip().isdigit() and int(value) >= 1):
            del os.environ[name]
            print(f"{name}={value!r} is not a whole number of 1 or more; ignored (a run's CPU threads are --threads)",
                  file=sys.stderr)


# Arguments that count something: none of them makes sense below 1.
COUNTS = {"episodes": "the number of episodes", "stride": "the k of every k-th row",
          "scale": "the window's size as a multiple of the screen", "threads": "the number of CPU threads"}


def check_arguments(args) -> None:
    """Refuse arguments no command can use, before anything is computed or written."""
    for name, meaning in COUNTS.items():
        value = getattr(args, name, None)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} {value}: {meaning} must be 1 or more")
    from .cell import MAX_SEED

    if not 0 <= getattr(args, "seed", 0) <= MAX_SEED:
        raise ConfigError(f"--seed {args.seed}: a seed must be a whole number from 0 to {MAX_SEED:,} (2**32 - 1)")
    fps = getattr(args, "fps", None)
    if fps is not None and not 0 < fps < math.inf:
        raise ConfigError(f"--fps {fps}: give the agent steps per second as a number above 0")
    minutes = getattr(args, "checkpoint_every_min", 0.0)
    if not 0 <= minutes < math.inf:
        raise ConfigError(f"--checkpoint-every-min {minutes}: give the minutes between checkpoints as a number, "
                          "0 or more")
    if minutes == 0 and args.command == "train":
        print("--checkpoint-every-min 0: a checkpoint, the whole replay with it, after every update and agent step; "
              "expect a much slower run (give minutes, 10 by default, for a real one)", file=sys.stderr)
    threads, cores = getattr(args, "threads", None), available_cores()
    if threads is not None and threads > cores:
        raise ConfigError(f"--threads {threads}: this process may use {cores} CPU core{'s' * (cores != 1)}; use at "
                          f"most {cores} (more threads than cores only contend for them)")
    if getattr(args, "tensorboard", None):  # before anything loads torch, and before any compute
        from .board import require
        from .io import check_folder

        require(f"--tensorboard {args.tensorboard}")
        check_folder(args.tensorboard, "TensorBoard folder (--tensorboard)")
    if getattr(args, "game", None) is not None and args.command != "train":  # train checks it with its config
        from .games import known_games

        if args.game not in known_games():
            raise ConfigError(f"unknown game {args.game!r}; use an ALE name such as Pong or Breakout "
                              "(python -m agents games lists them)")


def check_device(name: str) -> None:
    """A device this machine has, named as torch names it; `auto` always is one."""
    if name == "auto":
        return
    import torch

    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device {name!r} is not a device this suite runs on; use auto (CUDA when present), "
                          "cpu or cuda[:N]")
    if device.type == "cpu" and device.index is not None:
        raise ConfigError(f"--device {name}: the CPU takes no index (a run uses the cores --threads gives it); use "
                          "--device cpu")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"--device {name}: CUDA is not available on this machine (torch finds no CUDA GPU); "
                          "use --device cpu or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                          f"cuda:0 to cuda:{torch.cuda.device_count() - 1}")


def _scripted(args, protocol: dict, out: str, stats: str):
    """`demos`: record the game's scripted demonstrator, or take the first episodes of a demo file (--from)."""
    from .demos.files import first_episodes, load, record, write

    if not args.source_file:
        return record(args.game, protocol, args.episodes, args.seed, out, stats, args.noise)
    if args.noise:
        raise DemoFileError("--noise is added while recording, so it cannot apply to --from FILE; "
                            "record noisy demonstrations with the scripted demonstrator instead")
    demos = first_episodes(load(args.source_file, args.game, protocol), args.episodes, Path(args.source_file))
    write(demos, out, stats)
    return demos


def _human(args, protocol: dict, out: str, stats: str):
    from .demos.human import record

    return record(args.game, protocol, args.episodes, args.seed, args.player, out, stats, args.fps, args.scale)


def _atari_head(args, protocol: dict, out: str, stats: str):
    from .demos.atari_head import import_trial

    return import_trial(args.table, args.frames, args.game, protocol, out, stats, args.stride)


def _minari(args, protocol: dict, out: str, stats: str):
    from .demos.minari import import_dataset

    return import_dataset(args.dataset, args.game, protocol, out, stats, args.root)


# The four ways to get demonstrations, by command: script (or the first episodes of a file), person, Atari-HEAD,
# Minari. Each writes a demo file and its score table and returns the demonstrations.
DEMO_SOURCES = {"demos": _scripted, "record": _human, "import-atari-head": _atari_head, "import-minari": _minari}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m agents", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("games", help="list the ALE games that can be named in config")
    commands.add_parser("settings-docs", help="rewrite docs/settings.md and config/settings.schema.yaml from the "
                                              "declarations in agents/defaults.yaml (after changing one)")

    game_help = "ALE game name, such as Pong (python -m agents games lists them)"
    demos = commands.add_parser("demos", help="record demonstrations of a scripted demonstrator")
    demos.add_argument("--game", required=True, help=game_help)
    demos.add_argument("--episodes", type=int, required=True, help="episodes to record (or to take with --from)")
    demos.add_argument("--seed", type=int, default=0, help="seed of the environment and of the action noise")
    demos.add_argument("--noise", type=float, default=0.0,
                       help="action noise: probability of replacing each demonstrator action by a random one "
                            "(demo quality)")
    demos.add_argument("--from", dest="source_file",
                       help="take the first --episodes episodes of this demo file instead of recording")

    record = commands.add_parser("record", help="play the game yourself with the keyboard; saves a demo file")
    record.add_argument("--game", required=True, help=game_help)
    record.add_argument("--episodes", type=int, default=1, help="episodes to play; Escape ends the session earlier")
    record.add_argument("--seed", type=int, default=0, help="seed of the environment (its random no-op starts)")
    record.add_argument("--player", default="anonymous", help="recorded as the demonstrator human:PLAYER")
    record.add_argument("--fps", type=float, help="agent steps per second; default: the console's real speed")
    record.add_argument("--scale", type=int, default=3, help="window size as a multiple of 160×210")

    head = commands.add_parser("import-atari-head", help="convert one Atari-HEAD trial (table + frames)")
    head.add_argument("--game", required=True, help=game_help)
    head.add_argument("--table", required=True, help="the trial's .txt table")
    head.add_argument("--frames", required=True, help="the trial's .tar.bz2 of PNG frames")
    head.add_argument("--stride", type=int, default=1, help="keep every k-th row, summing rewards in between")

    minari_in = commands.add_parser("import-minari", help="convert a local Minari dataset")
    minari_in.add_argument("--game", required=True, help=game_help)
    minari_in.add_argument("--dataset", required=True, help="Minari dataset id")

    minari_out = commands.add_parser("export-minari", help="write a demo file as a Minari dataset")
    minari_out.add_argument("--game", required=True, help=game_help)
    minari_out.add_argument("--demos", required=True, help="demo file (.npz)")
    minari_out.add_argument("--dataset", required=True, help="Minari dataset id to create")
    for sub in (minari_in, minari_out):
        sub.add_argument("--root", help="Minari's dataset folder (default: MINARI_DATASETS_PATH or Minari's own)")
    for sub in (demos, record, head, minari_in):
        default = "; default: demos/human/GAME.npz" if sub is record else ""
        sub.add_argument("--out", required=sub is not record, help=f"demo file to write (.npz){default}")
        sub.add_argument("--stats", help="per-episode score table (.csv); default: beside --out")

    random = commands.add_parser("random", help="score uniformly random play, the floor for a demonstrator")
    random.add_argument("--game", required=True, help=game_help)
    random.add_argument("--episodes", type=int, default=10, help="episodes to play")
    random.add_argument("--seed", type=int, default=0, help="seed of the environment and of the random actions")
    random.add_argument("--out", help="per-episode scores (.csv); default: only print the summary")

    train = commands.add_parser("train", help="run one cell of the matrix: game × method × seed → run folder")
    train.add_argument("--game", required=True, help=game_help)
    train.add_argument("--method", required=True,
                       help="method name, such as dqfd, pdd_dqn or bc (agents/defaults.yaml and the config's "
                            "method_definitions define them)")
    train.add_argument("--seed", type=int, required=True,
                       help="seed of the network, the replay and the environment (a non-negative integer)")
    train.add_argument("--demos", help="demonstration file, for methods that use demonstrations")
    train.add_argument("--out", required=True, help="run folder to write (or to resume)")
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    train.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    train.add_argument("--checkpoint-dir", help="where checkpoints go; default: RUN_FOLDER/checkpoints")
    train.add_argument("--checkpoint-every-min", type=float, default=10.0,
                       help="minutes between checkpoints; a rerun of a killed run resumes from the last one "
                       "(0: after every update and agent step, for tests)")
    train.add_argument("--tensorboard", metavar="DIR", default=os.environ.get(TENSORBOARD_ENVIRONMENT) or None,
                       help="write the run's losses, Q mean, ε, demo share, episode scores and evaluations as "
                            "TensorBoard scalars under DIR/GAME/METHOD/DEMO_SET/seed_N, for `tensorboard --logdir "
                            f"DIR` (needs pip install -e \".[tensorboard]\"); default: ${TENSORBOARD_ENVIRONMENT}, "
                            "which the workflow sets when its config says tensorboard: true, else none")
    for sub in (demos, record, head, minari_in, minari_out, random, train):
        sub.add_argument("--config", help="workflow config file (YAML) whose settings apply")
        sub.add_argument("--config-json", help="the same as a JSON string, laid over --config (the workflow passes "
                                               "this)")
    return parser


def _games(args) -> None:
    from .games import known_games

    print("\n".join(known_games()))


def _settings_docs(args) -> None:
    from .settings_docs import SETTINGS_DOC, SETTINGS_SCHEMA, write

    rewritten = write()
    print("\n".join(f"rewrote {path.name}" for path in rewritten) if rewritten
          else f"up to date: {SETTINGS_DOC.name}, {SETTINGS_SCHEMA.name}")


def _demo_file(args) -> None:
    from .cell import resolve_protocol, values

    protocol = values(resolve_protocol(_config(args)))
    out = args.out or f"demos/human/{args.game}.npz"  # the human source of the workflow's demo sets
    stats = args.stats or str(Path(out).with_suffix(".stats.csv"))
    demos = DEMO_SOURCES[args.command](args, protocol, out, stats)
    scores = demos.episodes["score"]
    print(f"{args.game}: {len(scores)} episodes, {demos.num_transitions} transitions, "
          f"score mean {scores.mean():.1f} (worst {scores.min():g}, best {scores.max():g}) → {out}")


def _export_minari(args) -> None:
    from .cell import resolve_protocol, values
    from .demos.files import load
    from .demos.minari import export

    demos = load(args.demos, args.game, values(resolve_protocol(_config(args))))
    export(demos, args.dataset, args.root)
    print(f"{args.demos} → Minari dataset {args.dataset}")


def _random(args) -> None:
    from .cell import resolve_protocol, values
    from .demos.files import random_scores
    from .io import write_csv

    scores = random_scores(args.game, values(resolve_protocol(_config(args))), args.episodes, args.seed)
    if args.out:
        write_csv(args.out, scores)
    print(f"{args.game}: random play scores {scores['score'].mean():.1f} on average over {len(scores)} "
          f"episodes (worst {scores['score'].min():g}, best {scores['score'].max():g})")


def _train(args) -> None:
    from .cell import resolve, setting
    from .numerics import pin

    config = _config(args)
    # The numerics setting pins the CPU kernels through variables each library reads as it loads: set before
    # anything loads torch or numpy (resolve() loads numpy, the device check torch).
    pin(setting(args.method, "numerics", config), args.threads, args.device)
    check_device(args.device)
    from .run import Run

    cell = resolve(args.game, args.method, args.seed, config)
    run = Run(cell, args.out, args.demos, args.threads, args.device, args.checkpoint_dir,
              60.0 * args.checkpoint_every_min, args.tensorboard)
    try:
        summary = run.execute()
    except NonFiniteError as error:
        kept = run.checkpoints.files()
        raise NonFiniteError(f"{error}; the last good checkpoint is {kept[-1]}" if kept else str(error))
    print(f"{args.game}/{args.method}/seed {args.seed}: evaluation score {summary['eval_score_mean']:.1f} "
          f"over {summary['eval_episodes']} episodes, {summary['wall_s']:.0f} s")


# What each command of the parser runs; every command is named here, none is reached by falling through.
COMMANDS = {"games": _games, "settings-docs": _settings_docs, **dict.fromkeys(DEMO_SOURCES, _demo_file),
            "export-minari": _export_minari, "random": _random, "train": _train}


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in COMMANDS:  # a command the parser offers but nothing here runs
        parser.error(f"command {args.command!r} is not implemented; implemented: {', '.join(COMMANDS)}")
    check_thread_environment()  # before anything loads torch
    try:
        check_arguments(args)
        COMMANDS[args.command](args)
    except (ConfigError, DemoFileError, OutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NonFiniteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
