import csv
import glob
import json
import os
import shlex
import sys
from pathlib import Path

from agents.cell import resolve, values
from agents.config_file import check_finite_numbers
from agents.demos.scripted import DEMONSTRATORS
from agents.errors import ConfigError, OutputError
from agents.io import check_folder
from agents.matrix import NO_DEMOS, SCRIPTED, demo_sets, expand_sweeps
from agents.methods import ALGORITHMS
from agents.renames import old_names
from agents.replay import replay_bytes
from agents.rules import planned_updates
from agents.settings import Settings
from analysis.figure_files import figure_files

# Sweeps become methods of their own (dqfd_margin_0p4, ...), so they plan, run and report like any method.
# Demo sets are an axis of the matrix like seeds: each method that uses demonstrations runs on every set.
# The schema lets NaN and infinity through (NaN compares false with every bound), so numbers are checked here too.
try:
    check_finite_numbers(config)
    config.update(expand_sweeps(config))
    DEMO_SETS = demo_sets(config)
except ConfigError as error:
    refuse(f"config error: {error}")
REFERENCE_DEMOS = next(iter(DEMO_SETS))  # the set the main tables, curves and claims use
RESULTS = config["results_dir"]
# `snakemake figures` rebuilds tables and figures from the runs already stored: the rules that record demonstrations
# and train are left out of the workflow, so nothing trains, and the cells without a complete run are listed in
# tables/missing_runs.md. (Snakemake has not parsed its targets when the Snakefile runs, hence the command line.)
FROM_STORED_RUNS = "figures" in sys.argv[1:]
# Every output is RESULTS/...: an empty results_dir, like "/", would put them at the root of the file system.
if not RESULTS.strip() or os.path.dirname(os.path.abspath(RESULTS)) == os.path.abspath(RESULTS):
    refuse(f"config error: results_dir={RESULTS!r} puts the outputs at the root of the file system; name "
           "a folder such as results/<config>")
if not FROM_STORED_RUNS and Path(os.path.abspath(RESULTS)).is_relative_to(os.path.join(workflow.basedir, "reference")):
    refuse(f"config error: results_dir={RESULTS} is among the committed reference results, which only "
           "`snakemake figures` rebuilds; train into results/<config> and publish the runs with "
           "`python -m analysis publish`")
try:
    check_folder(RESULTS, "results_dir")
except OutputError as error:
    refuse(f"config error: {error}")
# Records written before names changed (scripted_eps0_ep5 is now scripted_noise0_ep5) are not found under today's
# names, so their cells would run again beside them: they are migrated first.
OLD_NAMED = old_names(RESULTS)
if OLD_NAMED:
    refuse(f"{RESULTS} holds records under the suite's old names ({OLD_NAMED[0]}, ...); bring them to "
           f"today's with `python -m analysis migrate --results {RESULTS}`, then run this again")
GAMES, METHODS, SEEDS = config["games"], config["methods"], config["seeds"]
RUN_DIR = f"{RESULTS}/runs/{{game}}/{{method}}/{{demos}}/seed_{{seed}}"
# Checkpoints are not outputs: Snakemake leaves them alone when a job dies, so the rerun resumes from them. On a
# cluster without a shared disk the Snakemake profile points them at a persistent volume (profiles/kubernetes).
SUITE_ENV = "../envs/suite.yaml"  # relative to rules/
CHECKPOINT_ROOT = config.get("checkpoint_root") or f"{RESULTS}/checkpoints"
# `tensorboard: true`: every training job writes its scalars under RESULTS/tensorboard/<game>/<method>/<demos>/seed_<n>
# (agents/board.py). Passed in the environment, not on the train rule's command line: Snakemake reruns a job whose
# command or parameters changed, and switching TensorBoard on or off must not retrain a finished matrix. Jobs inherit
# this process's environment, and a cluster job's Snakemake reads this file again before its command runs.
from agents.board import ENVIRONMENT as TENSORBOARD_ENVIRONMENT, require as require_tensorboard

if config.get("tensorboard") and not FROM_STORED_RUNS:  # `snakemake figures` trains nothing
    try:
        require_tensorboard("config error: tensorboard: true")
    except ConfigError as error:
        refuse(str(error))
    os.environ[TENSORBOARD_ENVIRONMENT] = f"{RESULTS}/tensorboard"
else:
    os.environ.pop(TENSORBOARD_ENVIRONMENT, None)  # the config decides, not a variable left in the user's shell


wildcard_constraints:
    game="[A-Za-z0-9]+",
    method="[A-Za-z0-9_]+",
    demos="[A-Za-z0-9_]+",
    seed="[0-9]+",


