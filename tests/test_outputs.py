"""Where a run writes: a place that cannot take its outputs is refused before compute with one line and nothing left
behind; a write that fails anyway (the disk filled meanwhile) ends with one line, keeps the previous checkpoint and
leaves no empty folder; outputs get the user's umask; emptied checkpoint folders go with their checkpoints."""
import errno
import io
import json
import os
import re
import shutil
import tempfile
from collections import namedtuple
from pathlib import Path

import pytest
import torch

import agents.io
from agents.__main__ import main
from agents.cell import resolve
from agents.checkpoint import Checkpoints
from agents.errors import OutputError
from agents.io import atomic_write, write_text
from agents.progress import Progress
from agents.run import Run, checkpoint_root
from agents.space import SPACE_MARGIN, output_bytes

# PDD-DQN needs no demo file; 200 agent steps in 400-frame episodes take a few seconds.
CONFIG = {"protocol_overrides": {"max_episode_frames": 400},
           "settings": {"agent_steps": 200, "replay_capacity": 1000, "batch_size": 8, "target_update_period": 20,
                        "eval_episodes": 1},
           "method_settings": {"pdd_dqn": {"learning_starts": 50, "epsilon_decay_steps": 100}}}
OUTPUTS = ("summary.json", "progress.csv", "eval.csv", "pretrain_eval.csv", "interaction_eval.csv", "config.yaml",
           "provenance.json", "model.pt")


def train(out, *extra):
    return main(["train", "--game", "Pong", "--method", "pdd_dqn", "--seed", "0", "--out", str(out), "--threads", "1",
                 "--device", "cpu", "--config-json", json.dumps(CONFIG), *extra])


def error_line(capsys):
    """The one line a refused or failed run ends with (progress lines may come before it)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: "), err
    return last


def tree(folder):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture
def no_compute(monkeypatch):
    """A refusal must come before the emulator starts (and so before the replay, the networks, the training)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the run started computing before its outputs were checked")

    monkeypatch.setattr("agents.run.make_env", refuse)


# ------------------------------------------------------------------------------------------- refused before compute
def test_an_out_that_is_a_file_is_refused(tmp_path, capsys, no_compute):
    (tmp_path / "taken").write_text("someone's notes")
    assert train(tmp_path / "taken") == 2
    assert error_line(capsys) == (f"error: run folder (--out) {tmp_path / 'taken'} is a file, not a folder; "
                                  "name a folder, or move the file away")
    assert train(tmp_path / "taken" / "run") == 2
    assert error_line(capsys) == (f"error: run folder (--out) {tmp_path / 'taken' / 'run'} cannot be created: "
                                  f"{tmp_path / 'taken'} is a file, not a folder; name a folder, or move the file away")
    assert tree(tmp_path) == ["taken"]


def test_a_checkpoint_folder_that_is_a_file_is_refused(tmp_path, capsys, no_compute):
    (tmp_path / "checkpoints").write_text("")
    assert train(tmp_path / "run", "--checkpoint-dir", str(tmp_path / "checkpoints" / "seed_0")) == 2
    assert error_line(capsys) == (
        f"error: checkpoint folder (--checkpoint-dir) {tmp_path / 'checkpoints' / 'seed_0'} cannot be created: "
        f"{tmp_path / 'checkpoints'} is a file, not a folder; name a folder, or move the file away")
    assert tree(tmp_path) == ["checkpoints"]


def test_a_read_only_place_is_refused(tmp_path, capsys, no_compute, monkeypatch):
    """A read-only file system, simulated (the tests may run as root, whom permissions do not stop): the probe, a
    nameless temporary file where the run folder would be made, fails as it would there."""
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(agents.io.tempfile, "TemporaryFile", read_only)
    assert train(tmp_path / "runs" / "seed_0") == 2
    assert error_line(capsys) == (f"error: run folder (--out) {tmp_path / 'runs' / 'seed_0'} cannot be written "
                                  f"({tmp_path}: Read-only file system; write elsewhere)")
    assert tree(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into folders without write permission")
def test_a_folder_without_write_permission_is_refused(tmp_path, capsys, no_compute):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert train(locked / "run") == 2
        assert error_line(capsys) == (f"error: run folder (--out) {locked / 'run'} cannot be written "
                                      f"({locked}: Permission denied; make it writable or write elsewhere)")
    finally:
        locked.chmod(0o700)
    assert tree(tmp_path) == ["locked"]


def full_disk(monkeypatch, free):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(free, 0, free))


