"""Pretrain & finetune (bc_finetune) and Ape-X DQfD (apex_dqfd): what each learns from in which phase, the settings
each refuses, and each end to end on a tiny budget. Their loss terms are checked by hand in tests/test_losses.py."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from agents.cell import resolve, values
from agents.checkpoint import Checkpoints
from agents.errors import ConfigError
from agents.learner import Learner
from agents.rules import planned_updates
from agents.run import Run
from agents.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CONFIG = {"settings": {"replay_capacity": 64, "batch_size": 4, "agent_steps": 60, "pretrain_updates": 5},
          "method_settings": {"bc_finetune": {"learning_starts": 10}}}


def filled_learner(method, config=CONFIG):
    """A learner with 20 demonstration frames in its replay, as a run prepares it."""
    cell = resolve("Pong", method, 0, config)
    torch.manual_seed(0)
    settings = Settings.of(cell["settings"])
    learner = Learner(cell["algorithm"], settings, values(cell["protocol"]), num_actions=6, device=torch.device("cpu"),
                      rng=np.random.default_rng(0), demo_capacity=20, agent_capacity=64,
                      planned_updates=planned_updates(settings, cell["algorithm"]))
    frames = np.random.default_rng(0).integers(0, 255, (20, 84, 84), dtype=np.uint8)
    steps = np.arange(20)
    learner.add_demonstrations(frames, steps % 6, np.zeros(20), steps == 19, steps < 19, steps)
    return learner


def test_bc_finetune_clones_the_demonstrations_then_finetunes_pdd_dqn_on_agent_data_alone():
    learner = filled_learner("bc_finetune")
    drawn, sample = [], learner.replay.sample
    learner.replay.sample = lambda *args: drawn.append((sampled := sample(*args))[1].is_demo.copy()) or sampled
    phase_one = learner.update(agent_step=0)
    assert {"loss_cross_entropy", "accuracy"} <= set(phase_one) and "loss_1_step" not in phase_one
    assert drawn[-1].all(), "phase I has the demonstrations alone"
    frames = np.random.default_rng(1).integers(0, 255, (61, 84, 84), dtype=np.uint8)
    learner.begin_episode(frames[0])
    learner.begin_interaction()
    s = learner.settings
    for step in range(s.agent_steps):  # as agents/run.py interacts
        learner.observe(step % 6, 1.0, False, frames[step + 1])
        for _ in range(learner.updates_after(step)):
            metrics = learner.update(agent_step=step + 1)
            assert not drawn[-1].any(), "phase II never draws a demonstration"
            # PDD-DQN: TD losses, no margin and no L2 (the pdd_dqn method's λ2 = λ3 = 0)
            assert float(metrics["loss_supervised"]) == 0.0 and float(metrics["loss_l2"]) == 0.0
            assert float(metrics["demo_fraction"]) == 0.0 and float(metrics["loss_1_step"]) > 0.0
    assert learner.updates == 1 + learner.algorithm.interaction_updates(s)


@pytest.mark.parametrize("changes, expected", [
    ({"use_demos": False, "pretrain_updates": 0}, "pretrains by cloning demonstrations before it finetunes"),
    ({"pretrain_updates": 0}, "pretrains by cloning demonstrations before it finetunes"),
    ({"use_demos": False}, "pretrains by cloning demonstrations before it finetunes; set use_demos: true"),
    # Its first interaction update must find an agent transition, or it would draw demonstrations: n_step 10, so
    # after agent step 8 (9 played) none is sampleable yet.
    ({"learning_starts": 8}, "would find no agent transition sampleable (each once the n_step=10 steps its return "
                             "reads are played) and draw demonstrations instead; set learning_starts to at least 9"),
])
def test_bc_finetune_is_refused_without_demonstrations_to_clone_or_agent_data_to_finetune_on(changes, expected):
    config = {**CONFIG, "method_settings": {"bc_finetune": {**CONFIG["method_settings"]["bc_finetune"], **changes}}}
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolve("Pong", "bc_finetune", 0, config)


def test_apex_dqfd_mixes_a_fixed_quarter_of_expert_data_into_every_batch_under_the_papers_settings():
    s = Settings.of(resolve("Pong", "apex_dqfd", 0, {})["settings"])
    assert (s.gamma, s.demo_share, s.value_transform_epsilon, s.reward_transform) == (0.999, 0.25, 0.01,
                                                                                                   "none")
    assert s.margin == pytest.approx(0.999**0.5) and s.lambda_l2 == 0.0
    config = {"settings": {"replay_capacity": 64, "batch_size": 8, "agent_steps": 60},
              "method_settings": {"apex_dqfd": {"learning_starts": 16}}}
    learner = filled_learner("apex_dqfd", config)
    drawn, sample = [], learner.replay.sample
    learner.replay.sample = lambda *args: drawn.append(int((sampled := sample(*args))[1].is_demo.sum())) or sampled
    frames = np.random.default_rng(1).integers(0, 255, (61, 84, 84), dtype=np.uint8)
    learner.begin_episode(frames[0])
    learner.begin_interaction()
    for step in range(learner.settings.agent_steps):
        learner.observe(step % 6, 1.0, False, frames[step + 1])
        for _ in range(learner.updates_after(step)):
            metrics = learner.update(agent_step=step + 1)
            assert np.isfinite(float(metrics["loss_temporal_consistency"]))
    assert drawn == [2] * len(drawn) and len(drawn) == 11  # a quarter of 8, at steps 16, 20, ..., 56


@pytest.mark.parametrize("changes, expected", [
    ({"demo_share": 1.5}, "demo_share=1.5 in config method_settings.apex_dqfd must be in [0, 0.99]"),
    ({"demo_share": -0.25}, "must be in [0, 0.99]"),
    ({"demo_share": 0.0}, "set use_demos: true and demo_share above 0"),
    ({"use_demos": False}, "mixes expert data into every batch at a fixed share; set use_demos: true"),
])
def test_apex_dqfd_is_refused_without_a_fixed_expert_share(changes, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        resolve("Pong", "apex_dqfd", 0, {"method_settings": {"apex_dqfd": changes}})


# Pong with 400-frame episodes (the demo fixture's protocol): a few hundred agent steps cross several episode ends.
TINY = {
    "protocol_overrides": {"max_episode_frames": 400},
    "settings": {"pretrain_updates": 20, "agent_steps": 200, "replay_capacity": 1000, "batch_size": 8,
                 "target_update_period": 20, "eval_episodes": 1},
    "method_settings": {"bc_finetune": {"learning_starts": 100, "pretrain_eval_updates": [20],
                                        "interaction_eval_every": 100, "interaction_eval_episodes": 1},
                        "apex_dqfd": {"learning_starts": 100, "epsilon_decay_steps": 100}},
}


@pytest.mark.parametrize("method, updates", [("bc_finetune", 20 + 25), ("apex_dqfd", 25)])
def test_each_method_trains_end_to_end_on_a_tiny_budget(method, updates, pong_demo_file, tmp_path):
    result = subprocess.run([sys.executable, "-m", "agents", "train", "--game", "Pong", "--method", method, "--seed",
                             "0", "--demos", str(pong_demo_file), "--out", str(tmp_path), "--threads", "1",
                             "--device", "cpu", "--config-json", json.dumps(TINY)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["updates"] == updates and summary["algorithm"] == method
    progress = pd.read_csv(tmp_path / "progress.csv")
    rows = progress[progress["kind"] == "updates"]
    if method == "bc_finetune":
        assert rows.loc[rows["phase"] == "pretrain", "loss_cross_entropy"].notna().all()
        assert (rows.loc[rows["phase"] == "interact", "demo_fraction"] == 0.0).all()
        # The evaluation at the end of pretraining: the score of its own pretrained policy (the ledger's `pretrained`).
        assert pd.read_csv(tmp_path / "pretrain_eval.csv")["update"].tolist() == [20, 20, 20]
    else:
        assert (rows["demo_fraction"] == 0.25).all() and rows["loss_temporal_consistency"].notna().all()


class Killed(Exception):
    """Stands in for SIGKILL: the process stops right after the checkpoint that follows an evaluation."""


class KilledInFinetuning(Run):
    def _evaluate_interaction(self):
        super()._evaluate_interaction()
        if self.step == 100:
            raise Killed


def test_a_bc_finetune_run_stopped_in_finetuning_resumes_with_the_finetuning_loss(pong_demo_file, tmp_path):
    """A resumed process builds its learner with phase I's loss (cloning); it must take up phase II's (PDD-DQN) where
    the stopped one left off, or its updates after the resume would clone again."""
    from test_evaluation import records

    config = {"protocol_overrides": {"max_episode_frames": 400},
              "settings": {"pretrain_updates": 20, "agent_steps": 200, "replay_capacity": 1000, "batch_size": 8,
                           "target_update_period": 20, "eval_episodes": 1, "interaction_eval_every": 100,
                           "interaction_eval_episodes": 1},
              "method_settings": {"bc_finetune": {"learning_starts": 50}}}
    cell = resolve("Pong", "bc_finetune", 0, config)

    def run(folder, run_class=Run):
        run_class(cell, folder, pong_demo_file, threads=1, device="cpu", checkpoint_every_s=1e9).execute()

    run(tmp_path / "uninterrupted")
    with pytest.raises(Killed):
        run(tmp_path / "stopped", KilledInFinetuning)
    assert Checkpoints(tmp_path / "stopped" / "checkpoints").load_latest()["counters"]["step"] == 100
    run(tmp_path / "stopped")
    first, second = records(tmp_path / "uninterrupted"), records(tmp_path / "stopped")
    assert first[0] == second[0]
    pd.testing.assert_frame_equal(first[1], second[1])
    pd.testing.assert_frame_equal(first[2], second[2])
    assert all(torch.equal(first[3][key], second[3][key]) for key in first[3])
    rows = first[1][first[1]["kind"] == "updates"]
    assert rows.loc[rows["phase"] == "interact", "loss_1_step"].notna().all(), "phase II is PDD-DQN's loss"
