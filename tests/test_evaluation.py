"""The final evaluation: raw scores, and agreement with the game's scripted demonstrator on the agent's own states."""
import numpy as np

from agents.config import resolve, values
from agents.demos.scripted import DEMONSTRATORS
from agents.envs import make_env
from agents.evaluation import EVAL_SEED_OFFSET, evaluate

CONFIG = {"protocol_overrides": {"max_episode_frames": 400},
           "settings": {"eval_episodes": 2, "agent_steps": 100, "replay_capacity": 200, "eval_epsilon": 0.0},
           "method_settings": {"pdd_dqn": {"learning_starts": 50}}}


def test_expert_agreement_counts_the_steps_where_the_demonstrator_would_act_alike():
    cell = resolve("Pong", "pdd_dqn", 3, CONFIG)
    protocol = values(cell["protocol"])
    evaluation = evaluate(lambda state: 0, "Pong", protocol, 3, episodes=2)  # an agent that always plays NOOP

    # The same two episodes by hand: the demonstrator is asked in every state the NOOP agent reaches.
    env = make_env("Pong", protocol, 3 + EVAL_SEED_OFFSET)
    expert, expected = DEMONSTRATORS["Pong"].policy(env, 3), []
    for episode in range(2):
        env.reset(seed=3 + EVAL_SEED_OFFSET if episode == 0 else None)
        expert.reset()
        choices, done = [], False
        while not done:
            choices.append(expert.act())
            _, _, terminated, truncated, _ = env.step(0)
            done = terminated or truncated
        expected.append(np.mean(np.array(choices) == 0))
    assert np.allclose(evaluation["expert_agreement"], expected)
    assert 0 < min(expected) and max(expected) < 1  # the demonstrator both waits and moves
