"""The algorithm registry. A method in config is an algorithm name plus setting overrides; an algorithm is a module
here that registers itself with `@register` and declares what its mathematics sets: its loss, how it acts while it
learns, its learning-rate schedule, its demo share over time and the rules its settings must keep. Replay, network,
learner and run are shared.

This package and its modules load torch only when a loss is first computed (agents/lazy.py): the workflow checks every
cell against the algorithms' rules while it plans, without it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..batch import Batch
from ..demos.scripted import DEMONSTRATORS
from ..settings import Settings

ALGORITHMS: dict[str, type["Algorithm"]] = {}


def register(name: str):
    def decorate(cls):
        cls.name = name
        ALGORITHMS[name] = cls
        return cls

    return decorate


@dataclass
class LossOutput:
    total: "torch.Tensor"  # noqa: F821  scalar to minimise
    td_errors: "torch.Tensor | None"  # noqa: F821  detached |δ| per sample for new priorities; None: sets none
    metrics: dict = field(default_factory=dict)  # detached scalars for the progress table


def epsilon_greedy(states: np.ndarray, preferences: Callable, rng: np.random.Generator, epsilon: float,
                   num_actions: int) -> np.ndarray:
    """For each state a uniformly random action with probability ε, else the argmax of `preferences(states)` (one
    forward pass over the states that need it, none when every state explores)."""
    explore = rng.random(len(states)) < epsilon
    if not explore.any():  # the usual case while acting: no copy of the states
        return preferences(states).argmax(dim=1).cpu().numpy()
    actions = np.empty(len(states), dtype=np.int64)
    actions[explore] = rng.integers(num_actions, size=int(explore.sum()))
    if not explore.all():
        actions[~explore] = preferences(states[~explore]).argmax(dim=1).cpu().numpy()
    return actions


class Algorithm:
    """A method's mathematics. `online` and `target` are the shared Q-networks; `settings` the cell's."""

    name = "algorithm"
    policies = ("epsilon_greedy",)  # the behaviour policies it defines, for the `exploration` setting
    rules = ("exploration names a behaviour policy the algorithm defines (softmax: soft_q only)",)
    # DAgger: the run asks the game's scripted demonstrator to label every state the agent reaches (agents/run.py)
    queries_expert = False

    def __init__(self, settings: Settings):
        self.settings = settings

    @classmethod
    def check(cls, settings: Settings, method: str) -> str | None:
        """What is wrong with a method's settings for this algorithm (one line), or None: the rules of `rules`,
        checked with the suite's own before any run starts."""
        if settings.exploration not in cls.policies:
            return (f"method {method!r} explores by {settings.exploration!r}, a policy algorithm {cls.name!r} "
                    f"does not define; set exploration: {' or '.join(cls.policies)}")
        return None

    @classmethod
    def check_game(cls, game: str, method: str) -> str | None:
        """What is wrong with running this algorithm on `game` (one line), or None: an algorithm that queries the
        expert needs the game's scripted demonstrator."""
        if cls.queries_expert and game not in DEMONSTRATORS:
            return (f"method {method!r} asks the game's scripted demonstrator to label the states it reaches, and "
                    f"{game} has none; run it on a game with one ({', '.join(DEMONSTRATORS)})")
        return None

    def loss(self, batch: Batch, online, target) -> LossOutput:
        raise NotImplementedError

    def phase_losses(self) -> tuple[Callable, Callable]:
        """The loss of phase I (updates on the demonstrations alone) and the loss of interaction: one loss throughout,
        unless a method changes it between the phases (pretrain & finetune). The learner switches when the run starts
        interacting (Learner.begin_interaction)."""
        return self.loss, self.loss

    def updates_after(self, agent_step: int) -> int:
        """Updates due once agent step `agent_step` (counted from 0) has been played: one at every multiple of
        update_period from learning_starts on."""
        s = self.settings
        return int(agent_step >= s.learning_starts and agent_step % s.update_period == 0)

    @classmethod
    def interaction_updates(cls, settings: Settings) -> int:
        """How many updates `updates_after` makes over the run's agent_steps, counted exactly (the importance-weight
        annealing ends on the run's last update): the multiples of update_period in [learning_starts, agent_steps)."""
        period = settings.update_period
        first, end = (-(-steps // period) for steps in (settings.learning_starts, settings.agent_steps))
        return max(0, end - first)

    def act(self, states: np.ndarray, preferences: Callable, rng: np.random.Generator, agent_step: int,
            num_actions: int) -> np.ndarray:
        """The behaviour policy while learning: ε-greedy on the network's preferences, ε from `epsilon`."""
        return epsilon_greedy(states, preferences, rng, self.epsilon(agent_step), num_actions)

    def epsilon(self, agent_step: int) -> float:
        """ε of ε-greedy: linear from epsilon_start to epsilon_final over epsilon_decay_steps agent steps."""
        s = self.settings
        if agent_step >= s.epsilon_decay_steps:
            return s.epsilon_final
        return s.epsilon_start + (s.epsilon_final - s.epsilon_start) * agent_step / s.epsilon_decay_steps

    def learning_rate(self, agent_step: int) -> float:
        """learning_rate, or with learning_rate_decay_steps > 0 held for learning_rate_decay_start agent steps, then
        a linear decay to learning_rate_final over learning_rate_decay_steps agent steps (soft-Q's Table 2)."""
        s = self.settings
        if s.learning_rate_decay_steps == 0:
            return s.learning_rate
        fraction = min(1.0, max(0, agent_step - s.learning_rate_decay_start) / s.learning_rate_decay_steps)
        return s.learning_rate + (s.learning_rate_final - s.learning_rate) * fraction

    def n_step(self) -> int | None:
        """The n of the n-step return the loss reads, or None where it reads none: the replay then assembles no n-step
        return, and an agent transition is sampleable one agent step after it rather than n (agents/replay.py)."""
        return None

    def demo_share(self, agent_step: int) -> float | None:
        """Share of each batch drawn from the demonstrations; None: they compete with agent data by priority."""
        share = self.settings.demo_share
        return share if share > 0 else None

    def demo_phase_end(self) -> int:
        """The agent step at which the demonstrations stop shaping the updates during interaction (0: they never
        start or never stop); the analysis compares the scores on either side of it."""
        return 0


# Importing the modules registers the algorithms.
from . import apex_dqfd, bc, dagger, dqfd, finetune, soft_q  # noqa: E402,F401
