"""DAgger, dataset aggregation (Ross, Gordon & Bagnell 2011; the lecture's version, ../shared/seeds/003_…):

1. train π̂_1 on the demonstrations D: phase I, behaviour cloning (bc.py's loss) for pretrain_updates updates;
2. iteration i = 1, 2, …: play π_i = β_i π* + (1 − β_i) π̂_i for dagger_iteration_steps agent steps: at each step
   the demonstrator π* acts with probability β_i = p^(i−1) (p = dagger_beta_decay; β_1 = 1), the learner π̂_i
   otherwise;
3. ask the demonstrator to label every state reached, whoever acted: D_i = {(s, π*(s))};
4. aggregate, D ← D ∪ D_i, and train π̂_{i+1} on D with dagger_iteration_updates updates of the same loss.

The aggregated data set lives in the one replay: the demonstrations in their partition, and each labelled state as an
agent transition whose stored action is the demonstrator's label (not the action played). Behaviour cloning's loss
reads every sampled row as a demonstration, and uniform replay samples D uniformly. The replay must hold every
labelled state (a rule below), so aggregation never drops one, and it is checkpointed with the run.

The run asks the game's scripted demonstrator (agents/demos/scripted.py), through the interface the expert-agreement
metric uses, in the agent's own states, stepping it along the agent's trajectory (agents/run.py).
"""
from __future__ import annotations

import numpy as np

from ..settings import Settings
from . import register
from .bc import BehaviourCloning


@register("dagger")
class DAgger(BehaviourCloning):
    queries_expert = True
    rules = (*BehaviourCloning.rules,
             "dagger: the game has a scripted demonstrator (it labels the states the agent reaches)",
             "dagger: agent_steps > 0, a whole number of iterations (a multiple of dagger_iteration_steps)",
             "dagger: replay_capacity >= 2 · agent_steps + 1 (a frame per agent step and one per episode start), so "
             "the aggregated data set is never overwritten")

    @classmethod
    def check(cls, settings: Settings, method: str) -> str | None:
        steps, iteration = settings.agent_steps, settings.dagger_iteration_steps
        if steps == 0 or steps % iteration:
            return (f"method {method!r} plays whole iterations of dagger_iteration_steps={iteration} agent steps, and "
                    f"agent_steps={steps} is not a positive multiple of it; set agent_steps to one")
        # Each agent step writes a frame and each episode start one more; an episode has at least one step.
        if settings.replay_capacity < 2 * steps + 1:
            return (f"method {method!r} keeps every state it labels, up to {2 * steps + 1:,} frames over its "
                    f"agent_steps={steps:,}, but replay_capacity={settings.replay_capacity:,} would overwrite the "
                    f"oldest; set replay_capacity to at least {2 * steps + 1:,}")
        return super().check(settings, method)

    def beta(self, agent_step: int) -> float:
        """β_i = p^(i−1) of the iteration agent step `agent_step` (counted from 0) falls in: β_1 = 1."""
        iteration = agent_step // self.settings.dagger_iteration_steps + 1
        return self.settings.dagger_beta_decay ** (iteration - 1)

    def expert_acts(self, agent_step: int, rng: np.random.Generator) -> bool:
        """π_i = β_i π* + (1 − β_i) π̂_i: the demonstrator acts with probability β_i."""
        return bool(rng.random() < self.beta(agent_step))

    def updates_after(self, agent_step: int) -> int:
        """dagger_iteration_updates at the end of each iteration, none within one: π̂_i plays unchanged."""
        s = self.settings
        return s.dagger_iteration_updates if (agent_step + 1) % s.dagger_iteration_steps == 0 else 0

    @classmethod
    def interaction_updates(cls, settings: Settings) -> int:
        return settings.agent_steps // settings.dagger_iteration_steps * settings.dagger_iteration_updates
