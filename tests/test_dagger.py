"""DAgger: the β schedule and its mixing, the iteration schedule, the demonstrator's labels in the states the agent
reached, an aggregated data set that never drops a labelled state, and a killed run that resumes and ends where an
uninterrupted one ends. MsPacman's demonstrator keeps a direction, a step count and a random generator, so its labels
depend on the trajectory it is stepped along: the hardest case for both the labels and the resume."""
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

from agents.cell import resolve, values
from agents.checkpoint import Checkpoints
from agents.demos.scripted import DEMONSTRATORS
from agents.envs import make_env
from agents.errors import ConfigError
from agents.methods import ALGORITHMS
from agents.rules import planned_updates
from agents.run import LABEL_STREAM, Run
from agents.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
GAME = "MsPacman"
# Four iterations of 100 agent steps, 10 updates after each, on 400-frame episodes (the demo fixture's protocol), so
# the interaction crosses episode ends and the learner acts from the second iteration on (β = 0.5, 0.25, 0.125).
CONFIG = {
    "protocol_overrides": {"max_episode_frames": 400},
    "settings": {"pretrain_updates": 30, "replay_capacity": 1000, "batch_size": 8, "target_update_period": 20,
                 "eval_episodes": 1, "interaction_eval_every": 200, "interaction_eval_episodes": 1},
    "method_settings": {"dagger": {"agent_steps": 400, "dagger_iteration_steps": 100, "dagger_iteration_updates": 10,
                                   "dagger_beta_decay": 0.5}},
}


def settings(**changes):
    config = {**CONFIG, "method_settings": {"dagger": {**CONFIG["method_settings"]["dagger"], **changes}}}
    return Settings.of(resolve(GAME, "dagger", 0, config)["settings"])


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory, short_protocol):
    from agents.demos.files import record

    folder = tmp_path_factory.mktemp("dagger_demos")
    record(GAME, short_protocol, episodes=1, seed=3, path=folder / f"{GAME}.npz", stats_path=folder / "stats.csv")
    return folder / f"{GAME}.npz"


def test_beta_is_one_in_the_first_iteration_then_p_to_the_iteration_less_one():
    dagger = ALGORITHMS["dagger"](settings())
    assert [dagger.beta(step) for step in (0, 99, 100, 199, 200, 399)] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.125]
    indicator = ALGORITHMS["dagger"](settings(dagger_beta_decay=0.0))  # Ross et al.'s β_i = I(i = 1)
    assert [indicator.beta(step) for step in (0, 99, 100, 399)] == [1.0, 1.0, 0.0, 0.0]
    always = ALGORITHMS["dagger"](settings(dagger_beta_decay=1.0))  # the demonstrator always acts: more demonstrations
    assert always.beta(399) == 1.0


def test_the_demonstrator_acts_with_probability_beta():
    dagger, rng = ALGORITHMS["dagger"](settings()), np.random.default_rng(0)
    for step, beta in ((0, 1.0), (150, 0.5), (250, 0.25)):
        share = np.mean([dagger.expert_acts(step, rng) for _ in range(20000)])
        assert abs(share - beta) < 0.01, (step, share)
    never = ALGORITHMS["dagger"](settings(dagger_beta_decay=0.0))
    assert not any(never.expert_acts(150, rng) for _ in range(1000))


def test_updates_come_in_bursts_at_the_end_of_each_iteration_and_are_counted_ahead():
    s = settings()
    dagger = ALGORITHMS["dagger"](s)
    due = [dagger.updates_after(step) for step in range(s.agent_steps)]
    assert [step for step, count in enumerate(due) if count] == [99, 199, 299, 399]
    assert set(due) == {0, 10}
    assert planned_updates(s, "dagger") == 30 + 4 * 10


@pytest.mark.parametrize("game, changes, expected", [
    ("Seaquest", {}, "Seaquest has none; run it on a game with one"),
    (GAME, {"dagger_iteration_steps": 0}, "dagger_iteration_steps=0 in config method_settings.dagger must be >= 1"),
    (GAME, {"dagger_beta_decay": 1.5}, "dagger_beta_decay=1.5 in config method_settings.dagger must be in [0, 1]"),
    (GAME, {"dagger_beta_decay": -0.1}, "must be in [0, 1]"),
    (GAME, {"agent_steps": 450}, "agent_steps=450 is not a positive multiple of it"),
    (GAME, {"replay_capacity": 800}, "set replay_capacity to at least 801"),
])
def test_dagger_is_refused_where_it_cannot_run_as_declared(game, changes, expected):
    config = {**CONFIG, "method_settings": {"dagger": {**CONFIG["method_settings"]["dagger"], **changes}}}
    with pytest.raises(ConfigError) as refused:
        resolve(game, "dagger", 0, config)
    assert expected in str(refused.value) and "\n" not in str(refused.value)


def recorded(obj, name, log, what=lambda args, out: out):
    """Replace obj.name by a call that logs `what` of its arguments and result."""
    original = getattr(obj, name)

    def call(*args, **keywords):
        out = original(*args, **keywords)
        log.append(what(args, out))
        return out

    setattr(obj, name, call)


