"""Command line: `python -m agents {games,demos,train} …`; every subcommand checks its input before computing."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from .errors import ConfigError, DemoFileError, NonFiniteError


def _profile(args) -> dict:
    profile = {}
    if args.profile:
        profile = yaml.safe_load(Path(args.profile).read_text()) or {}
    if args.profile_json:
        for key, value in json.loads(args.profile_json).items():
            # Mappings (settings, method_settings, ...) merge key by key, so --profile-json can adjust a profile.
            if isinstance(value, dict) and isinstance(profile.get(key), dict):
                profile[key] = {**profile[key], **value}
            else:
                profile[key] = value
    return profile


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agents", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("games", help="list the ALE games that can be named in config")

    demos = commands.add_parser("demos", help="record demonstrations of a scripted demonstrator")
    demos.add_argument("--game", required=True)
    demos.add_argument("--episodes", type=int, required=True)
    demos.add_argument("--seed", type=int, default=0)
    demos.add_argument("--epsilon", type=float, default=0.0,
                       help="probability of replacing each demonstrator action by a random one (demo quality)")
    demos.add_argument("--out", required=True, help="demo file to write (.npz)")
    demos.add_argument("--stats", help="per-episode score table (.csv); default: beside --out")

    random = commands.add_parser("random", help="score uniformly random play, the floor for a demonstrator")
    random.add_argument("--game", required=True)
    random.add_argument("--episodes", type=int, default=10)
    random.add_argument("--seed", type=int, default=0)
    random.add_argument("--out", help="per-episode scores (.csv)")

    train = commands.add_parser("train", help="run one cell of the matrix: game × method × seed → run folder")
    train.add_argument("--game", required=True)
    train.add_argument("--method", required=True)
    train.add_argument("--seed", type=int, required=True)
    train.add_argument("--demos", help="demonstration file, for methods that use demonstrations")
    train.add_argument("--out", required=True, help="run folder")
    train.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    train.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    train.add_argument("--checkpoint-dir", help="where checkpoints go; default: RUN_FOLDER/checkpoints")
    train.add_argument("--checkpoint-every-min", type=float, default=10.0,
                       help="minutes between checkpoints; a rerun of a killed run resumes from the last one")
    for sub in (demos, random, train):
        sub.add_argument("--profile", help="workflow config file (YAML) whose settings apply")
        sub.add_argument("--profile-json", help="the same as a JSON string (the workflow passes this)")

    args = parser.parse_args(argv)
    try:
        if args.command == "games":
            from .envs import known_games

            print("\n".join(known_games()))
        elif args.command == "demos":
            from .config import resolve_protocol, values
            from .demos import record

            protocol = values(resolve_protocol(_profile(args)))
            stats = args.stats or str(Path(args.out).with_suffix(".stats.csv"))
            demos = record(args.game, protocol, args.episodes, args.seed, args.out, stats, args.epsilon)
            scores = demos.episodes["score"]
            print(f"{args.game}: {len(scores)} episodes, {demos.num_transitions} transitions, "
                  f"score mean {scores.mean():.1f} (worst {scores.min():g}, best {scores.max():g})")
        elif args.command == "random":
            from .config import resolve_protocol, values
            from .demos import random_scores
            from .io import write_csv

            scores = random_scores(args.game, values(resolve_protocol(_profile(args))), args.episodes, args.seed)
            if args.out:
                write_csv(args.out, scores)
            print(f"{args.game}: random play scores {scores['score'].mean():.1f} on average over {len(scores)} "
                  f"episodes (worst {scores['score'].min():g}, best {scores['score'].max():g})")
        elif args.command == "train":
            from .config import resolve
            from .trainer import Trainer

            cell = resolve(args.game, args.method, args.seed, _profile(args))
            trainer = Trainer(cell, args.out, args.demos, args.threads, args.device,
                              args.checkpoint_dir, 60.0 * args.checkpoint_every_min)
            try:
                summary = trainer.run()
            except NonFiniteError as error:
                kept = trainer.checkpoints.files()
                raise NonFiniteError(f"{error}; the last good checkpoint is {kept[-1]}" if kept else str(error))
            print(f"{args.game}/{args.method}/seed {args.seed}: evaluation score {summary['eval_score_mean']:.1f} "
                  f"over {summary['eval_episodes']} episodes, {summary['wall_s']:.0f} s")
    except (ConfigError, DemoFileError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except NonFiniteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
