"""Nothing lost: a run killed with SIGKILL resumes from its last checkpoint and ends exactly where an uninterrupted run
ends; a kill during a checkpoint write leaves the previous checkpoint usable; the same seed gives the same run."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from agents.checkpoint import Checkpoints
from agents.learner import native_bfloat16

ROOT = Path(__file__).resolve().parent.parent
# Pong with 400-frame episodes (the demo fixture's protocol), so the interaction crosses several episode ends; the
# greedy policy evaluated every 100 agent steps (interaction_eval.csv), each evaluation followed by a checkpoint.
CONFIG = {
    "protocol_overrides": {"max_episode_frames": 400},
    "settings": {"pretrain_updates": 30, "agent_steps": 400, "replay_capacity": 1000, "batch_size": 8,
                 "target_update_period": 20, "eval_episodes": 1, "interaction_eval_every": 100,
                 "interaction_eval_episodes": 1},
}
OUTPUTS = ("summary.json", "progress.csv", "eval.csv", "interaction_eval.csv", "config.yaml", "provenance.json",
           "model.pt")


def train_command(demo_file, run_dir, compile="auto"):
    """`compile`: the setting; auto leaves a run this short eager."""
    config = dict(CONFIG, settings=dict(CONFIG["settings"], compile=compile))
    return [sys.executable, "-m", "agents", "train", "--game", "Pong", "--method", "dqfd", "--seed", "0",
            "--demos", str(demo_file), "--out", str(run_dir), "--threads", "1", "--device", "cpu",
            "--checkpoint-every-min", "0.005", "--config-json", json.dumps(config)]


def train(demo_file, run_dir, compile="auto"):
    result = subprocess.run(train_command(demo_file, run_dir, compile), cwd=ROOT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def outcome(run_dir):
    """Everything a run produced except wall-clock and CPU times (a resumed run sums its processes' CPU time)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    summary.pop("wall_s")
    assert summary.pop("cpu_s") > 0
    progress = pd.read_csv(run_dir / "progress.csv").drop(columns="wall_s")
    weights = torch.load(run_dir / "model.pt", weights_only=True)
    return summary, progress, pd.read_csv(run_dir / "eval.csv"), weights, pd.read_csv(run_dir / "interaction_eval.csv")


def assert_same_outcome(first, second):
    assert first[0] == second[0]
    pd.testing.assert_frame_equal(first[1], second[1])
    pd.testing.assert_frame_equal(first[2], second[2])
    assert first[3].keys() == second[3].keys()
    assert all(torch.equal(first[3][key], second[3][key]) for key in first[3])
    pd.testing.assert_frame_equal(first[4], second[4])
    assert first[4]["agent_step"].tolist() == [100, 200, 300, 400], "each agent step evaluated once"


@pytest.fixture(scope="module")
def uninterrupted_runs(pong_demo_file, tmp_path_factory):
    """The uninterrupted run of each compile setting, made when a test first asks for it."""
    made = {}

    def run(compile="auto"):
        if compile not in made:
            made[compile] = tmp_path_factory.mktemp(f"uninterrupted_{compile}")
            train(pong_demo_file, made[compile], compile)
        return made[compile]

    return run


@pytest.fixture
def uninterrupted(uninterrupted_runs):
    return uninterrupted_runs()


# A compiled loss (compile: always) changes the floating-point order, not determinism: two compiled runs agree, and a
# killed compiled run compiles again when it resumes and ends where the uninterrupted compiled run ends.
@pytest.mark.parametrize("compile", ["auto", "always"])
def test_same_seed_same_run(pong_demo_file, uninterrupted_runs, tmp_path, compile):
    log = train(pong_demo_file, tmp_path, compile)
    assert_same_outcome(outcome(uninterrupted_runs(compile)), outcome(tmp_path))
    record = json.loads((tmp_path / "provenance.json").read_text())
    assert record["loss"] == ("compiled" if compile == "always" else "eager"), log
    # mixed_precision: auto computes the compiled run's convolutions in bfloat16 where this CPU does so natively
    bfloat16 = compile == "always" and native_bfloat16(torch.device("cpu"))
    assert record["convolutions"] == ("bfloat16" if bfloat16 else "float32")
    assert not (tmp_path / "checkpoints").exists(), "a finished run removes its checkpoints"
    assert not (tmp_path / "progress.live.csv").exists()


@pytest.mark.parametrize("compile", ["auto", "always"])
def test_killed_runs_resume_and_end_where_an_uninterrupted_run_ends(pong_demo_file, uninterrupted_runs, tmp_path,
                                                                    compile):
    rng = np.random.default_rng()
    checkpoints, positions = Checkpoints(tmp_path / "checkpoints"), []
    for _ in range(3):
        process = subprocess.Popen(train_command(pong_demo_file, tmp_path, compile), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill at a random moment after this process has written at least one checkpoint of its own.
        before = checkpoints.files()[-1].name if checkpoints.files() else None
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            files = checkpoints.files()
            if files and files[-1].name != before:
                break
            time.sleep(0.05)
        # The first kill lands at once, so that one always lands however fast the machine; later ones at random.
        time.sleep(rng.uniform(0.0, 1.5) if positions else 0.0)
        if process.poll() is not None:
            break  # it finished before the kill: nothing more to interrupt
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        positions.append(checkpoints.files()[-1].name)
        for name in OUTPUTS[:1]:
            assert not (tmp_path / name).exists(), "a killed run must not leave its completion marker"
    assert positions, "no kill landed before the run finished"
    log = train(pong_demo_file, tmp_path, compile)
    assert "resumed from a checkpoint" in log
    # Progress counts on from where the run stood, in each phase's own unit.
    assert "interaction] 400/400 agent steps (100%)" in log and " steps (" not in log.replace("agent steps (", "")
    assert_same_outcome(outcome(uninterrupted_runs(compile)), outcome(tmp_path))
    assert not (tmp_path / "checkpoints").exists()


def test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one_usable(tmp_path):
    checkpoints = Checkpoints(tmp_path)
    checkpoints.save(1, {"fingerprint": "f", "step": 1})
    # A child process starts writing a large checkpoint and is killed with SIGKILL half-way through the write.
    writer = (
        "import sys, numpy as np; from agents.checkpoint import Checkpoints\n"
        "Checkpoints(sys.argv[1]).save(2, {'fingerprint': 'f', 'step': 2, "
        "'ballast': np.ones(400_000_000, dtype=np.uint8)})\n"
    )
    process = subprocess.Popen([sys.executable, "-c", writer, str(tmp_path)], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".checkpoint-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert list(tmp_path.glob(".checkpoint-*.tmp")), "the kill should have landed during the write"
    assert [path.name for path in checkpoints.files()] == ["checkpoint-000000000001.pt"]
    assert checkpoints.load_latest() == {"fingerprint": "f", "step": 1}
    checkpoints.clear()
    assert not tmp_path.exists()


def test_an_unreadable_newest_checkpoint_falls_back_to_the_one_before(tmp_path):
    checkpoints = Checkpoints(tmp_path, keep=2)
    for position in (1, 2, 3):
        checkpoints.save(position, {"fingerprint": "f", "step": position})
    assert [path.name[-6:-3] for path in checkpoints.files()] == ["002", "003"], "older ones are pruned"
    newest = checkpoints.files()[-1]
    newest.write_bytes(newest.read_bytes()[:20])  # cut short, as by a full disk
    assert checkpoints.load_latest() == {"fingerprint": "f", "step": 2}


def test_junk_is_skipped_with_a_line_and_nothing_resumable_starts_over(tmp_path, capsys):
    checkpoints = Checkpoints(tmp_path)
    checkpoints.save(1, {"fingerprint": "f", "step": 1})
    torch.save({"weights": torch.ones(2)}, tmp_path / "checkpoint-000000000002.pt")  # readable, but not ours
    (tmp_path / "checkpoint-000000000003.pt").mkdir()  # a folder named like a checkpoint
    assert checkpoints.load_latest() == {"fingerprint": "f", "step": 1}
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"{tmp_path}/checkpoint-000000000003.pt is named like a checkpoint but is not a file; skipped",
                     f"{tmp_path}/checkpoint-000000000002.pt is not a checkpoint of this suite (it holds no "
                     "fingerprint); trying an older one"]
    (tmp_path / "checkpoint-000000000001.pt").write_bytes(b"cut")
    assert checkpoints.load_latest() is None
    assert capsys.readouterr().err.splitlines()[-1] == (f"none of the 2 checkpoints in {tmp_path} can be resumed; "
                                                         "starting over")
    checkpoints.clear()  # a folder named like a checkpoint is not deleted as one: the run ends without a crash
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint-000000000003.pt"]


def test_a_run_over_a_checkpoint_folder_of_junk_trains_and_ends_cleanly(pong_demo_file, uninterrupted, tmp_path):
    """A readable torch file without a fingerprint as the newest checkpoint, and a folder named like one: both are
    skipped with a line, the run starts over and ends as an uninterrupted one, rc 0."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({"weights": torch.ones(2)}, folder / "checkpoint-000000009999.pt")
    (folder / "checkpoint-000000009998.pt").mkdir()
    log = train(pong_demo_file, tmp_path)
    assert "no fingerprint" in log and "is not a file; skipped" in log and "starting over" in log
    assert_same_outcome(outcome(uninterrupted), outcome(tmp_path))


def test_a_checkpoint_folder_belongs_to_one_cell(pong_demo_file, tmp_path):
    """A second run, of another cell, pointed at a folder that holds a cell's checkpoints is refused in one line and
    deletes nothing; so is any second run while the first is using the folder."""
    from agents.checkpoint import OWNER

    folder = tmp_path / "checkpoints"
    first = train_command(pong_demo_file, tmp_path / "first") + ["--checkpoint-dir", str(folder)]
    process = subprocess.Popen(first, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = Checkpoints(folder)
    deadline = time.monotonic() + 120
    while not checkpoints.files() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        same_cell = subprocess.run(train_command(pong_demo_file, tmp_path / "second") + ["--checkpoint-dir",
                                   str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert same_cell.returncode == 2
    assert same_cell.stderr.splitlines()[-1] == (f"error: checkpoint folder {folder} is in use by another run now "
                                                 f"(Pong/dqfd/seed 0 with {pong_demo_file.name}); give each run its "
                                                 "own --checkpoint-dir")
    kept = checkpoints.files()
    other_cell = train_command(pong_demo_file, tmp_path / "other") + ["--checkpoint-dir", str(folder)]
    other_cell[other_cell.index("--seed") + 1] = "1"
    refused = subprocess.run(other_cell, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        f"error: checkpoint folder {folder} holds the checkpoints of Pong/dqfd/seed 0 with {pong_demo_file.name}, "
        f"not of this run (Pong/dqfd/seed 1 with {pong_demo_file.name}); give each run its own --checkpoint-dir, or "
        "delete that folder if its run is not to be resumed")
    assert checkpoints.files() == kept and (folder / OWNER).is_file()
    rerun = subprocess.run(first, cwd=ROOT, capture_output=True, text=True, timeout=600)  # the first cell's own
    assert rerun.returncode == 0 and "resumed from a checkpoint" in rerun.stderr, rerun.stderr[-3000:]
    assert not folder.exists(), "the folder goes with the run's last checkpoint and its owner file"


def test_a_checkpoint_of_another_config_is_not_resumed(pong_demo_file, uninterrupted, tmp_path):
    other = dict(CONFIG, settings=dict(CONFIG["settings"], learning_rate=1e-3))
    command = train_command(pong_demo_file, tmp_path)
    command[-1] = json.dumps(other)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = Checkpoints(tmp_path / "checkpoints")
    deadline = time.monotonic() + 120
    while not checkpoints.files() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    log = train(pong_demo_file, tmp_path)
    assert "belong to another config" in log and "resumed" not in log
    assert_same_outcome(outcome(uninterrupted), outcome(tmp_path))
