"""Every bad input is refused with one line that says what is wrong and how to fix it, before training starts.

The cases below are also the table in docs/bad_inputs.md: the last test checks that the table shows exactly what these
cases print. After changing a case or a message, regenerate it with
    UPDATE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents.__main__ import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs/bad_inputs.md"
SHORT = {"protocol_overrides": {"max_episode_frames": 400}}  # the demo fixture's protocol


def settings(**values):
    return {**SHORT, "settings": values}


# (bad input, how it is given, command-line arguments after `python -m agents`, config, fragment of the message)
# A config of None passes no --config-json. DEMO stands for a valid Pong demo file of the test protocol; the other
# upper-case arguments are the files the `demo_files` fixture makes.
CLI_CASES = [
    ("unknown game", "--game Pongg", ["train", "--game", "Pongg", "--method", "pdd_dqn"], SHORT, "unknown game"),
    ("unknown method", "--method dqnn", ["train", "--game", "Pong", "--method", "dqnn"], SHORT, "unknown method"),
    ("unknown protocol", "protocol: nature2015", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     {"protocol": "nature2015"}, "unknown protocol"),
    ("misspelt setting", "settings: {lerning_rate: 1e-4}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(lerning_rate=1e-4), "unknown setting 'lerning_rate'"),
    ("value out of range", "settings: {gamma: 1.5}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(gamma=1.5), "must be in [0, 1]"),
    ("negative value", "settings: {margin: -0.8}", ["train", "--game", "Pong", "--method", "dqfd"],
     settings(margin=-0.8), "must be >= 0"),
    ("wrong type", "settings: {learning_rate: fast}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(learning_rate="fast"), "must be a number"),
    ("unknown choice", "settings: {td_loss: l1}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(td_loss="l1"), "is not one of huber, mse"),
    ("setting as a mapping without a value", "settings: {gamma: {origin: x}}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], settings(gamma={"origin": "x"}), "needs a 'value' key"),
    ("learning rate that is not a number", "settings: {learning_rate: .nan}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], settings(learning_rate=math.nan),
     "learning_rate=nan in config settings must be a finite number > 0"),
    ("infinite value", "settings: {learning_rate: .inf}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(learning_rate=math.inf), "learning_rate=inf in config settings must be a finite number > 0"),
    ("screen smaller than the network takes", "protocol_overrides: {screen_size: 20}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"],
     {"protocol_overrides": {**SHORT["protocol_overrides"], "screen_size": 20}}, "smaller than the 36 pixels"),
    ("replay that keeps no transition", "settings: {replay_capacity: 0}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], settings(replay_capacity=0), "replay_capacity=0 keeps none"),
    ("batch larger than the replay", "settings: {batch_size: 64, replay_capacity: 32}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], settings(batch_size=64, replay_capacity=32),
     "batch_size=64 of method 'pdd_dqn' exceeds replay_capacity=32"),
    ("demonstrations missing for a method that needs them", "dqfd without --demos",
     ["train", "--game", "Pong", "--method", "dqfd"], SHORT, "uses demonstrations; pass --demos"),
    ("demo file does not exist", "--demos missing.npz",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "MISSING"], SHORT, "does not exist"),
    ("demo file corrupt", "--demos with random bytes",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "CORRUPT"], SHORT, "is corrupt or truncated"),
    ("demo file truncated", "--demos cut to half its size",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "TRUNCATED"], SHORT, "corrupt or truncated"),
    ("demo file of another game", "Pong demos for a Breakout run",
     ["train", "--game", "Breakout", "--method", "dqfd", "--demos", "DEMO"], SHORT, "holds Pong demonstrations"),
    ("demo file recorded under other settings", "demos of 400-frame episodes, run with the default cap",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "DEMO"], {},
     "was recorded under other environment settings"),
    ("replay that does not fit in memory", "settings: {replay_capacity: 100000000}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], settings(replay_capacity=100_000_000),
     "lower replay_capacity in the config"),
    ("demo action noise that is not a probability", "demos --noise 1.5",
     ["demos", "--game", "Pong", "--episodes", "1", "--noise", "1.5"], SHORT, "is not a probability"),
    ("no demonstrator for the game", "demos --game Seaquest",
     ["demos", "--game", "Seaquest", "--episodes", "1"], SHORT, "no demonstrator for 'Seaquest'"),
    ("demo frames that are not grey levels", "--demos with float32 frames in [0, 1]",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "FLOAT_FRAMES"], SHORT,
     "frames are float32 with values in [0"),
    ("demo action outside the action set", "--demos with an action of -1",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "NEGATIVE_ACTION"], SHORT,
     "actions hold ids from -1 to"),
    ("demo reward that is not finite", "--demos with a NaN reward",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "NAN_REWARD"], SHORT, "NaN or infinite"),
    ("demo flags that are not booleans", "--demos with an integer has_action array",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "INTEGER_HAS_ACTION"], SHORT,
     "has_action has dtype int64"),
    ("demo metadata that is not an object", "--demos whose metadata is a JSON list",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "METADATA_LIST"], SHORT, "its metadata is a list"),
    ("demo metadata of the wrong type", "--demos whose metadata has env: \"dqfd2018\"",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "METADATA_ENV_NAME"], SHORT, "'env' is a string"),
    ("demo metadata without its keys", "--demos whose metadata lacks game and demonstrator",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "METADATA_WITHOUT_KEYS"], SHORT,
     "the metadata lacks game, demonstrator"),
    ("config file that does not exist", "--config missing.yaml",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--config", "MISSING_YAML"], None,
     "does not exist; pass a workflow config file"),
    ("config file that is not valid YAML", "--config with a line indented too far",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--config", "INVALID_YAML"], None,
     "is not valid YAML at line 4"),
    ("config file that is a list", "--config whose top level is a list",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--config", "LIST_YAML"], None,
     "holds a list at its top level"),
    ("--config-json that is not JSON", "--config-json '{settings: {}}'",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--config-json", "{settings: {}}"], None,
     "--config-json is not valid JSON"),
    ("--config-json that is not an object", "--config-json '[\"Pong\"]'",
     ["random", "--game", "Pong", "--config-json", '["Pong"]'], None, "--config-json holds a list"),
    ("no episodes to record", "demos --episodes 0", ["demos", "--game", "Pong", "--episodes", "0"], SHORT,
     "--episodes 0: the number of episodes must be 1 or more"),
    ("no episodes to take from a file", "demos --episodes 0 --from FILE",
     ["demos", "--game", "Pong", "--episodes", "0", "--from", "DEMO"], SHORT, "--episodes 0"),
    ("no episodes of random play", "random --episodes 0", ["random", "--game", "Pong", "--episodes", "0"], SHORT,
     "--episodes 0"),
    ("no episodes to play by hand", "record --episodes 0", ["record", "--game", "Pong", "--episodes", "0"], SHORT,
     "--episodes 0"),
    ("Atari-HEAD stride below 1", "import-atari-head --stride 0",
     ["import-atari-head", "--game", "Pong", "--table", "trial.txt", "--frames", "trial.tar.bz2", "--stride", "0"],
     SHORT, "--stride 0: the k of every k-th row must be 1 or more"),
    ("negative seed", "random --seed -1", ["random", "--game", "Pong", "--seed", "-1"], SHORT,
     "a seed must be a whole number from 0 to 4,294,967,295"),
    ("seed beyond the seed range", "train --seed 2**70",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--seed", str(2**70)], SHORT, "from 0 to 4,294,967,295"),
    ("an index on the CPU", "train --device cpu:1",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--device", "cpu:1"], SHORT, "the CPU takes no index"),
    ("demonstrations for a method without them", "pdd_dqn with --demos",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--demos", "DEMO"], SHORT,
     "learns without demonstrations, so --demos"),
    ("demo file without a transition", "--demos whose episodes end at their first frame",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "NO_TRANSITION"], SHORT, "holds no transition"),
    ("demo file with fewer transitions than a batch", "--demos with one transition",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "ONE_TRANSITION"], SHORT,
     "holds 1 transition, fewer than one batch (batch_size=32)"),
    ("demo path that is a folder", "--demos naming a folder",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "FOLDER"], SHORT, "is a folder; pass the demo file"),
    ("demo path that is a pipe", "--demos naming a FIFO",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "FIFO"], SHORT, "is not a regular file"),
    ("demo file that is a single array", "--demos naming an .npy file",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "NPY"], SHORT, "holds a single NumPy array (.npy)"),
    ("more threads than cores", "train --threads 10000",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--threads", "10000"], SHORT, "--threads 10000: this process "
     "may use"),
    ("key given twice in a config file", "--config with two settings: blocks",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--config", "DUPLICATE_YAML"], None,
     "gives 'settings' twice in one mapping, at lines 2 and 4"),
    ("unknown game for random play", "random --game Pongg", ["random", "--game", "Pongg"], SHORT, "unknown game"),
    ("no CPU threads", "train --threads 0", ["train", "--game", "Pong", "--method", "pdd_dqn", "--threads", "0"],
     SHORT, "--threads 0: the number of CPU threads must be 1 or more"),
    ("CUDA on a machine without it", "train --device cuda",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--device", "cuda"], SHORT, "CUDA is not available"),
    ("unknown device", "train --device gpu", ["train", "--game", "Pong", "--method", "pdd_dqn", "--device", "gpu"],
     SHORT, "is not a device this suite runs on"),
    ("settings that are not a mapping", "settings: 5", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     {"settings": 5}, "config settings is an int"),
    ("method settings that are not a mapping", "method_settings: 3", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     {"method_settings": 3}, "config method_settings is an int"),
    ("method definitions that are not a mapping", "method_definitions: [dqfd]",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], {"method_definitions": ["dqfd"]},
     "config method_definitions is a list"),
    ("greedy evaluations along interaction without episodes",
     "settings: {interaction_eval_every: 100, interaction_eval_episodes: 0}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(interaction_eval_every=100, interaction_eval_episodes=0),
     "interaction_eval_episodes=0 in config settings must be >= 1"),
    ("greedy evaluations along interaction beyond it", "settings: {agent_steps: 1000, interaction_eval_every: 5000}",
     ["train", "--game", "Pong", "--method", "dqfd", "--demos", "DEMO"],
     settings(agent_steps=1000, interaction_eval_every=5000),
     "is longer than its agent_steps=1000"),
    ("unknown numerics", "settings: {numerics: exact}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(numerics="exact"), "numerics='exact' in config settings is not one of native, portable"),
    ("portable numerics on CUDA", "settings: {numerics: portable} with --device cuda",
     ["train", "--game", "Pong", "--method", "pdd_dqn", "--device", "cuda"], settings(numerics="portable"),
     "numerics: portable pins CPU kernels, and --device cuda computes on CUDA"),
    ("DAgger on a game without a scripted demonstrator", "--game Seaquest --method dagger",
     ["train", "--game", "Seaquest", "--method", "dagger"], SHORT, "Seaquest has none; run it on a game with one"),
    ("DAgger iterations of no agent steps", "settings: {dagger_iteration_steps: 0}",
     ["train", "--game", "Pong", "--method", "dagger"], settings(dagger_iteration_steps=0),
     "dagger_iteration_steps=0 in config settings must be >= 1"),
    ("DAgger's β schedule outside [0, 1]", "settings: {dagger_beta_decay: 1.5}",
     ["train", "--game", "Pong", "--method", "dagger"], settings(dagger_beta_decay=1.5),
     "dagger_beta_decay=1.5 in config settings must be in [0, 1]"),
    ("pretrain & finetune without demonstrations", "method_settings: {bc_finetune: {use_demos: false}}",
     ["train", "--game", "Pong", "--method", "bc_finetune"],
     {**SHORT, "method_settings": {"bc_finetune": {"use_demos": False}}},
     "pretrains by cloning demonstrations before it finetunes; set use_demos: true"),
    ("Ape-X DQfD with an expert share outside [0, 1]", "settings: {demo_share: 1.5}",
     ["train", "--game", "Pong", "--method", "apex_dqfd"], settings(demo_share=1.5),
     "demo_share=1.5 in config settings must be in [0, 0.99]"),
]

# (bad input, how it is given, what is prepared): where a run would write, refused before anything is computed.
OUTPUT_CASES = [
    ("run folder that is a file", "--out naming an existing file", "FILE"),
    ("run folder inside a file", "--out under an existing file", "UNDER_FILE"),
    ("checkpoint folder that is a file", "--checkpoint-dir naming an existing file", "CHECKPOINTS_FILE"),
    ("read-only place", "--out on a read-only file system (simulated)", "READ_ONLY"),
    ("too little free space", "--out on a disk with 20 MiB free (simulated)", "FULL_DISK"),
    ("replay beyond the process's memory limit", "under ulimit -v 4 GiB (simulated)", "ADDRESS_LIMIT"),
    ("run folder that holds another cell's records", "--out naming a complete Breakout run's folder",
     "ANOTHER_CELLS_RECORDS"),
    ("checkpoint folder that holds another cell's checkpoints", "--checkpoint-dir of a killed Breakout run",
     "ANOTHER_CELLS_CHECKPOINTS"),
]

# (bad input, the workflow config overlay laid over config/tiny.yaml, fragment of the message)
WORKFLOW_CASES = [
    ("seed of the wrong type", {"seeds": ["zero"]}, "'zero' is not of type 'integer'"),
    ("unknown key in the workflow config", {"seed": [0]}, "Additional properties are not allowed ('seed' was"),
    ("unknown method in the matrix", {"methods": ["dqfd", "dqnn"]}, "unknown method 'dqnn'"),
    ("game without a demonstrator, for a method that needs demonstrations", {"games": ["Seaquest"]},
     "no demonstrator exists for Seaquest"),
    ("bad value in a method's settings", {"method_settings": {"dqfd": {"n_step": 0}}}, "n_step=0"),
    ("learning rate that is not a number", {"settings": {"learning_rate": math.nan}}, "learning_rate=nan"),
    ("infinite value", {"settings": {"learning_rate": math.inf}}, "learning_rate=inf"),
    ("screen smaller than the network takes", {"protocol_overrides": {"screen_size": 20}}, "screen_size=20"),
    ("replay that keeps no transition", {"method_settings": {"pdd_dqn": {"replay_capacity": 0}}},
     "replay_capacity=0 keeps none"),
    ("batch larger than the replay", {"settings": {"batch_size": 4096}}, "exceeds replay_capacity=2000"),
    ("workflow number that is not finite", {"window_fraction": math.nan}, "window_fraction=nan"),
    ("ledger error rate above one half", {"error_rate": 0.7}, "0.7 is greater than the maximum of 0.5"),
    ("infinite training speed", {"resources": {"updates_per_s": math.inf}}, "resources.updates_per_s=inf"),
    ("no CPU threads for a training job", {"resources": {"threads_per_run": 0}}, "0 is less than the minimum of 1"),
    ("seed beyond the seed range", {"seeds": [2**70]}, "is greater than the maximum of 4294967295"),
    ("empty results folder", {"results_dir": ""}, "results_dir='' puts the outputs at the root of the file system"),
    ("results folder at the root", {"results_dir": "/"}, "results_dir='/' puts the outputs at the root"),
    ("results folder that is a file", {"results_dir": "config/tiny.yaml"}, "results_dir config/tiny.yaml is a file"),
    ("training into the committed reference results", {"results_dir": "reference/default"},
     "is among the committed reference results"),
    ("published scores that do not exist", {"published_scores": "config/missing.csv"},
     "published_scores=config/missing.csv is not a file"),
    ("anchors that do not exist", {"anchors": "config/missing.csv"}, "anchors=config/missing.csv is not a file"),
    ("anchors table of another kind", {"anchors": "config/published_scores.csv"},
     "anchors=config/published_scores.csv lacks the columns agent, statistic, protocol"),
    ("key given twice in a workflow config", "settings:\n  gamma: {value: 0.9}\nsettings:\n  margin: {value: 0.5}\n",
     "config file bad.yaml gives 'settings' twice in one mapping, at lines 1 and 3"),
    ("tab in the workflow's base config", ("config/config.yaml", "seeds:\n\t- 0\n"),
     "config file config/config.yaml is not valid YAML at line"),
    ("portable numerics with the compiled loss", {"settings": {"numerics": "portable", "compile": "always"}},
     "has numerics: portable and compile: always"),
    ("portable numerics on several threads",
     {"settings": {"numerics": "portable"}, "resources": {"threads_per_run": 2}},
     "run numerics: portable, which compute on one CPU thread"),
    ("DAgger on a game without a scripted demonstrator", {"games": ["Seaquest"], "methods": ["dagger"]},
     "method 'dagger' asks the game's scripted demonstrator to label the states it reaches, and Seaquest has none"),
]


# (input, how it is given, what the suite does, the test that shows it): inputs that are handled rather than refused,
# or refused where the table's cases cannot set them up (a second run while the first is running).
HANDLED = [
    ("results folder copied without Snakemake's records (.snakemake/)", "a seed added to the config",
     "the new seed's cells train, and only they; tables/missing_runs.md is rebuilt whenever it disagrees with the run "
     "folders, so it never claims a cell without summary.json",
     "test_workflow.py::test_a_results_folder_copied_without_snakemake_records_plans_exactly_the_new_cells"),
    ("config file of a cell rerun by hand", "`python -m agents train --config config/tiny.yaml`",
     "laid over config/config.yaml as the workflow lays it, so the cell is the workflow's; it prints `config: "
     "config/tiny.yaml laid over config/config.yaml, as the workflow lays it` (away from the repository, that it uses "
     "the file alone and how to get the workflow's cell)",
     "test_config.py::test_a_config_file_is_laid_over_the_workflows_base_as_the_workflow_lays_it"),
    ("matrix of methods without demonstrations", "`snakemake` with `{\"methods\": [\"pdd_dqn\"]}`",
     "every table and figure is made; aggregates.md and the across-game figures say that the runs have no "
     "demonstrator baseline, and the raw scores are in scores.md",
     "test_workflow.py::test_a_matrix_without_demonstrations_in_a_folder_with_a_space_runs_end_to_end"),
    ("results folder with a space", "`snakemake` with `{\"results_dir\": \"results/no demos\"}`",
     "every path in the rules' commands is quoted",
     "test_workflow.py::test_a_matrix_without_demonstrations_in_a_folder_with_a_space_runs_end_to_end"),
    ("list on Snakemake's command line", "`snakemake --config seeds=[0,1]`",
     "typed as a config file types it (Snakemake reads the items as text)",
     "test_bad_inputs.py::test_a_list_on_snakemakes_command_line_is_typed_as_in_a_config_file"),
    ("sweep over a list-valued setting", "`sweeps: [{method: dqfd, setting: pretrain_eval_updates, values: [[5], "
     "[5, 10]]}]`", "one method per list, named by its items (dqfd_pretrain_eval_updates_5_10)",
     "test_bad_inputs.py::test_a_sweep_over_a_list_valued_setting_plans_one_method_per_list"),
    ("something named like a checkpoint that is not one", "a torch file without a fingerprint, or a folder, as "
     "the newest checkpoint", "skipped with a line (`… is not a checkpoint of this suite (it holds no fingerprint); "
     "trying an older one`, `… is named like a checkpoint but is not a file; skipped`); the run trains and ends, rc 0",
     "test_resume.py::test_a_run_over_a_checkpoint_folder_of_junk_trains_and_ends_cleanly"),
    ("no checkpoint that can be resumed", "every checkpoint cut short",
     "`none of the 2 checkpoints in <folder> can be resumed; starting over`",
     "test_resume.py::test_junk_is_skipped_with_a_line_and_nothing_resumable_starts_over"),
    ("two runs on one checkpoint folder at once", "`--checkpoint-dir` of a run still running",
     "the second is refused: `checkpoint folder <folder> is in use by another run now (Pong/dqfd/seed 0 with "
     "Pong.npz); give each run its own --checkpoint-dir`",
     "test_resume.py::test_a_checkpoint_folder_belongs_to_one_cell"),
    ("thread count in the environment that libgomp cannot read", "`OMP_NUM_THREADS=0 python -m agents train …`",
     "dropped before torch loads, saying `OMP_NUM_THREADS='0' is not a whole number of 1 or more; ignored (a run's CPU "
     "threads are --threads)`",
     "test_outputs.py::test_an_unreadable_thread_count_in_the_environment_is_dropped_saying_so"),
    ("report before any run", "`snakemake --report report.html` on a fresh clone",
     "refused: `--report packs the tables and figures of results/tiny, and results/tiny/tables/scores.csv and … "
     "do not exist yet; run the matrix first (the same command without --report), then ask for the report`",
     "test_bad_inputs.py::test_a_report_before_any_run_says_what_to_run_first"),
    ("checkpoints as often as possible", "`train --checkpoint-every-min 0`",
     "a checkpoint after every update and agent step (what tests use), said in a line: `--checkpoint-every-min 0: a "
     "checkpoint, the whole replay with it, after every update and agent step; expect a much slower run …`",
     "test_outputs.py::test_an_unreadable_thread_count_in_the_environment_is_dropped_saying_so"),
    ("TensorBoard asked of a run without its extra", "`train --tensorboard DIR` where the tensorboard package is not "
     "installed", "refused in one line before anything is computed or written: `--tensorboard DIR: writing TensorBoard "
     "event files needs the tensorboard extra, which is not installed; pip install -e \".[tensorboard]\"`",
     "test_tensorboard.py::test_a_missing_extra_is_refused_in_one_line_before_any_compute"),
    ("TensorBoard asked of the workflow without its extra", "`snakemake --config tensorboard=true` where the "
     "tensorboard package is not installed", "refused while planning, before any job: `config error: tensorboard: "
     "true: writing TensorBoard event files needs the tensorboard extra, …`; `snakemake figures`, which trains "
     "nothing, does not ask for it",
     "test_tensorboard.py::test_the_workflow_refuses_tensorboard_without_the_extra_before_any_job"),
]


def test_every_handled_case_names_a_test_that_exists():
    import importlib

    for *_, test in HANDLED:
        module, name = test.split("::")
        assert callable(getattr(importlib.import_module(module.removesuffix(".py")), name, None)), test


def with_value(name, index, value, dtype):
    """A change to a demo file's arrays: `name` as `dtype`, with `value` at `index`."""
    def change(contents):
        contents[name] = contents[name].astype(dtype)
        contents[name][index] = value
    return change


