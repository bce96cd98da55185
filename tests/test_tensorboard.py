"""`python -m agents train --tensorboard DIR`: a run writes its scalars under DIR/<game>/<method>/<demo set>/seed_<N>,
read back here with TensorBoard's own reader; a killed run resumes them without writing a step twice; without the
extra the run is refused in one line before any compute; without --tensorboard nothing of TensorBoard is loaded."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from agents.__main__ import main
from agents.checkpoint import Checkpoints

ROOT = Path(__file__).resolve().parent.parent
SET = "scripted_noise0_ep2"
TAG = f"Pong/dqfd/{SET}/seed_0"
# DQfD on Pong with 400-frame episodes: a pretraining ladder of two rungs, 300 agent steps crossing episode ends, a
# greedy evaluation every 100 agent steps.
CONFIG = {
    "protocol_overrides": {"max_episode_frames": 400},
    "settings": {"pretrain_updates": 20, "pretrain_eval_updates": [10, 20], "pretrain_eval_episodes": 1,
                 "agent_steps": 300, "replay_capacity": 1000, "batch_size": 8, "target_update_period": 20,
                 "eval_episodes": 1, "interaction_eval_every": 100, "interaction_eval_episodes": 1},
}
EXPECTED_TAGS = {"train/loss", "train/loss_1_step", "train/loss_n_step", "train/loss_supervised", "train/loss_l2",
                 "train/q_mean", "train/demo_fraction", "train/demo_accuracy", "train/epsilon",
                 "episode/return", "episode/length", "episode/epsilon", "pretrain_eval/score",
                 "pretrain_eval/demo_agreement", "pretrain_eval/expert_agreement", "interaction_eval/score",
                 "interaction_eval/expert_agreement", "final_eval/score", "final_eval/score_std",
                 "final_eval/expert_agreement", "final_eval/demo_agreement"}


def arguments(demo_file, run_dir, board, *extra):
    return ["train", "--game", "Pong", "--method", "dqfd", "--seed", "0", "--demos", str(demo_file), "--out",
            str(run_dir), "--threads", "1", "--device", "cpu", "--tensorboard", str(board),
            "--config-json", json.dumps(CONFIG), *extra]


@pytest.fixture(scope="module")
def demo_file(pong_demo_file, tmp_path_factory):
    """The demo fixture where the workflow keeps a demo set: its name is the run tag's demo set."""
    path = tmp_path_factory.mktemp("results") / f"demos/Pong/{SET}.npz"
    path.parent.mkdir(parents=True)
    shutil.copy(pong_demo_file, path)
    return path


@pytest.fixture(scope="module")
def uninterrupted(demo_file, tmp_path_factory):
    """An uninterrupted run with --tensorboard: its run folder and its TensorBoard folder."""
    pytest.importorskip("tensorboard", reason='the extra is not installed (pip install -e ".[tensorboard]")')
    folder = tmp_path_factory.mktemp("uninterrupted")
    assert main(arguments(demo_file, folder / "run", folder / "tensorboard")) == 0
    return folder / "run", folder / "tensorboard"


def scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar event of every event file of `folder`, tag by tag, in the order written (duplicates kept)."""
    from tensorboard.backend.event_processing.event_file_loader import LegacyEventFileLoader

    found: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        for event in LegacyEventFileLoader(str(path)).Load():  # the events as written
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_a_run_writes_its_scalars_under_its_tag_for_tensorboard_to_read(uninterrupted):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    run_dir, board = uninterrupted
    runs = EventMultiplexer().AddRunsFromDirectory(str(board)).Reload().Runs()
    assert list(runs) == [TAG], "one run, named <game>/<method>/<demo set>/seed_<N>, as `tensorboard --logdir` shows"
    accumulator = EventAccumulator(str(board / TAG))
    accumulator.Reload()
    assert set(accumulator.Tags()["scalars"]) == EXPECTED_TAGS

    def series(tag):
        return [(event.step, event.value) for event in accumulator.Scalars(tag)]

    progress = pd.read_csv(run_dir / "progress.csv")
    updates, episodes = progress[progress["kind"] == "updates"], progress[progress["kind"] == "episode"]
    assert [step for step, _ in series("train/loss")] == updates["update"].tolist()
    assert [value for _, value in series("train/loss")] == pytest.approx(updates["loss"].tolist(), rel=1e-6)
    assert [value for _, value in series("train/demo_fraction")] == pytest.approx(updates["demo_fraction"].tolist())
    interacting = updates[updates["phase"] == "interact"]
    assert [step for step, _ in series("train/epsilon")] == interacting["update"].tolist()
    assert [step for step, _ in series("episode/return")] == episodes["agent_step"].tolist() != []
    assert [value for _, value in series("episode/return")] == episodes["episode_return"].tolist()
    assert [value for _, value in series("episode/epsilon")] == pytest.approx(episodes["epsilon"].tolist())

    ladder = pd.read_csv(run_dir / "pretrain_eval.csv").groupby("update")
    assert series("pretrain_eval/score") == [(10, ladder["score"].mean()[10]), (20, ladder["score"].mean()[20])]
    assert [value for _, value in series("pretrain_eval/demo_agreement")] == \
        pytest.approx(ladder["demo_agreement"].mean().tolist())
    interaction = pd.read_csv(run_dir / "interaction_eval.csv")
    assert [step for step, _ in series("interaction_eval/score")] == [100, 200, 300]
    assert [value for _, value in series("interaction_eval/score")] == interaction["score"].tolist()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert series("final_eval/score") == [(summary["updates"], pytest.approx(summary["eval_score_mean"]))]
    assert series("final_eval/demo_agreement")[0][1] == pytest.approx(summary["eval_demo_agreement"])
    assert not [path for path in run_dir.rglob("*") if "tfevents" in path.name], "nothing of it in the run folder"


def kill_in_interaction(command, checkpoint_dir: Path) -> None:
    """Start `command` and kill it with SIGKILL once it has checkpointed 50 agent steps into interaction."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints, deadline = Checkpoints(checkpoint_dir), time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:  # after the ladder's evaluations, in interaction
        files = checkpoints.files()
        if files and int(files[-1].stem.split("-")[1]) > CONFIG["settings"]["pretrain_updates"] + 50:
            break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.skip("the run finished before the kill landed")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def assert_each_step_once_as_uninterrupted(board: Path, uninterrupted: Path) -> None:
    """Every tag holds each step once, across all event files of `board`, with the uninterrupted run's values."""
    written, expected = scalars(board), scalars(uninterrupted / TAG)
    assert set(written) == EXPECTED_TAGS
    for tag, events in written.items():
        steps = [step for step, _ in events]
        assert steps == sorted(set(steps)), f"{tag}: a step written twice or out of order"
        assert steps == [step for step, _ in expected[tag]], tag
        assert [value for _, value in events] == pytest.approx([value for _, value in expected[tag]], rel=1e-6), tag


def resume(command) -> None:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "resumed from a checkpoint" in result.stderr, result.stderr[-3000:]


def test_a_killed_run_resumes_its_scalars_without_writing_a_step_twice(demo_file, uninterrupted, tmp_path):
    """Killed after a checkpoint, at a random moment, then run again: every tag holds each step once, across the
    event files of both processes, with the uninterrupted run's values (what the kill kept from the writer's queue
    written again from the checkpoint's rows)."""
    command = [sys.executable, "-m", "agents",
               *arguments(demo_file, tmp_path / "run", tmp_path / "tensorboard", "--checkpoint-every-min", "0.002")]
    kill_in_interaction(command, tmp_path / "run/checkpoints")
    board = tmp_path / "tensorboard" / TAG
    assert list(board.glob("events.out.tfevents.*")), "the killed process had started its event file"
    resume(command)
    assert len(list(board.glob("events.out.tfevents.*"))) == 2, "the resumed process writes a file of its own"
    assert_each_step_once_as_uninterrupted(board, uninterrupted[1])


def test_a_run_resumed_with_tensorboard_writes_what_it_did_before(demo_file, uninterrupted, tmp_path):
    """Killed while running without --tensorboard, resumed with it: the scalars of the steps before the checkpoint
    come from the checkpoint's rows, and the run's scalars are the uninterrupted run's."""
    command = [sys.executable, "-m", "agents",
               *arguments(demo_file, tmp_path / "run", tmp_path / "tensorboard", "--checkpoint-every-min", "0.002")]
    without = command[:command.index("--tensorboard")] + command[command.index("--tensorboard") + 2:]
    kill_in_interaction(without, tmp_path / "run/checkpoints")
    assert not (tmp_path / "tensorboard").exists()
    resume(command)
    assert_each_step_once_as_uninterrupted(tmp_path / "tensorboard" / TAG, uninterrupted[1])


