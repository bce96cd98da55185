"""Ape-X DQfD's objective (Pohlen et al. 2018, "Observe and Look Further", arXiv 1805.11593) on the suite's single
learner and single actor; the distributed actors and their per-actor ε are out of scope.

    L = L_TD + L_TC + L_IM

- L_TD: the transformed Bellman operator T_h. The network's values live in the range of
  h(x) = sign(x)(√(|x| + 1) − 1) + εx, and each target is y = h(R + γ^k h⁻¹(Q_target(s', a*))), a* = argmax_a Q(s', a)
  (double Q as in DQfD), for the 1-step (k = 1) and the n-step return (k = n, weighted λ1), on raw rewards: h takes
  the place of reward clipping.
- L_TC: the temporal-consistency loss L(Q(s', a*) − Q_target(s', a*)) at each next state of the TD terms, weighted
  alike (1 and λ1), times lambda_temporal_consistency: an update is penalised for moving the value of the next
  state, which at γ = 0.999 the paper found necessary for stable learning.
- L_IM: DQfD's large-margin loss on expert samples only (λ2, margin √0.999).

Expert data is a fixed share of every batch (demo_share) instead of competing by priority as in DQfD, and there is no
L2 penalty. The loss L is the suite's td_loss (Huber, as in the paper).
"""
from __future__ import annotations

from .. import losses
from ..lazy import load
from ..settings import Settings
from . import LossOutput, register
from .dqfd import DQfD, demonstration_metrics

torch = load("torch")  # loaded by the first loss computed, not by planning (agents/lazy.py)


@register("apex_dqfd")
class ApeXDQfD(DQfD):  # DQfD's n-step terms and metrics, its own objective
    rules = (*DQfD.rules, "apex_dqfd: use_demos and demo_share > 0 (expert data is a fixed share of each batch)")

    @classmethod
    def check(cls, settings: Settings, method: str) -> str | None:
        if not settings.use_demos or settings.demo_share == 0:
            return (f"method {method!r} mixes expert data into every batch at a fixed share; set use_demos: true and "
                    "demo_share above 0")
        return super().check(settings, method)

    def loss(self, batch, online, target) -> LossOutput:
        s = self.settings
        q = online(batch.states)
        q_taken = q.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        n_step = self.n_step() is not None  # with λ1 = 0 the n-step terms are not computed: the batch has none
        # One pass per network over the next states of both returns. The online pass keeps its gradient: L_TC needs
        # it; its argmax, detached, is double Q's a*.
        count = 2 if n_step else 1
        next_states = torch.cat([batch.next_states_1, batch.next_states_n][:count])
        q_next = online(next_states).chunk(count)
        with torch.no_grad():
            q_next_target = target(next_states).chunk(count)
        td_1, tc_1, y_1 = self.bellman_terms(q_taken, batch.rewards_1, batch.discount_1, q_next[0],
                                             q_next_target[0])
        td_n, tc_n, y_n = (self.bellman_terms(q_taken, batch.returns_n, batch.discount_n, q_next[1],
                                              q_next_target[1]) if n_step
                           else (torch.zeros_like(td_1), torch.zeros_like(tc_1), None))
        # Only on expert samples: the supervised term only makes sense where an expert action exists.
        j_im = losses.margin_loss(q, batch.actions, s.margin) * batch.is_demo.float()
        j_tc = tc_1 + s.lambda_n_step * tc_n
        per_sample = (td_1 + s.lambda_n_step * td_n + s.lambda_temporal_consistency * j_tc
                      + s.lambda_supervised * j_im)
        total = (batch.weights * per_sample).mean()

        return LossOutput(
            total=total,
            td_errors=self.td_errors(q_taken, y_1, y_n),
            metrics={
                "loss": total.detach(),
                "loss_1_step": td_1.detach().mean(),
                "loss_n_step": td_n.detach().mean(),
                "loss_temporal_consistency": j_tc.detach().mean(),
                "loss_supervised": j_im.detach().sum() / batch.is_demo.sum().clamp(min=1),
                "q_mean": q_taken.detach().mean(),
                **demonstration_metrics(q, batch),
            },
        )

    def bellman_terms(self, q_taken, returns, discounts, q_next, q_next_target):
        """L_TD and L_TC of one return (1-step or n-step) per sample, and its target y."""
        s = self.settings
        with torch.no_grad():
            y = losses.transformed_double_q_target(returns, discounts, q_next, q_next_target,
                                                   s.value_transform_epsilon)
        best = q_next.detach().argmax(dim=1)
        return (losses.td_loss(q_taken, y, s.td_loss),
                losses.temporal_consistency_loss(q_next, q_next_target, best, s.td_loss), y)
