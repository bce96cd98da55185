"""Evaluation: raw scores; agreement with the game's scripted demonstrator on the agent's own states; a no-op start of
its own for each episode, the same for every method of a seed; and the greedy evaluations along interaction, which
leave the training untouched and survive a kill."""
import json

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
import torch

from agents.cell import resolve, values
from agents.checkpoint import Checkpoints
from agents.demos.scripted import DEMONSTRATORS
from agents.envs import make_env, noop_counts
from agents.errors import ConfigError
from agents.evaluation import (EVAL_SEED_OFFSET, distinct_starts, evaluate, evaluation_noops, start_variety)
from agents.run import Run

CONFIG = {"protocol_overrides": {"max_episode_frames": 400},
           "settings": {"eval_episodes": 2, "agent_steps": 100, "replay_capacity": 200, "eval_epsilon": 0.0},
           "method_settings": {"pdd_dqn": {"learning_starts": 50}}}


def test_expert_agreement_counts_the_steps_where_the_demonstrator_would_act_alike():
    cell = resolve("Pong", "pdd_dqn", 3, CONFIG)
    protocol = values(cell["protocol"])
    evaluation = evaluate(lambda state: 0, "Pong", protocol, 3, episodes=2)  # an agent that always plays NOOP

    # The same two episodes by hand, each from the no-op start the evaluation recorded: the demonstrator is asked in
    # every state the NOOP agent reaches.
    env = make_env("Pong", protocol, 3 + EVAL_SEED_OFFSET)
    expert, expected = DEMONSTRATORS["Pong"].policy(env, 3), []
    for episode, noops in enumerate(evaluation["noops"]):
        env.reset(seed=3 + EVAL_SEED_OFFSET if episode == 0 else None, options={"noops": int(noops)})
        expert.reset()
        choices, done = [], False
        while not done:
            choices.append(expert.act())
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
        expected.append(np.mean(np.array(choices) == 0))
    assert np.allclose(evaluation["expert_agreement"], expected)
    assert 0 < min(expected) and max(expected) < 1  # the demonstrator both waits and moves


# ------------------------------------------------------------------------------------------------ no-op starts
def protocol_of(**overrides):
    return values(resolve("Pong", "pdd_dqn", 0, dict(CONFIG, protocol_overrides={**CONFIG["protocol_overrides"],
                                                                                 **overrides}))["protocol"])


def gymnasium_env(protocol, seed):
    """The emulator wrapped in gymnasium's own AtariPreprocessing, as make_env builds it but for the subclass."""
    env = gym.make("ALE/Pong-v5", frameskip=1, obs_type="grayscale",
                   repeat_action_probability=protocol["repeat_action_probability"],
                   full_action_space=protocol["full_action_space"],
                   max_num_frames_per_episode=protocol["max_episode_frames"])
    return gym.wrappers.AtariPreprocessing(env, noop_max=protocol["noop_max"], frame_skip=protocol["frame_skip"],
                                           screen_size=protocol["screen_size"],
                                           terminal_on_life_loss=protocol["terminal_on_life_loss"],
                                           grayscale_obs=True, scale_obs=False)


def test_a_given_noop_count_is_played_as_gymnasium_plays_a_drawn_one():
    """For several seeds: the count gymnasium's AtariPreprocessing draws (from the emulator's generator, seeded by the
    reset), given to make_env's reset, leads to the same emulator state, frame and next frames."""
    protocol = protocol_of()
    starts = set()
    for seed in range(6):
        reference = gymnasium_env(protocol, seed)
        frame, _ = reference.reset(seed=seed)
        given = make_env("Pong", protocol, seed)
        given.reset(seed=seed, options={"noops": 1})
        drawn = int(given.unwrapped.np_random.integers(1, protocol["noop_max"] + 1))  # what the reset left undrawn
        same, info = given.reset(seed=seed, options={"noops": drawn})
        assert info["noops"] == drawn
        assert np.array_equal(same, frame)
        assert np.array_equal(given.unwrapped.ale.getRAM(), reference.unwrapped.ale.getRAM())
        assert given.unwrapped.ale.getEpisodeFrameNumber() == reference.unwrapped.ale.getEpisodeFrameNumber() == drawn
        for action in (2, 3, 0, 2):
            assert np.array_equal(given.step(action)[0], reference.step(action)[0])
        starts.add(drawn)
    assert len(starts) > 1  # the seeds drew different counts: the comparison covers more than one
    with pytest.raises(ValueError, match="1 to 30 no-ops"):
        given.reset(options={"noops": 31})