def test_a_run_that_starts_over_replaces_the_event_files_of_the_attempt_before(tmp_path):
    """Without a checkpoint to resume, the earlier attempt's scalars no longer count: its event files go. A resumed
    run keeps them and writes no step they hold."""
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from agents.board import Board

    first = Board(tmp_path, TAG, resumed=False)
    for step in (1, 2, 3):
        first.scalar("train/loss", 1.0 / step, step)
    first.close()
    resumed = Board(tmp_path, TAG, resumed=True)
    assert resumed.written == {"train/loss": 3}
    for step in (2, 3, 4):
        resumed.scalar("train/loss", 1.0 / step, step)
    resumed.scalar("train/q_mean", float("nan"), 4)  # nothing to plot: not written
    resumed.close()
    assert scalars(tmp_path / TAG) == {"train/loss": [(1, 1.0), (2, 0.5), (3, pytest.approx(1 / 3)), (4, 0.25)]}
    Board(tmp_path, TAG, resumed=False).close()
    assert scalars(tmp_path / TAG) == {}
    assert len(list((tmp_path / TAG).glob("events.out.tfevents.*"))) == 1


def test_a_missing_extra_is_refused_in_one_line_before_any_compute(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as where it is not installed: find_spec gives None

    def refuse(*args, **kwargs):
        raise AssertionError("the run started before TensorBoard was found missing")

    monkeypatch.setattr("agents.cell.resolve", refuse)
    code = main(["train", "--game", "Pong", "--method", "pdd_dqn", "--seed", "0", "--out", str(tmp_path / "run"),
                 "--tensorboard", str(tmp_path / "tensorboard")])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip().splitlines() == [f"error: --tensorboard {tmp_path / 'tensorboard'}: writing TensorBoard event "
                                        "files needs the tensorboard extra, which is not installed; "
                                        'pip install -e ".[tensorboard]"']
    assert not any(tmp_path.iterdir())


def test_the_workflow_refuses_tensorboard_without_the_extra_before_any_job(tmp_path):
    """`tensorboard: true` where the package is missing: one line while planning (here hidden from Snakemake's
    process as it would be absent); `snakemake figures`, which trains nothing, does not ask for it."""
    workdir = tmp_path / "workflow"
    workdir.mkdir()
    for name in ("Snakefile", "rules", "config", "envs"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, workdir / name)
    hidden = ("import sys; sys.modules['tensorboard'] = None; sys.argv[0] = 'snakemake'; "
              "from snakemake.cli import main; main()")
    command = [sys.executable, "-c", hidden, "--cores", "1", "--dry-run", "--configfile", "config/tiny.yaml",
               "--config", "tensorboard=true"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in output, output[-3000:]
    assert ('config error: tensorboard: true: writing TensorBoard event files needs the tensorboard extra, which is '
            'not installed; pip install -e ".[tensorboard]"') in output, output[-3000:]
    assert not (workdir / "results").exists()


def test_without_tensorboard_nothing_of_it_is_loaded(tmp_path):
    """Off by default, and free: a run without --tensorboard imports neither TensorBoard nor torch's writer."""
    check = ("import sys, json; from agents.__main__ import main; "
             "code = main(['train', '--game', 'Pong', '--method', 'pdd_dqn', '--seed', '0', '--out', sys.argv[1], "
             "'--threads', '1', '--device', 'cpu', '--config-json', json.dumps({'protocol_overrides': "
             "{'max_episode_frames': 100}, 'settings': {'agent_steps': 20, 'replay_capacity': 100, 'batch_size': 4, "
             "'eval_episodes': 1}, 'method_settings': {'pdd_dqn': {'learning_starts': 10}}})]); "
             "assert code == 0; print(sorted(name for name in sys.modules if 'tensorboard' in name))")
    environment = {key: value for key, value in os.environ.items() if key != "AGENTS_TENSORBOARD"}
    result = subprocess.run([sys.executable, "-c", check, str(tmp_path / "run")], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, env={**environment, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_verify_reruns_write_no_tensorboard_scalars(tmp_path, monkeypatch):
    """`python -m analysis verify` under the workflow's tensorboard: true: its reruns of reference cells carry no
    TensorBoard folder, since a rerun starting over under a cell's tag would remove the matrix run's event files."""
    from analysis.verify import Code

    monkeypatch.setenv("AGENTS_TENSORBOARD", str(tmp_path / "tensorboard"))
    given = {}

    def run(command, **kwargs):
        given.update(kwargs["env"])
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr("analysis.verify.subprocess.run", run)
    Code("checkout", tmp_path).command("0" * 40, "train", "--game", "Pong", log=tmp_path / "logs/train.log")
    assert given["PYTHONPATH"].startswith(str(ROOT)) and "AGENTS_TENSORBOARD" not in given