def without(*keys):
    """A change to a demo file's metadata: `keys` removed."""
    def change(contents):
        for key in keys:
            del contents["metadata"][key]
    return change


# A demo file wrong in one way each: the change made to a valid file's arrays and metadata (under "metadata").
DEMO_VARIANTS = {
    "FLOAT_FRAMES": lambda contents: contents.update(frames=contents["frames"].astype(np.float32) / 255),
    "NEGATIVE_ACTION": with_value("actions", 0, -1, np.int64),
    "NAN_REWARD": with_value("rewards", 0, np.nan, np.float32),
    "INTEGER_HAS_ACTION": lambda contents: contents.update(has_action=contents["has_action"].astype(np.int64)),
    "METADATA_LIST": lambda contents: contents.update(metadata=["Pong"]),
    "METADATA_ENV_NAME": lambda contents: contents["metadata"].update(env="dqfd2018"),
    "METADATA_WITHOUT_KEYS": without("game", "demonstrator"),
}


def demo_variant(source, target, change):
    with np.load(source) as archive:
        contents = {name: archive[name] for name in archive.files}
    contents["metadata"] = json.loads(contents["metadata"].tobytes().decode())
    change(contents)
    contents["metadata"] = np.frombuffer(json.dumps(contents["metadata"]).encode(), dtype=np.uint8)
    np.savez_compressed(target, **contents)