def cell_config(method):
    """The part of the config that one method's cells depend on. Passing only this as a parameter means that adding
    or editing another method leaves these cells' parameters, and so their outputs, untouched."""
    cell = {key: config.get(key) for key in ("protocol", "protocol_overrides", "settings")}
    cell["method_settings"] = {method: (config.get("method_settings") or {}).get(method) or {}}
    own = (config.get("method_definitions") or {}).get(method)
    cell["method_definitions"] = {method: own} if own else {}
    return cell


def demo_config():
    """The part of the config that demonstrations and random play depend on: the protocol they are recorded under."""
    return {key: config.get(key) for key in ("protocol", "protocol_overrides")}


# Resolve and check every cell now, so a bad config stops the workflow before any job starts.
try:
    RESOLVED = {(game, method, seed): resolve(game, method, seed, cell_config(method))
                for game in GAMES for method in METHODS for seed in SEEDS}
except ConfigError as error:
    refuse(f"config error: {error}")

# Portable numerics compute on one CPU thread (agents/numerics.py): a training job's request must be one.
PORTABLE = sorted({method for (_, method, _), cell in RESOLVED.items()
                   if Settings.of(cell["settings"]).numerics == "portable"})
if PORTABLE and (config["resources"]["threads_per_run"] != 1 or config["resources"]["gpus_per_run"] > 0):
    refuse(f"config error: {', '.join(PORTABLE)} run numerics: portable, which compute on one CPU thread "
           f"and no GPU, and resources ask threads_per_run: {config['resources']['threads_per_run']}, "
           f"gpus_per_run: {config['resources']['gpus_per_run']}; set them to 1 and 0, or numerics: "
           "native")
USES_DEMOS = {method: Settings.of(RESOLVED[(GAMES[0], method, SEEDS[0])]["settings"]).use_demos for method in METHODS}
CELLS = {(game, method, demos, seed): RESOLVED[(game, method, seed)]
         for game in GAMES for method in METHODS for demos in (DEMO_SETS if USES_DEMOS[method] else [NO_DEMOS])
         for seed in SEEDS}
DEMO_GAMES = sorted({game for game in GAMES for method in METHODS if USES_DEMOS[method]})
DEMO_LIBRARY = config["demos"]["library"]


def demo_source_file(game, demos):
    """The file a demo set is cut from, for sources other than the scripted demonstrator."""
    source = DEMO_SETS[demos]["source"]
    return None if source == SCRIPTED else f"{DEMO_LIBRARY}/{source}/{game}.npz"


for game in DEMO_GAMES:
    needing = ", ".join(method for method in METHODS if USES_DEMOS[method])
    for demos, demo_set in DEMO_SETS.items():
        source_file = demo_source_file(game, demos)
        if source_file is None and game not in DEMONSTRATORS:
            refuse(
                f"config error: {needing} need demonstrations but no demonstrator exists for {game}; "
                f"demonstrators exist for {', '.join(DEMONSTRATORS)}; or give {game} a demo file source"
            )
        if source_file and not FROM_STORED_RUNS and not os.path.isfile(source_file):
            refuse(
                f"config error: demo set {demos} needs {source_file}; record it with `python -m agents record "
                f"--game {game} --out {source_file}` or import it (python -m agents import-atari-head/import-minari)"
            )


# Job resources, derived from each cell's config so that a cluster scheduler gets a fitting request.
TRAIN_OVERHEAD_MB = 2048  # torch, the emulator, a demo file being loaded, a checkpoint being written


def cell_settings(wildcards):
    cell = RESOLVED[(wildcards.game, wildcards.method, int(wildcards.seed))]
    return Settings.of(cell["settings"]), values(cell["protocol"])