def test_too_little_free_space_is_refused_naming_the_folders_and_the_space(tmp_path, capsys, no_compute, monkeypatch):
    full_disk(monkeypatch, 20 << 20)
    assert train(tmp_path / "run") == 2
    line = error_line(capsys)
    assert line.startswith(f"error: run folder (--out) {tmp_path / 'run'} and checkpoint folder (--checkpoint-dir) "
                           f"{tmp_path / 'run' / 'checkpoints'} need about "), line
    assert re.search(r"need about \d+ MiB free for the final weights and tables and 3 checkpoints of up to \d+ MiB "
                     r"\(the newest 2 kept, one written\), with a 25% margin, but .* has 20 MiB free; free space "
                     r"there or choose a disk with more$", line), line
    assert tree(tmp_path) == []


def test_the_space_estimate_bounds_what_a_checkpoint_holds(tmp_path):
    """The replay dominates a long run's checkpoints: its part of the estimate bounds what the replay saves, whether
    the agent's steps bound it (one slot per step and one per episode start, counted as two per step) or the
    capacity does."""
    for capacity in (1000, 120):
        config = dict(CONFIG, settings=dict(CONFIG["settings"], replay_capacity=capacity))
        cell = resolve("Pong", "pdd_dqn", 0, config)
        run = Run(cell, tmp_path / f"run_{capacity}", None, threads=1, device="cpu", checkpoint_every_s=1e9)
        saved = []
        run.checkpoints.save = lambda position, payload: saved.append(len(serialised(payload)))
        run.execute()  # its last checkpoint, before the evaluation, holds every slot the run filled
        replay = run.learner.replay
        checkpoint, weights = output_bytes(run.settings, run.protocol, 0, replay.demo_capacity, replay.agent_capacity)
        replay = len(serialised(replay.state_dict()))
        assert replay <= SPACE_MARGIN * (checkpoint - 4 * weights) < 3 * replay, (replay, checkpoint - 4 * weights)
        assert max(saved) <= SPACE_MARGIN * checkpoint


def serialised(payload) -> bytes:
    """The bytes of a checkpoint of `payload`, as Checkpoints writes it."""
    with tempfile.TemporaryDirectory() as folder:
        return Checkpoints(folder).save(0, payload).read_bytes()


# ------------------------------------------------------------------------------------------ a write that fails anyway
class FullDisk(io.BufferedWriter):
    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class NoPermission(io.BufferedWriter):
    def write(self, data):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))


def fail_once(monkeypatch, failure):
    """The next file opened for writing fails with `failure` (as on a disk that filled up, or in a folder whose
    permissions changed meanwhile); the one after it writes normally again."""
    fdopen = os.fdopen

    def failing(handle, *args, **kwargs):
        monkeypatch.setattr(os, "fdopen", fdopen)
        return failure(io.FileIO(handle, "w"))

    monkeypatch.setattr(os, "fdopen", failing)


def test_a_failed_write_keeps_the_older_file_and_leaves_no_temporary_file_or_new_folder(tmp_path, monkeypatch):
    older = tmp_path / "checkpoint.pt"
    atomic_write(older, lambda stream: torch.save({"step": 1}, stream))
    fail_once(monkeypatch, FullDisk)
    with pytest.raises(OutputError) as failed:  # torch.save would call it "unexpected pos 64 vs 0"
        atomic_write(older, lambda stream: torch.save({"step": 2, "ballast": torch.ones(1 << 20)}, stream))
    assert str(failed.value) == f"cannot write {older}: No space left on device; free space there or write elsewhere"
    fail_once(monkeypatch, NoPermission)
    with pytest.raises(OutputError, match="Permission denied; make it writable or write elsewhere$"):
        write_text(tmp_path / "new" / "deeper" / "table.csv", "a,b\n")
    assert tree(tmp_path) == ["checkpoint.pt"]
    assert torch.load(older) == {"step": 1}