@pytest.fixture(scope="module")
def demo_files(pong_demo_file, short_protocol, tmp_path_factory):
    """The files the cases name, by placeholder: bad demo files and config files (MISSING ones are not made)."""
    from agents.demos.files import Episode, assemble, describe, save

    folder = tmp_path_factory.mktemp("bad_demos")
    data = pong_demo_file.read_bytes()
    (folder / "corrupt.npz").write_bytes(np.random.default_rng(0).bytes(len(data)))
    (folder / "truncated.npz").write_bytes(data[: len(data) // 2])
    files = {"DEMO": pong_demo_file, "CORRUPT": folder / "corrupt.npz", "TRUNCATED": folder / "truncated.npz",
             "MISSING": folder / "missing.npz", "MISSING_YAML": folder / "missing.yaml",
             "INVALID_YAML": folder / "invalid.yaml", "LIST_YAML": folder / "list.yaml"}
    files["INVALID_YAML"].write_text("protocol: dqfd2018\nsettings:\n  gamma: 0.99\n    learning_rate: 1e-4\n")
    files["LIST_YAML"].write_text("- Pong\n- Breakout\n")
    files["DUPLICATE_YAML"] = folder / "duplicate.yaml"
    files["DUPLICATE_YAML"].write_text("protocol: dqfd2018\nsettings:\n  gamma: 0.9\nsettings:\n  margin: 0.5\n")
    files["FOLDER"] = folder / "demos_folder"
    files["FOLDER"].mkdir()
    files["FIFO"] = folder / "fifo.npz"
    os.mkfifo(files["FIFO"])
    files["NPY"] = folder / "frames.npy"
    np.save(files["NPY"], np.zeros((2, 84, 84), dtype=np.uint8))
    frame = np.zeros((84, 84), dtype=np.uint8)
    for placeholder, episode in (("NO_TRANSITION", Episode([frame], [], [], False)),
                                 ("ONE_TRANSITION", Episode([frame, frame], [0], [0.0], False))):
        files[placeholder] = folder / f"{placeholder.lower()}.npz"
        save(assemble([episode], describe("Pong", short_protocol, "scripted", "test")), files[placeholder])
    for placeholder, change in DEMO_VARIANTS.items():
        files[placeholder] = folder / f"{placeholder.lower()}.npz"
        demo_variant(pong_demo_file, files[placeholder], change)
    return {placeholder: str(path) for placeholder, path in files.items()}


@pytest.fixture
def no_cuda(monkeypatch):
    """The cases as on a machine without CUDA, wherever they run, so the table is the same everywhere."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def cli_message(arguments, config, demo_files, tmp_path, capsys):
    arguments = [demo_files.get(arg, arg) for arg in arguments]
    out = {"train": "run", "random": "scores.csv"}.get(arguments[0], "out.npz")
    seeded = arguments[0] in ("demos", "record", "random", "train") and "--seed" not in arguments
    config_json = [] if config is None else ["--config-json", json.dumps(config)]
    code = main([*arguments, *(["--seed", "0"] if seeded else []), "--out", str(tmp_path / out), *config_json])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, captured.err
    assert not any(tmp_path.iterdir()), "nothing may be written before the input is accepted"
    return lines[0].removeprefix("error: ")


PLANNED: dict[str, str] = {}  # overlay → what planning printed: each case is planned once per test session


def workflow_message(overlay, tmp_path):
    key = json.dumps(overlay, sort_keys=True)
    if key not in PLANNED:
        PLANNED[key] = plan_with(overlay, tmp_path)
    return PLANNED[key]


def plan_with(overlay, tmp_path, *arguments, planned=False):
    """What a dry run of the tiny config with `overlay` prints: a mapping laid over it, the text of a config file
    (bad.yaml), or (FILE, TEXT): TEXT appended to FILE of the workflow. Refused unless `planned`."""
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    for name in ("Snakefile", "rules", "config", "envs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, workdir / name)
    if isinstance(overlay, tuple):
        with open(workdir / overlay[0], "a") as file:
            file.write(overlay[1])
        overlay = {}
    (workdir / "bad.yaml").write_text(overlay if isinstance(overlay, str) else yaml.safe_dump(overlay))
    # The workflow imports the agents package: this checkout's, not whichever one the environment installed.
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "--configfile",
                             "config/tiny.yaml", "bad.yaml", *arguments], cwd=workdir, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = result.stdout + result.stderr
    assert (result.returncode == 0) == planned, output[-3000:]
    assert not (workdir / "results").exists()
    return output


def test_a_list_on_snakemakes_command_line_is_typed_as_in_a_config_file(tmp_path):
    """`--config seeds=[0,1]`: Snakemake reads the list's items as text, which the schema would refuse."""
    output = plan_with({}, tmp_path, "--config", "seeds=[0,1]", planned=True)
    assert set(re.findall(r"seed=(\d+)", output)) == {"0", "1"}


def test_a_report_before_any_run_says_what_to_run_first(tmp_path):
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    for name in ("Snakefile", "rules", "config", "envs", "report"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, workdir / name)
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/tiny.yaml",
                             "--report", "report.html"], cwd=workdir, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert ("--report packs the tables and figures of results/tiny, and results/tiny/tables/scores.csv and "
            in output), output[-3000:]
    assert "run the matrix first (the same command without --report)" in output
    assert not (workdir / "results").exists() and not (workdir / "report.html").exists()


def test_a_sweep_over_a_list_valued_setting_plans_one_method_per_list(tmp_path):
    sweep = {"method": "dqfd", "setting": "pretrain_eval_updates", "values": [[5], [5, 10]]}
    output = plan_with({"sweeps": [sweep]}, tmp_path, planned=True)
    assert {"dqfd_pretrain_eval_updates_5", "dqfd_pretrain_eval_updates_5_10"} <= set(re.findall(r"method=(\w+)",
                                                                                                 output))


def output_message(prepared, tmp_path, monkeypatch, capsys):
    """The line a pdd_dqn run (no demo file needed) is refused with, the temporary folder shown as <tmp>."""
    import errno
    import shutil
    from collections import namedtuple

    import agents.io

    def refuse(*args, **kwargs):
        raise AssertionError("the run started computing before its outputs were checked")

    monkeypatch.setattr("agents.run.make_env", refuse)
    out, extra = tmp_path / "run", []
    if prepared in ("FILE", "UNDER_FILE"):
        (tmp_path / "run").write_text("notes")
        out = tmp_path / "run" / ("seed_0" if prepared == "UNDER_FILE" else "")
    elif prepared == "CHECKPOINTS_FILE":
        (tmp_path / "checkpoints").write_text("notes")
        extra = ["--checkpoint-dir", str(tmp_path / "checkpoints")]
    elif prepared == "ANOTHER_CELLS_RECORDS":
        out.mkdir()
        (out / "config.yaml").write_text(yaml.safe_dump({"game": "Breakout", "method": "pdd_dqn", "seed": 0}))
        (out / "summary.json").write_text(json.dumps({"game": "Breakout", "method": "pdd_dqn", "seed": 0}))
    elif prepared == "ANOTHER_CELLS_CHECKPOINTS":
        from agents.checkpoint import OWNER, Checkpoints

        Checkpoints(tmp_path / "checkpoints").save(100, {"fingerprint": "of the Breakout run"})
        (tmp_path / "checkpoints" / OWNER).write_text(json.dumps({"game": "Breakout", "method": "pdd_dqn",
                                                                  "seed": 0, "demos": None}))
        extra = ["--checkpoint-dir", str(tmp_path / "checkpoints")]
    elif prepared == "ADDRESS_LIMIT":
        import resource

        monkeypatch.setattr(resource, "getrlimit", lambda kind: (4 << 30, resource.RLIM_INFINITY))
    elif prepared == "READ_ONLY":
        def read_only(*args, **kwargs):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))

        monkeypatch.setattr(agents.io.tempfile, "TemporaryFile", read_only)
    else:
        usage = namedtuple("usage", "total used free")
        monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(20 << 20, 0, 20 << 20))
    before = sorted(tmp_path.rglob("*"))
    code = main(["train", "--game", "Pong", "--method", "pdd_dqn", "--seed", "0", "--out", str(out), *extra,
                 "--config-json", json.dumps(SHORT)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    assert sorted(tmp_path.rglob("*")) == before, "nothing may be written before the input is accepted"
    return lines[0].removeprefix("error: ").replace(str(tmp_path), "<tmp>")


@pytest.mark.parametrize("case", OUTPUT_CASES, ids=[case[0] for case in OUTPUT_CASES])
def test_output_refusals(case, tmp_path, monkeypatch, capsys):
    _, _, prepared = case
    message = output_message(prepared, tmp_path, monkeypatch, capsys)
    assert {"FILE": "is a file, not a folder", "UNDER_FILE": "is a file, not a folder",
            "CHECKPOINTS_FILE": "checkpoint folder (--checkpoint-dir) <tmp>/checkpoints is a file",
            "READ_ONLY": "Read-only file system", "FULL_DISK": "has 20 MiB free",
            "ADDRESS_LIMIT": "(its address-space limit, ulimit -v, is 4.0 GiB); lower replay_capacity",
            "ANOTHER_CELLS_RECORDS": "holds the records of another run (game Breakout), which this run (Pong/pdd_dqn/"
                                     "seed 0) would replace",
            "ANOTHER_CELLS_CHECKPOINTS": "holds the checkpoints of Breakout/pdd_dqn/seed 0, not of this run (Pong/"
                                         "pdd_dqn/seed 0)"}[prepared] in message


@pytest.mark.parametrize("case", CLI_CASES, ids=[case[0] for case in CLI_CASES])
def test_command_line_refusals(case, demo_files, no_cuda, tmp_path, capsys):
    _, _, arguments, config, fragment = case
    assert fragment in cli_message(arguments, config, demo_files, tmp_path, capsys)


def test_help_describes_every_argument(capsys):
    subcommands = next(action for action in build_parser()._actions if action.dest == "command")
    for name, parser in subcommands.choices.items():
        undescribed = [action.option_strings[0] for action in parser._actions if not action.help]
        assert not undescribed, f"python -m agents {name} --help leaves {undescribed} undescribed"
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "torch CPU threads" in capsys.readouterr().out


def test_every_command_runs_code_of_its_own():
    """No command is reached by falling through another's branch: the parser's commands are exactly those dispatched."""
    from agents.__main__ import COMMANDS

    subcommands = next(action for action in build_parser()._actions if action.dest == "command")
    assert set(subcommands.choices) == set(COMMANDS)


def test_a_cuda_device_this_machine_lacks(monkeypatch):
    import torch

    from agents.__main__ import check_device
    from agents.errors import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    check_device("cuda")
    check_device("cuda:1")
    with pytest.raises(ConfigError, match="has 2 CUDA device"):
        check_device("cuda:2")


@pytest.mark.parametrize("case", WORKFLOW_CASES, ids=[case[0] for case in WORKFLOW_CASES])
def test_workflow_refusals(case, tmp_path):
    _, overlay, fragment = case
    output = workflow_message(overlay, tmp_path)
    assert fragment in output
    # The refusal is one line: no traceback, and not Snakemake's WorkflowError with the file and source line around it.
    assert not any(sign in output for sign in ("Traceback", "WorkflowError", 'File "')), output


def test_the_documented_table_is_what_the_cases_print(demo_files, no_cuda, tmp_path, monkeypatch, capsys):
    rows = []
    for what, given, arguments, config, _ in CLI_CASES:
        message = cli_message(arguments, config, demo_files, tmp_path, capsys)
        for path in demo_files.values():  # machine-specific paths out of the table
            message = message.replace(path, Path(path).name)
        rows.append((what, f"`python -m agents {arguments[0]}`: {given}", message))
    for what, given, prepared in OUTPUT_CASES:
        with monkeypatch.context() as patches:
            folder = Path(tempfile.mkdtemp(dir=tmp_path))
            rows.append((what, f"`python -m agents train`: {given}", output_message(prepared, folder, patches, capsys)))
    for what, overlay, fragment in WORKFLOW_CASES:
        output = workflow_message(overlay, tmp_path)
        line = next(line.strip() for line in output.splitlines() if fragment in line)
        given = (f"`{overlay[0]}` ending in `{overlay[1]!r}`" if isinstance(overlay, tuple)
                 else f"a config file `{overlay!r}`" if isinstance(overlay, str) else f"`{json.dumps(overlay)}`")
        rows.append((what, f"`snakemake` with {given}", line))
    table = "\n".join(
        ["# Bad inputs and what the suite says", "",
         "Generated by `tests/test_bad_inputs.py`, which checks that every case below is refused with this one line",
         "before any training starts. Free memory in the replay case and the cores in the threads case are those of",
         "the machine the table was made on.",
         "", "| bad input | given as | message |", "|---|---|---|"]
        + [f"| {what} | {given} | {message.replace('|', '/')} |" for what, given, message in rows]
        + ["", "## Handled rather than refused", "",
           "Inputs the suite handles, and refusals the cases above cannot set up, each shown by the test named.", "",
           "| input | given as | what the suite does | test |", "|---|---|---|---|"]
        + [f"| {what} | {given} | {does} | `tests/{test}` |" for what, given, does, test in HANDLED]
    ) + "\n"
    if os.environ.get("UPDATE_BAD_INPUTS"):
        TABLE.parent.mkdir(exist_ok=True)
        TABLE.write_text(table)
    documented = TABLE.read_text() if TABLE.is_file() else ""

    def stable(text):  # the free-memory figure and the core count depend on the machine
        text = re.sub(r"only [\d.]+ GiB is free", "only N GiB is free", text)
        text = re.sub(r"may use \d+ CPU cores?; use at most \d+", "may use N CPU cores; use at most N", text)
        return re.sub(r"may map only [\d.]+ GiB more", "may map only N GiB more", text)

    assert stable(documented) == stable(table), "docs/bad_inputs.md is stale: regenerate it (see this module's doc)"
