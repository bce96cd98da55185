"""Every bad input is refused with one line that says what is wrong and how to fix it, before training starts.

The cases below are also the table in docs/bad_inputs.md: the last test checks that the table shows exactly what these
cases print. After changing a case or a message, regenerate it with
    UPDATE_BAD_INPUTS=1 python -m pytest tests/test_bad_inputs.py
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from agents.__main__ import main

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "docs/bad_inputs.md"
SHORT = {"protocol_overrides": {"max_episode_frames": 400}}  # the demo fixture's protocol


def settings(**values):
    return {**SHORT, "settings": values}


# (bad input, how it is given, command-line arguments after `python -m agents`, profile, fragment of the message)
# DEMO stands for a valid Pong demo file of the test protocol; other file placeholders are made by `demo_variant`.
CLI_CASES = [
    ("unknown game", "--game Pongg", ["train", "--game", "Pongg", "--method", "pdd_dqn"], SHORT, "unknown game"),
    ("unknown method", "--method dqnn", ["train", "--game", "Pong", "--method", "dqnn"], SHORT, "unknown method"),
    ("unknown protocol", "protocol: nature2015", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     {"protocol": "nature2015"}, "unknown protocol"),
    ("misspelt setting", "settings: {lerning_rate: 1e-4}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(lerning_rate=1e-4), "unknown setting 'lerning_rate'"),
    ("value out of range", "settings: {gamma: 1.5}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(gamma=1.5), "must lie in [0.0, 1.0]"),
    ("negative value", "settings: {margin: -0.8}", ["train", "--game", "Pong", "--method", "dqfd"],
     settings(margin=-0.8), "must be >= 0"),
    ("wrong type", "settings: {learning_rate: fast}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(learning_rate="fast"), "must be a number"),
    ("unknown choice", "settings: {td_loss: l1}", ["train", "--game", "Pong", "--method", "pdd_dqn"],
     settings(td_loss="l1"), "is not one of huber, mse"),
    ("setting as a mapping without a value", "settings: {gamma: {origin: x}}",
     ["train", "--game", "Pong", "--method", "pdd_dqn"], settings(gamma={"origin": "x"}), "needs a 'value' key"),
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
    ("demo noise that is not a probability", "demos --epsilon 1.5",
     ["demos", "--game", "Pong", "--episodes", "1", "--epsilon", "1.5"], SHORT, "is not a probability"),
    ("no demonstrator for the game", "demos --game Seaquest",
     ["demos", "--game", "Seaquest", "--episodes", "1"], SHORT, "no demonstrator for 'Seaquest'"),
]

# (bad input, the workflow config overlay laid over config/tiny.yaml, fragment of the message)
WORKFLOW_CASES = [
    ("seed of the wrong type", {"seeds": ["zero"]}, "'zero' is not of type 'integer'"),
    ("unknown key in the workflow config", {"seed": [0]}, "Additional properties are not allowed ('seed' was"),
    ("unknown method in the matrix", {"methods": ["dqfd", "dqnn"]}, "unknown method 'dqnn'"),
    ("game without a demonstrator, for a method that needs demonstrations", {"games": ["Seaquest"]},
     "no demonstrator exists for Seaquest"),
    ("bad value in a method's settings", {"method_settings": {"dqfd": {"n_step": 0}}}, "n_step=0"),
]


@pytest.fixture(scope="module")
def demo_files(pong_demo_file, tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_demos")
    data = pong_demo_file.read_bytes()
    (folder / "corrupt.npz").write_bytes(np.random.default_rng(0).bytes(len(data)))
    (folder / "truncated.npz").write_bytes(data[: len(data) // 2])
    return {"DEMO": str(pong_demo_file), "CORRUPT": str(folder / "corrupt.npz"),
            "TRUNCATED": str(folder / "truncated.npz"), "MISSING": str(folder / "missing.npz")}


def cli_message(arguments, profile, demo_files, tmp_path, capsys):
    arguments = [demo_files.get(arg, arg) for arg in arguments]
    out = ["--out", str(tmp_path / "out.npz")] if arguments[0] == "demos" else ["--out", str(tmp_path / "run")]
    seed = ["--seed", "0"]
    code = main([*arguments, *seed, *out, "--profile-json", json.dumps(profile)])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, captured.err
    assert not (tmp_path / "run").exists(), "nothing may be written before the input is accepted"
    return lines[0].removeprefix("error: ")


def workflow_message(overlay, tmp_path):
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    for name in ("Snakefile", "rules", "config", "envs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, workdir / name)
    (workdir / "bad.yaml").write_text(yaml.safe_dump(overlay))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "--configfile",
                             "config/tiny.yaml", "bad.yaml"], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert not (workdir / "results").exists()
    output = result.stdout + result.stderr
    return output


@pytest.mark.parametrize("case", CLI_CASES, ids=[case[0] for case in CLI_CASES])
def test_command_line_refusals(case, demo_files, tmp_path, capsys):
    _, _, arguments, profile, fragment = case
    assert fragment in cli_message(arguments, profile, demo_files, tmp_path, capsys)


@pytest.mark.parametrize("case", WORKFLOW_CASES, ids=[case[0] for case in WORKFLOW_CASES])
def test_workflow_refusals(case, tmp_path):
    _, overlay, fragment = case
    assert fragment in workflow_message(overlay, tmp_path)


def test_the_documented_table_is_what_the_cases_print(demo_files, tmp_path, capsys):
    rows = []
    for what, given, arguments, profile, _ in CLI_CASES:
        message = cli_message(arguments, profile, demo_files, tmp_path, capsys)
        for placeholder, path in demo_files.items():  # machine-specific paths out of the table
            message = message.replace(path, f"{placeholder.lower()}.npz")
        rows.append((what, f"`python -m agents {arguments[0]}`: {given}", message))
    for what, overlay, fragment in WORKFLOW_CASES:
        output = workflow_message(overlay, tmp_path)
        line = next(line.strip() for line in output.splitlines() if fragment in line)
        rows.append((what, f"`snakemake` with `{json.dumps(overlay)}`", line))
    table = "\n".join(
        ["# Bad inputs and what the suite says", "",
         "Generated by `tests/test_bad_inputs.py`, which checks that every case below is refused with this one line",
         "before any training starts. Free memory in the replay case is that of the machine the table was made on.",
         "", "| bad input | given as | message |", "|---|---|---|"]
        + [f"| {what} | {given} | {message.replace('|', '/')} |" for what, given, message in rows]
    ) + "\n"
    if os.environ.get("UPDATE_BAD_INPUTS"):
        TABLE.parent.mkdir(exist_ok=True)
        TABLE.write_text(table)
    documented = TABLE.read_text() if TABLE.is_file() else ""

    def stable(text):  # the free-memory figure depends on the machine
        import re
        return re.sub(r"only [\d.]+ GiB is free", "only N GiB is free", text)

    assert stable(documented) == stable(table), "docs/bad_inputs.md is stale: regenerate it (see this module's doc)"