def train_mem_mb(wildcards):
    """The replay's exact size (demo slots bounded by the episode frame cap) plus a fixed overhead."""
    settings, protocol = cell_settings(wildcards)
    demo_slots = 0
    if settings.use_demos:
        episodes = DEMO_SETS[wildcards.demos]["episodes"]
        demo_slots = episodes * (protocol["max_episode_frames"] // protocol["frame_skip"] + 1)
    agent_slots = settings.replay_capacity if settings.agent_steps > 0 else 0
    size = replay_bytes(demo_slots + agent_slots, (protocol["screen_size"], protocol["screen_size"]))
    return TRAIN_OVERHEAD_MB + size // 2**20


def train_runtime_min(wildcards):
    """Updates dominate the cost; the rate is the config's declared `updates_per_s`, the margin covers evaluation."""
    settings, _ = cell_settings(wildcards)
    algorithm = RESOLVED[(wildcards.game, wildcards.method, int(wildcards.seed))]["algorithm"]
    return 15 + int(1.5 * planned_updates(settings, algorithm) / config["resources"]["updates_per_s"] / 60)


def demo_input(wildcards):
    return [] if wildcards.demos == NO_DEMOS else [f"{RESULTS}/demos/{wildcards.game}/{wildcards.demos}.npz"]


def report_failed_cells():
    from analysis.failures import report

    return report(RESULTS, list(CELLS))


# Analysis (rules/analysis.smk).
TABLES, FIGURES = f"{RESULTS}/tables", f"{RESULTS}/figures"


def figure_outputs(name, png, caption):
    """A figure's outputs: its double-column PNG under `name`, which the report shows with its caption (relative to
    rules/), and the files written beside it (its PDF, the single-column PNG and PDF: analysis/figure_files.py) under
    name_<key>."""
    return {name: report(png, caption=caption, category="Figures"),
            **{f"{name}_{key}": str(path) for key, (_, path) in figure_files(png).items() if key != "png"}}

CELL_IDS = [f"{game}/{method}/{demos}/{seed}" for game, method, demos, seed in CELLS]


def demo_phase_end(cell):
    return ALGORITHMS[cell["algorithm"]](Settings.of(cell["settings"])).demo_phase_end()


# Methods whose demonstrations stop shaping the updates during interaction (soft-Q's N_p) get the transition view.
PHASED_METHODS = [method for method in METHODS if any(demo_phase_end(RESOLVED[(game, method, SEEDS[0])]) > 0
                                                       for game in GAMES)]
# Methods that interact with the game get learning curves; a matrix of pretraining only (the transfer config) has none.
INTERACTING_METHODS = [method for method in METHODS
                       if any(Settings.of(RESOLVED[(game, method, SEEDS[0])]["settings"]).agent_steps > 0
                              for game in GAMES)]
# Methods evaluated greedily along interaction get the curve of those evaluations.
GREEDY_METHODS = [method for method in INTERACTING_METHODS
                  if any(Settings.of(RESOLVED[(game, method, SEEDS[0])]["settings"]).interaction_eval_every > 0
                         for game in GAMES)]
# Methods evaluated along their pretraining (the transfer study's ladder) get the transfer table and figure.
LADDER_METHODS = [method for method in METHODS
                  if Settings.of(RESOLVED[(GAMES[0], method, SEEDS[0])]["settings"]).pretrain_eval_updates]
PUBLISHED = config["published_scores"]
if not os.path.isfile(PUBLISHED):
    refuse(f"config error: published_scores={PUBLISHED} is not a file; point it at a table of published "
           "scores such as config/published_scores.csv")
# Published Atari 100k scores shown beside ours as context (analysis/anchors.py): checked now, so a missing or malformed
# table stops the workflow before any job starts rather than at the end of a long run.
ANCHORS = config.get("anchors") or None
if ANCHORS:
    from analysis.anchors import AnchorsError, read_anchors

    try:
        read_anchors(ANCHORS)
    except AnchorsError as error:
        refuse(f"config error: anchors={ANCHORS} {error}")
# The analysis code is an input: editing it rebuilds the tables and figures (Snakemake tracks only rule code itself).
ANALYSIS_CODE = sorted(glob.glob(os.path.join(workflow.basedir, "analysis", "*.py")))


COMPLETE = {(g, m, d, s) for g, m, d, s in CELLS
            if os.path.isfile(f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/summary.json")}
if FROM_STORED_RUNS and not COMPLETE:
    refuse(f"no stored run of this matrix under {RESULTS}/runs: `snakemake figures` only rebuilds tables and "
           "figures from runs; run `snakemake --cores N` first")


def listed_missing(path):
    """The cells a missing-runs table lists, or None where there is none."""
    if not os.path.isfile(path):
        return None
    with open(path, newline="") as table:
        return {(row["game"], row["method"], row["demos"], int(row["seed"])) for row in csv.DictReader(table)}


# A missing-runs table that disagrees with the run folders is out of date whatever Snakemake's metadata says (a results
# folder copied without .snakemake/, a seed added, a summary.json removed): dating it to 1970 has Snakemake's own
# file-time rule rebuild it and everything drawn from it, so the tables never claim a cell that has no summary.json.
if listed_missing(f"{TABLES}/missing_runs.csv") not in (None, set(CELLS) - COMPLETE):
    os.utime(f"{TABLES}/missing_runs.csv", (1, 1))  # not 0: Snakemake reads a time of 0 as no time at all


def stored(paths):
    """With `snakemake figures`, only the files already there: nothing trains, missing cells are listed instead."""
    return [path for path in paths if os.path.isfile(path)] if FROM_STORED_RUNS else paths
