"""Pretrain & finetune, the lecture's simplest combination of imitation and RL (../shared/seeds/003_…):

1. initialise π_θ as max_θ Σ_i log π_θ(a_i|s_i) on the demonstrations: phase I is behaviour cloning, bc.py's loss
   (cross-entropy of softmax(Q) on the demonstrator's actions, plus λ3·J_L2), for pretrain_updates updates;
2. run π_θ to collect experience, and improve it with any RL algorithm: phase II is PDD-DQN, dqfd.py's loss with
   λ2 = λ3 = 0 as the pdd_dqn method sets them, on agent data alone. The demonstrations stay in the replay's
   partition but no batch draws them (demo_share 0), and nothing keeps the network near them: it may forget them,
   which is the lecture's warning.

The cloned logits become the Q-values as they are: the policy that starts phase II is the cloned one's argmax.
Cross-entropy fixes the logits only up to a constant per state (the dueling head's value stream gets no gradient
from it), so the first TD updates set the values' scale from the rewards; that the first batches of (bad) data can
destroy the initialisation is the lecture's warning, and what the claims ledger checks (analysis/claims.py).
"""
from __future__ import annotations

from dataclasses import replace

from ..settings import Settings
from . import Algorithm, register
from .bc import BehaviourCloning
from .dqfd import DQfD


@register("bc_finetune")
class PretrainFinetune(Algorithm):
    rules = (*Algorithm.rules, "bc_finetune: use_demos and pretrain_updates > 0 (phase I clones the demonstrations)")

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.cloning = BehaviourCloning(settings)
        self.finetuning = DQfD(replace(settings, lambda_supervised=0.0, lambda_l2=0.0))  # PDD-DQN's loss

    @classmethod
    def check(cls, settings: Settings, method: str) -> str | None:
        if not settings.use_demos or settings.pretrain_updates == 0:
            return (f"method {method!r} pretrains by cloning demonstrations before it finetunes; set use_demos: true "
                    "and pretrain_updates above 0")
        return super().check(settings, method)

    def loss(self, batch, online, target):
        """Phase II's: PDD-DQN."""
        return self.finetuning.loss(batch, online, target)

    def phase_losses(self):
        return self.cloning.loss, self.loss

    def n_step(self) -> int | None:
        return self.finetuning.n_step()  # phase II's; phase I, behaviour cloning, reads no return

    def demo_share(self, agent_step: int) -> float:
        # Agent data only once there is some (phase I has nothing else and samples the demonstrations): the
        # demonstrations are gone from the finetuning. The rule on learning_starts makes the first interaction update
        # find a batch of agent transitions (agents/rules.py).
        return 0.0