@pytest.mark.parametrize("failure, writer, nth, cause", [
    (FullDisk, "agents.checkpoint", 2, "No space left on device; free space there or write elsewhere"),
    (NoPermission, "agents.run", 1, "Permission denied; make it writable or write elsewhere"),  # model.pt
])
def test_a_run_whose_write_fails_ends_in_one_line_keeps_its_checkpoint_and_resumes(tmp_path, capsys, monkeypatch,
                                                                                  failure, writer, nth, cause):
    """The disk fills up at the second checkpoint; or the run folder stops being writable when the final weights
    are written, after the checkpoint taken before the evaluation."""
    run, checkpoints = tmp_path / "run", Checkpoints(tmp_path / "checkpoints" / "run")
    write, writes = agents.io.atomic_write, []

    def nth_write_fails(path, content):
        writes.append(path)
        if len(writes) == nth:
            fail_once(monkeypatch, failure)
        write(path, content)

    monkeypatch.setattr(f"{writer}.atomic_write", nth_write_fails)
    every = "0" if writer == "agents.checkpoint" else "1000"
    assert train(run, "--checkpoint-dir", str(checkpoints.directory), "--checkpoint-every-min", every) == 2
    line, kept = error_line(capsys), checkpoints.files()
    assert kept == [writes[0] if nth == 2 else checkpoints.directory / "checkpoint-000000000200.pt"]
    assert line == f"error: cannot write {writes[-1]}: {cause}; a rerun resumes from {kept[0]}"
    assert not list(tmp_path.rglob("*.tmp")) and not (run / "summary.json").exists()
    assert all(any(folder.iterdir()) for folder in tmp_path.rglob("*") if folder.is_dir()), tree(tmp_path)

    monkeypatch.undo()
    assert train(run, "--checkpoint-dir", str(checkpoints.directory)) == 0
    assert "resumed from a checkpoint" in capsys.readouterr().err
    assert json.loads((run / "summary.json").read_text())["status"] == "complete"
    assert tree(tmp_path) == ["checkpoints", "run", *sorted(f"run/{name}" for name in OUTPUTS)], (
        "the run's checkpoint folder goes when done; the checkpoint root stays")


# ---------------------------------------------------------------------------------------------------- housekeeping
@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_outputs_get_the_mode_the_umask_gives_a_new_file(tmp_path, umask):
    previous = os.umask(umask)
    try:
        for name in ("new.csv", "replaced.csv"):
            write_text(tmp_path / name, "a\n")
        write_text(tmp_path / "replaced.csv", "b\n")
        with open(tmp_path / "plain.csv", "w"):
            pass
    finally:
        os.umask(previous)
    modes = {path.name: path.stat().st_mode & 0o777 for path in tmp_path.iterdir()}
    assert modes == dict.fromkeys(("new.csv", "replaced.csv", "plain.csv"), 0o666 & ~umask)


def test_clearing_checkpoints_removes_the_folders_made_for_them_and_nothing_else(tmp_path):
    root = tmp_path / "checkpoints"
    done, going = root / "Pong" / "dqfd" / "seed_0", root / "Pong" / "dqfd" / "seed_1"
    for folder in (done, going):
        Checkpoints(folder, root=root).save(1, {"step": 1})
    (root / "Pong" / "notes.txt").write_text("kept")
    Checkpoints(done, root=root).clear()
    assert tree(root) == ["Pong", "Pong/dqfd", "Pong/dqfd/seed_1", "Pong/dqfd/seed_1/checkpoint-000000000001.pt",
                          "Pong/notes.txt"]
    Checkpoints(going, root=root).clear()
    assert tree(tmp_path) == ["checkpoints", "checkpoints/Pong", "checkpoints/Pong/notes.txt"], "a folder with a file"
    (root / "Pong" / "notes.txt").unlink()
    Checkpoints(root / "Pong" / "bc" / "seed_0", root=root).clear()  # nothing was ever written: nothing to remove
    assert tree(tmp_path) == ["checkpoints", "checkpoints/Pong"]
    Checkpoints(going, root=root).save(2, {"step": 2})
    Checkpoints(going, root=root).clear()
    assert tree(tmp_path) == ["checkpoints"], "the root stays: it may be a folder the user made"
    Checkpoints(root, root=root).save(3, {"step": 3})
    Checkpoints(root, root=root).clear()
    assert tree(tmp_path) == [], "a checkpoint folder that is its own root goes (a run's own checkpoints/ folder)"


def test_the_checkpoint_root_is_the_folder_the_run_mirrors_under(tmp_path):
    run = tmp_path / "results/runs/Pong/dqfd/none/seed_0"
    mirrored = tmp_path / "results/checkpoints/Pong/dqfd/none/seed_0"
    assert checkpoint_root(mirrored, run) == tmp_path / "results/checkpoints"
    assert checkpoint_root(run / "checkpoints", run) == run / "checkpoints"
    assert checkpoint_root(tmp_path / "scratch", run) == tmp_path / "scratch"
    assert checkpoint_root(tmp_path / "a/seed_0/seed_0", tmp_path / "a/seed_0") == tmp_path / "a/seed_0/seed_0", (
        "never the run folder")


