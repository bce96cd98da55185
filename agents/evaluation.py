"""Evaluation: episodes played by a fixed policy under the run's protocol, with its own environment seed and random
generators so that it never shifts the training stream, each episode with a no-op start of its own; and how far
imitation carries off the demonstrations (covariate shift): agreement with the demonstrator on the demonstration states
against agreement on the agent's own states."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .demos.scripted import DEMONSTRATORS
from .envs import FrameStacker, evaluation_starts, make_env, noop_counts
from .progress import Progress

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use their own environment seed, never the training one
NOOP_STREAM = EVAL_SEED_OFFSET + 1  # with the cell's seed, the generator of the evaluation's no-op counts
DEMO_AGREEMENT_STATES = 8192  # demonstration states scored for agreement: at most this many, evenly spaced
AGREEMENT_BATCH = 256
EVAL_COLUMNS = ["episode", "score", "length", "ended_by", "noops", "expert_agreement"]  # eval.csv


def evaluation_noops(protocol: dict, seed: int, episodes: int) -> list[int]:
    """The no-op count of each evaluation episode of a cell: a permutation of 1..noop_max from a generator seeded by
    the cell's seed alone, so that every method of a seed, and every evaluation of a run, starts its episodes alike
    (`noop_counts`)."""
    return noop_counts(protocol["noop_max"], episodes, np.random.default_rng([seed, NOOP_STREAM]))


def distinct_starts(protocol: dict, evaluation: pd.DataFrame) -> int | None:
    """How many different no-op starts an evaluation's episodes had; None without no-op starts (noop_max 0), where
    sticky actions, if any, are what varies the episodes."""
    return int(evaluation["noops"].nunique()) if protocol["noop_max"] > 0 else None


def start_variety(protocol: dict, evaluation: pd.DataFrame) -> str:
    """What makes an evaluation's episodes differ, in words (summary.json's eval_starts)."""
    episodes, starts = len(evaluation), distinct_starts(protocol, evaluation)
    if starts is not None:
        return ("a no-op count of its own per episode" if starts == episodes else
                f"{starts} no-op counts (1 to {protocol['noop_max']}) over {episodes} episodes: counts repeat")
    if protocol["repeat_action_probability"] > 0:
        return "no no-op starts: sticky actions vary the episodes"
    return "no no-op starts and no sticky actions: episodes differ only by eval_epsilon's random actions"


def evaluate(policy: Callable[[np.ndarray], int], game: str, protocol: dict, seed: int, episodes: int,
             label: str = "evaluation") -> pd.DataFrame:
    """Score, length, end and no-op start of each episode `policy` (stacked state → action) plays. Each episode starts
    with its own number of no-ops (`evaluation_noops`). Where the game has a scripted demonstrator it is asked what it
    would do in each state the agent reaches: `expert_agreement` is the share of steps on which the two agree."""
    env = make_env(game, protocol, seed + EVAL_SEED_OFFSET)
    stacker = FrameStacker(protocol["frame_stack"])
    demonstrator = DEMONSTRATORS.get(game)
    expert = demonstrator.policy(env, seed) if demonstrator else None
    results = []
    progress = Progress(total=episodes, unit="episode", label=label)
    counts = evaluation_noops(protocol, seed, episodes)
    for episode, noops, frame in evaluation_starts(env, seed + EVAL_SEED_OFFSET, counts):
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
                        "ended_by": "terminal" if terminated else "time_limit", "noops": noops,
                        "expert_agreement": agreed / length if expert else float("nan")})
        progress.update(1, f"score {score:g}")
    progress.close()
    env.close()
    return pd.DataFrame(results, columns=EVAL_COLUMNS)


def demo_agreement(learner) -> float:
    """Share of demonstration states (at most DEMO_AGREEMENT_STATES, evenly spaced) on which the learner's greedy
    action is the demonstrator's: what the network has learnt of the demonstrations, against what carries over to its
    own states. NaN without demonstrations kept apart."""
    count = learner.demonstration_count()
    if count == 0:
        return float("nan")
    which = np.arange(count)
    if count > DEMO_AGREEMENT_STATES:
        which = np.linspace(0, count - 1, DEMO_AGREEMENT_STATES).astype(np.int64)
    agreed = 0
    for chunk in np.array_split(which, max(1, len(which) // AGREEMENT_BATCH)):
        states, actions = learner.demonstrations(chunk)
        agreed += int((learner.preferences(states).argmax(dim=1).cpu().numpy() == actions).sum())
    return agreed / len(which)