def test_labels_are_the_demonstrators_actions_in_the_states_the_agent_reached_and_all_are_kept(demo_file, tmp_path):
    cell = resolve(GAME, "dagger", 0, CONFIG)
    run = Run(cell, tmp_path / "run", demo_file, threads=1, device="cpu", checkpoint_dir=tmp_path / "checkpoints",
              checkpoint_every_s=1e9)
    run.prepare()
    labels, played, resets, grown = [], [], [], []
    recorded(run.expert, "act", labels)
    recorded(run.env, "step", played, what=lambda args, out: int(args[0]))
    recorded(run.env, "reset", resets)
    recorded(run.learner, "update", grown, what=lambda args, out: (args[0], run.learner.replay.valid_agent))
    run._pretrain()
    grown.clear()  # phase I's updates
    run._interact()
    run.checkpoints.release()
    s, replay = Settings.of(cell["settings"]), run.learner.replay

    # Whoever acted, the demonstrator was asked once per agent step, and the replay stores its label.
    assert len(labels) == len(played) == s.agent_steps
    agent = np.arange(replay.demo_capacity, replay.demo_capacity + replay.agent_written)
    assert replay.actions[agent[replay.has_action[agent]]].tolist() == labels
    first = s.dagger_iteration_steps
    assert played[:first] == labels[:first], "β_1 = 1: the demonstrator plays the whole first iteration"
    assert played[first:] != labels[first:], "from the second iteration on the learner acts too"

    # The labels are the demonstrator's actions in the states reached: a fresh emulator and demonstrator, stepped
    # along the actions played, give the same labels and the same frames, which the replay holds with them.
    env = make_env(GAME, values(cell["protocol"]), cell["seed"])
    expert = DEMONSTRATORS[GAME].policy(env, [cell["seed"], LABEL_STREAM])
    frame, _ = env.reset(seed=cell["seed"])
    frames = [frame]
    for index, action in enumerate(played):
        assert expert.act() == labels[index], f"label at agent step {index}"
        frame, _, terminated, truncated, _ = env.step(action)
        frames.append(frame)
        if terminated or truncated:
            frame, _ = env.reset()
            expert.reset()
            frames.append(frame)
    env.close()
    assert len(resets) == len(frames) - len(played) > 1, "the interaction crosses episode ends"
    assert np.array_equal(replay.frames[agent], np.stack(frames))

    # Aggregation never drops a state: nothing was overwritten, and every labelled state is sampleable but the newest,
    # whose one-step look-ahead the replay waits for (n_step = 1).
    assert replay.agent_written <= replay.agent_capacity
    assert replay.valid_agent == s.agent_steps - len(replay.pending) and len(replay.pending) <= 1
    # The data set grows by an iteration's states before each burst of updates, and stays put during one.
    bursts = [[count for step, count in grown if step == end] for end in (100, 200, 300, 400)]
    assert [len(burst) for burst in bursts] == [s.dagger_iteration_updates] * 4
    assert all(len(set(burst)) == 1 for burst in bursts)
    assert [burst[0] for burst in bursts] == pytest.approx([100, 200, 300, 400], abs=1)


def train_command(demo_file, run_dir):
    return [sys.executable, "-m", "agents", "train", "--game", GAME, "--method", "dagger", "--seed", "0", "--demos",
            str(demo_file), "--out", str(run_dir), "--threads", "1", "--device", "cpu", "--checkpoint-every-min",
            "0.005", "--config-json", json.dumps(CONFIG)]


def train(demo_file, run_dir):
    result = subprocess.run(train_command(demo_file, run_dir), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


def test_a_killed_dagger_run_resumes_and_ends_where_an_uninterrupted_run_ends(demo_file, tmp_path):
    from test_resume import outcome  # everything a run produced but wall-clock times

    uninterrupted = tmp_path / "uninterrupted"
    train(demo_file, uninterrupted)
    killed = tmp_path / "killed"
    rng, checkpoints, positions = np.random.default_rng(), Checkpoints(killed / "checkpoints"), []
    for _ in range(3):
        process = subprocess.Popen(train_command(demo_file, killed), cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        # Kill at a random moment after this process has checkpointed during the interaction (a checkpoint's
        # position counts phase I's 30 updates, then agent steps), where the demonstrator's memory must come back.
        before = checkpoints.files()[-1].name if checkpoints.files() else None
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            files = checkpoints.files()
            if files and files[-1].name != before and int(files[-1].stem.split("-")[1]) > 30:
                break
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0) if positions else 0.0)  # the first kill at once, so that one always lands
        if process.poll() is not None:
            break
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        positions.append(checkpoints.files()[-1].name)
        assert not (killed / "summary.json").exists()
    assert positions, "no kill landed before the run finished"
    log = train(demo_file, killed)
    assert "resumed from a checkpoint" in log
    first, second = outcome(uninterrupted), outcome(killed)
    assert first[0] == second[0] and first[0]["updates"] == 30 + 4 * 10
    for one, other in zip(first[1:3] + first[4:], second[1:3] + second[4:]):  # progress, eval, interaction_eval
        pd.testing.assert_frame_equal(one, other)
    assert first[3].keys() == second[3].keys() and all(torch.equal(first[3][key], second[3][key]) for key in first[3])
    assert first[4]["agent_step"].tolist() == [200, 400], "each agent step evaluated once"