def test_progress_lines_count_updates_and_agent_steps_from_where_a_resumed_run_stands(capsys):
    pretraining = Progress(total=8, unit="update", label="Pong/dqfd/seed 0 pretraining", interval=0.0, initial=6)
    pretraining.update(1)
    interaction = Progress(total=400, unit="agent step", label="Pong/dqfd/seed 0 interaction", interval=0.0)
    interaction.update(1, "return(last 10) -21.0")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("[Pong/dqfd/seed 0 pretraining] 7/8 updates (88%), ") and " updates/s, " in lines[0]
    assert lines[1].startswith("[Pong/dqfd/seed 0 interaction] 1/400 agent steps (0%), ")
    assert " agent steps/s, " in lines[1]


def test_a_run_logs_each_phase_in_its_own_unit(tmp_path, capsys, pong_demo_file):
    config = {"protocol_overrides": {"max_episode_frames": 400},
               "settings": {"pretrain_updates": 10, "agent_steps": 40, "replay_capacity": 1000, "batch_size": 8,
                            "eval_episodes": 1}}
    Run(resolve("Pong", "dqfd", 0, config), tmp_path, pong_demo_file, threads=1, device="cpu").execute()
    err = capsys.readouterr().err
    assert "[Pong/dqfd/seed 0 pretraining] 10/10 updates (100%)" in err
    assert "[Pong/dqfd/seed 0 interaction] 40/40 agent steps (100%)" in err
    assert " steps (" not in err.replace("agent steps (", ""), "no line counts both phases as steps"


def test_an_unreadable_thread_count_in_the_environment_is_dropped_saying_so(tmp_path):
    """OMP_NUM_THREADS=0 would make libgomp complain as torch loads and pick threads itself; the run drops it first.
    The same run, checkpointing as often as it can (--checkpoint-every-min 0), says what that costs."""
    import subprocess
    import sys

    config = {"protocol_overrides": {"max_episode_frames": 100}, "method_settings": {"pdd_dqn": {"learning_starts": 12}},
              "settings": {"agent_steps": 24, "replay_capacity": 100, "batch_size": 4, "eval_episodes": 1}}
    result = subprocess.run(
        [sys.executable, "-m", "agents", "train", "--game", "Pong", "--method", "pdd_dqn", "--seed", "0", "--out",
         str(tmp_path / "run"),
         "--checkpoint-every-min", "0", "--config-json", json.dumps(config)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "0"},
        cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "libgomp" not in result.stderr
    assert "OMP_NUM_THREADS='0' is not a whole number of 1 or more; ignored" in result.stderr
    assert "--checkpoint-every-min 0: a checkpoint, the whole replay with it, after every update" in result.stderr
    record = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert record["threads"]["OMP_NUM_THREADS"] == "not set" and record["threads"]["torch"] == 1


def test_a_runs_records_name_its_demo_file_relative_to_the_run_folder(tmp_path, pong_demo_file):
    """No record holds a path of the machine that ran it: the demo file is named from the run folder, so the name
    still leads to it from wherever the results folder is copied; the workflow's layout gives
    ../../../../../demos/GAME/SET.npz."""
    import yaml

    from agents.io import relative_path

    results = tmp_path / "results"
    demo = results / "demos/Pong/scripted_noise0_ep1.npz"
    demo.parent.mkdir(parents=True)
    shutil.copy(pong_demo_file, demo)
    run_dir = results / "runs/Pong/bc/scripted_noise0_ep1/seed_0"
    config = {"protocol_overrides": {"max_episode_frames": 400},
              "settings": {"pretrain_updates": 2, "batch_size": 8, "eval_episodes": 1}}
    Run(resolve("Pong", "bc", 0, config), run_dir, os.path.relpath(demo), threads=1, device="cpu").execute()
    summary = json.loads((run_dir / "summary.json").read_text())
    recorded = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert summary["demos"]["file"] == recorded["demos"]["file"] == "../../../../../demos/Pong/scripted_noise0_ep1.npz"
    assert (run_dir / summary["demos"]["file"]).resolve() == demo.resolve()
    assert relative_path("/data/demos/Pong.npz", "/scratch/results/runs/Pong/bc/x/seed_0") == \
        "../../../../../../../data/demos/Pong.npz"
