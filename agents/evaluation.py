"""Evaluation: episodes played by a fixed policy under the run's protocol, with its own environment seed and random
generator so that it never shifts the training stream; and how far imitation carries off the demonstrations (covariate
shift): agreement with the demonstrator on the demonstration states against agreement on the agent's own states."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .demos.scripted import DEMONSTRATORS
from .envs import FrameStacker, episode_starts, make_env
from .progress import Progress

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use their own environment seed, never the training one
DEMO_AGREEMENT_STATES = 8192  # demonstration states scored for agreement: at most this many, evenly spaced
AGREEMENT_BATCH = 256


def evaluate(policy: Callable[[np.ndarray], int], game: str, protocol: dict, seed: int, episodes: int,
             label: str = "evaluation") -> pd.DataFrame:
    """Score, length and end of each episode `policy` (stacked state → action) plays. Where the game has a scripted
    demonstrator it is asked what it would do in each state the agent reaches: `expert_agreement` is the share of
    steps on which the two agree."""
    env = make_env(game, protocol, seed + EVAL_SEED_OFFSET)
    stacker = FrameStacker(protocol["frame_stack"])
    demonstrator = DEMONSTRATORS.get(game)
    expert = demonstrator.policy(env, seed) if demonstrator else None
    results = []
    progress = Progress(total=episodes, unit="episode", label=label)
    for episode, frame in episode_starts(env, seed + EVAL_SEED_OFFSET, episodes):
        state, score, length, agreed, done = stacker.reset(frame), 0.0, 0, 0, False
        if expert:
            expert.reset()
        while not done:
            action = policy(state)
            agreed += bool(expert) and action == expert.act()  # asked before the step: it reads this state
            frame, reward, terminated, truncated, _ = env.step(action)
            state, score, length = stacker.push(frame), score + reward, length + 1
            done = terminated or truncated
        results.append({"episode": episode, "score": score, "length": length,
                        "ended_by": "terminal" if terminated else "time_limit",
                        "expert_agreement": agreed / length if expert else float("nan")})
        progress.update(1, f"score {score:g}")
    progress.close()
    env.close()
    return pd.DataFrame(results)


def demo_agreement(learner) -> float:
    """Share of demonstration states (at most DEMO_AGREEMENT_STATES, evenly spaced) on which the learner's greedy
    action is the demonstrator's: what the network has learnt of the demonstrations, against what carries over to its
    own states. NaN without demonstrations."""
    replay = learner.replay
    slots = np.flatnonzero(replay.has_action[: replay.demo_capacity])
    if len(slots) == 0:
        return float("nan")
    if len(slots) > DEMO_AGREEMENT_STATES:
        slots = slots[np.linspace(0, len(slots) - 1, DEMO_AGREEMENT_STATES).astype(np.int64)]
    agreed = 0
    for chunk in np.array_split(slots, max(1, len(slots) // AGREEMENT_BATCH)):
        greedy = learner.preferences(replay.stacked_states(chunk)).argmax(dim=1).cpu().numpy()
        agreed += int((greedy == replay.actions[chunk].astype(np.int64)).sum())
    return agreed / len(slots)
