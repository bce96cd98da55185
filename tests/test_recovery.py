"""Crash recovery as docs/recovery.md has it: Snakemake killed with SIGKILL in the middle of a training job (its whole
process group, as `kill -9` or a power loss leaves it) keeps its lock, so the rerun is refused until
`snakemake --unlock`; then the same command finishes the matrix, the killed run resuming from its checkpoint."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml
from test_workflow import copy_workflow

from agents.checkpoint import Checkpoints

pytestmark = pytest.mark.workflow

RESULTS = "results/recovery"
# One cell of the tiny config. Its rung of the pretraining ladder at update 10 is followed by a checkpoint, so a
# checkpoint exists long before the default 10 minutes between checkpoints; the kill lands in the updates after it.
# 260 agent steps see the end of an episode (1000 frames, 250 agent steps), which the analysis needs.
OVERLAY = {
    "results_dir": RESULTS,
    "games": ["Pong"],
    "methods": ["dqfd"],
    "seeds": [0],
    "demos": {"sets": [{"source": "scripted", "noise": [0.0], "episodes": [1]}]},
    "settings": {key: {"value": value, "origin": "recovery test"} for key, value in {
        "pretrain_updates": 100, "pretrain_eval_updates": [10], "pretrain_eval_episodes": 1, "agent_steps": 260,
        "batch_size": 8}.items()},
}
CELL = "Pong/dqfd/scripted_noise0_ep1/seed_0"
OUTPUTS = ("summary.json", "progress.csv", "eval.csv", "pretrain_eval.csv", "config.yaml", "provenance.json",
           "model.pt")


def test_a_workflow_killed_mid_run_recovers_with_unlock_and_the_same_command(tmp_path):
    workdir = copy_workflow(tmp_path / "clone")
    (workdir / "recovery.yaml").write_text(yaml.safe_dump(OVERLAY))
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/tiny.yaml", "recovery.yaml"]
    results, checkpoints = workdir / RESULTS, Checkpoints(workdir / RESULTS / "checkpoints" / CELL)

    with open(tmp_path / "killed.log", "w") as log:
        process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 600
        while not checkpoints.files() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)  # Snakemake and its jobs: they share its process group
        process.wait()
    assert checkpoints.files(), (tmp_path / "killed.log").read_text()[-3000:]
    assert not (results / "runs" / CELL / "summary.json").exists(), "the kill should land before the run ends"

    refused = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and "Directory cannot be locked" in refused.stdout + refused.stderr

    unlocked = subprocess.run([*command, "--unlock"], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert unlocked.returncode == 0, unlocked.stdout[-3000:] + unlocked.stderr[-3000:]
    rerun = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]

    run = results / "runs" / CELL
    train_log = (results / "logs/train" / f"{CELL.replace('/', '_')}.log").read_text()
    assert "resumed from a checkpoint at update 10, agent step 0" in train_log, train_log[-3000:]
    assert all((run / name).is_file() for name in OUTPUTS)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["pretrain_updates"] == 100 and summary["agent_steps"] == 260
    progress = pd.read_csv(run / "progress.csv")  # a loss row per update at this budget: none lost, none twice
    assert progress.loc[progress["kind"] == "updates", "update"].tolist() == list(range(1, summary["updates"] + 1))
    assert pd.read_csv(run / "pretrain_eval.csv")["update"].tolist() == [10], "the rung is evaluated once"
    assert not (results / "checkpoints" / CELL).exists(), "the run's checkpoint folder goes with the completed run"
    assert not [path for path in (results / "checkpoints").rglob("*") if path.is_file()]
    assert "All 1 cells of the matrix have a complete run" in (results / "tables/missing_runs.md").read_text()