def test_the_episodes_of_an_evaluation_start_apart_and_alike_for_every_method_of_a_seed():
    protocol = protocol_of()
    counts = evaluation_noops(protocol, 7, 5)
    assert len(set(counts)) == 5 and set(counts) <= set(range(1, 31))
    assert counts == evaluation_noops(protocol, 7, 5) and counts != evaluation_noops(protocol, 8, 5)
    assert evaluation_noops(protocol, 7, 3) == counts[:3], "an evaluation of fewer episodes takes the first starts"
    # Two policies (two methods) of one seed: the same starts, each episode its own, recorded as played.
    noop_agent = evaluate(lambda state: 0, "Pong", protocol, 7, episodes=3)
    fire_agent = evaluate(lambda state: 1, "Pong", protocol, 7, episodes=3)
    assert noop_agent["noops"].tolist() == fire_agent["noops"].tolist() == counts[:3]
    assert distinct_starts(protocol, noop_agent) == 3
    assert start_variety(protocol, noop_agent) == "a no-op count of its own per episode"
    assert list(noop_agent.columns) == ["episode", "score", "length", "ended_by", "noops", "expert_agreement"]
    # Every frame counts toward the cap, the no-ops' too: different starts, different lengths.
    assert noop_agent["length"].nunique() == 3


def test_beyond_noop_max_episodes_counts_repeat_and_without_noop_starts_there_are_none():
    rng = np.random.default_rng(0)
    counts = noop_counts(30, 45, rng)
    assert sorted(counts[:30]) == list(range(1, 31)) and len(set(counts)) == 30
    evaluation = pd.DataFrame({"noops": counts})
    assert distinct_starts({"noop_max": 30}, evaluation) == 30
    assert start_variety({"noop_max": 30}, evaluation) == "30 no-op counts (1 to 30) over 45 episodes: counts repeat"
    sticky = protocol_of(noop_max=0, repeat_action_probability=0.25)
    assert evaluation_noops(sticky, 7, 4) == [0, 0, 0, 0]
    played = evaluate(lambda state: 0, "Pong", sticky, 7, episodes=2)
    assert played["noops"].tolist() == [0, 0] and distinct_starts(sticky, played) is None
    assert start_variety(sticky, played) == "no no-op starts: sticky actions vary the episodes"


# --------------------------------------------------------------------------------- evaluation along interaction
RUN_CONFIG = {"protocol_overrides": {"max_episode_frames": 400},
              "settings": {"agent_steps": 200, "replay_capacity": 1000, "batch_size": 8, "target_update_period": 20,
                           "eval_episodes": 2},
              "method_settings": {"pdd_dqn": {"learning_starts": 50, "epsilon_decay_steps": 100}}}


def run_cell(folder, method="pdd_dqn", demos=None, run_class=Run, **settings):
    cell = resolve("Pong", method, 0, dict(RUN_CONFIG, settings={**RUN_CONFIG["settings"], **settings}))
    run_class(cell, folder, demos, threads=1, device="cpu", checkpoint_every_s=1e9).execute()
    return folder


def records(folder):
    """What a run recorded, but wall-clock and CPU times."""
    summary = json.loads((folder / "summary.json").read_text())
    summary.pop("wall_s")
    summary.pop("cpu_s")
    return (summary, pd.read_csv(folder / "progress.csv").drop(columns="wall_s"), pd.read_csv(folder / "eval.csv"),
            torch.load(folder / "model.pt", weights_only=True))


@pytest.fixture(scope="module")
def evaluated_along(tmp_path_factory):
    """A PDD-DQN run evaluated greedily every 50 agent steps, 2 episodes each."""
    return run_cell(tmp_path_factory.mktemp("evaluated"), interaction_eval_every=50, interaction_eval_episodes=2)


def test_evaluating_along_interaction_leaves_the_training_as_it_is(evaluated_along, tmp_path):
    plain = run_cell(tmp_path / "plain")
    (summary, progress, evaluation, weights), (other_summary, other_progress, other_evaluation, other_weights) = (
        records(plain), records(evaluated_along))
    assert summary == other_summary
    pd.testing.assert_frame_equal(progress, other_progress)
    pd.testing.assert_frame_equal(evaluation, other_evaluation)
    assert weights.keys() == other_weights.keys() and all(torch.equal(weights[k], other_weights[k]) for k in weights)
    assert (progress["kind"] == "episode").sum() >= 2, "the interaction should cross episode ends"
    empty = pd.read_csv(plain / "interaction_eval.csv")
    assert empty.empty and list(empty.columns) == ["agent_step", "update", "episode", "score", "length", "ended_by",
                                                   "noops", "expert_agreement"]


