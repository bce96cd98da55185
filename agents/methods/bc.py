"""Supervised imitation (the DQfD paper's baseline): cross-entropy of softmax(Q) on the demonstrator's actions with the
same network and the same L2 penalty, no TD loss; it never learns from interaction."""
from __future__ import annotations

from .. import losses
from ..settings import Settings
from . import Algorithm, LossOutput, register


@register("bc")
class BehaviourCloning(Algorithm):
    rules = (*Algorithm.rules, "bc: use_demos (behaviour cloning learns from demonstrations only)")

    @classmethod
    def check(cls, settings: Settings, method: str) -> str | None:
        if not settings.use_demos:
            return f"method {method!r} is behaviour cloning without demonstrations; set use_demos: true"
        return super().check(settings, method)

    def loss(self, batch, online, target) -> LossOutput:
        s = self.settings
        logits = online(batch.states)
        cross_entropy = losses.cross_entropy_loss(logits, batch.actions)
        j_l2 = losses.l2_loss(online)
        total = (batch.weights * cross_entropy).mean() + s.lambda_l2 * j_l2
        accuracy = (logits.argmax(dim=1) == batch.actions).float().mean()
        return LossOutput(
            total=total,
            td_errors=None,
            metrics={"loss": total.detach(), "loss_cross_entropy": cross_entropy.detach().mean(),
                     "loss_l2": j_l2.detach(), "accuracy": accuracy.detach()},
        )