def test_interaction_is_evaluated_at_every_multiple_of_its_period(evaluated_along):
    rows = pd.read_csv(evaluated_along / "interaction_eval.csv")
    assert rows["agent_step"].tolist() == [50, 50, 100, 100, 150, 150, 200, 200]
    assert rows["episode"].tolist() == [0, 1] * 4
    # The same two starts at every evaluation, and the final evaluation's (the cell's seed alone draws them).
    final = pd.read_csv(evaluated_along / "eval.csv")
    assert rows.groupby("agent_step")["noops"].apply(list).tolist() == [final["noops"].tolist()] * 4
    assert final["noops"].nunique() == 2
    # An update at each agent step t >= 50 (learning_starts) that 4 (update_period) divides: by agent step k, the
    # steps 0..k-1 are played.
    assert rows.groupby("agent_step")["update"].first().tolist() == [
        sum(1 for t in range(50, k) if t % 4 == 0) for k in (50, 100, 150, 200)]
    summary = json.loads((evaluated_along / "summary.json").read_text())
    assert summary["eval_distinct_starts"] == 2 and summary["eval_time_limit_episodes"] == 2


class Killed(Exception):
    """Stands in for SIGKILL: the process stops right after the checkpoint that follows an evaluation."""


class KilledAfterSecondEvaluation(Run):
    def _evaluate_interaction(self):
        super()._evaluate_interaction()
        if self.step == 100:
            raise Killed


def test_a_run_stopped_after_an_evaluation_resumes_without_evaluating_it_again(evaluated_along, tmp_path):
    with pytest.raises(Killed):
        run_cell(tmp_path, run_class=KilledAfterSecondEvaluation, interaction_eval_every=50,
                 interaction_eval_episodes=2)
    state = Checkpoints(tmp_path / "checkpoints").load_latest()
    assert state["counters"]["step"] == 100, "a checkpoint follows each evaluation"
    assert [row["agent_step"] for row in state["interaction_eval_rows"]] == [50, 50, 100, 100]
    run_cell(tmp_path, interaction_eval_every=50, interaction_eval_episodes=2)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "interaction_eval.csv"),
                                  pd.read_csv(evaluated_along / "interaction_eval.csv"))
    first, second = records(tmp_path), records(evaluated_along)
    assert first[0] == second[0]
    pd.testing.assert_frame_equal(first[1], second[1])
    pd.testing.assert_frame_equal(first[2], second[2])


def test_the_pretraining_ladder_and_the_final_evaluation_record_the_same_starts(pong_demo_file, evaluated_along,
                                                                                tmp_path):
    """DQfD on seed 0 evaluated at two rungs: each rung's episodes start as the final evaluation's, and as PDD-DQN's
    of the same seed."""
    run_cell(tmp_path, method="dqfd", demos=pong_demo_file, pretrain_updates=20, agent_steps=0,
             pretrain_eval_updates=[10, 20], pretrain_eval_episodes=2)
    ladder, final = pd.read_csv(tmp_path / "pretrain_eval.csv"), pd.read_csv(tmp_path / "eval.csv")
    assert ladder["update"].tolist() == [10, 10, 20, 20]
    assert "noops" in ladder and ladder.groupby("update")["noops"].apply(list).tolist() == [final["noops"].tolist()] * 2
    assert final["noops"].tolist() == pd.read_csv(evaluated_along / "eval.csv")["noops"].tolist()


@pytest.mark.parametrize("settings, message", [
    ({"interaction_eval_every": -50}, "interaction_eval_every=-50 in config settings must be >= 0"),
    ({"interaction_eval_every": 50, "interaction_eval_episodes": 0},
     "interaction_eval_episodes=0 in config settings must be >= 1"),
    ({"interaction_eval_every": 500}, "interaction_eval_every=500 of method 'pdd_dqn' is longer than its "
                                      "agent_steps=200"),
])
def test_bad_interaction_evaluation_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        resolve("Pong", "pdd_dqn", 0, dict(RUN_CONFIG, settings={**RUN_CONFIG["settings"], **settings}))
    # A method that never interacts has nothing to evaluate along interaction: the config-wide setting passes it by.
    resolve("Pong", "bc", 0, dict(RUN_CONFIG, settings={**RUN_CONFIG["settings"], "interaction_eval_every": 500}))
