"""Deep Q-learning from Demonstrations (Hester et al. 2018):

    J = J_DQ + λ1·J_n + λ2·J_E + λ3·J_L2

J_DQ and J_n are double-Q TD losses on the 1-step and n-step targets, J_E the large-margin loss on demonstration
samples only (ADET: cross-entropy instead), J_L2 an L2 penalty on all weights and biases. With λ2 = λ3 = 0 and no
demonstrations this is the paper's PDD DQN baseline (prioritized dueling double DQN with the same n-step loss); HER and
RBS differ from it only in how the replay holds the demonstrations (agents/defaults.yaml). With λ1 = 0, no dueling,
uniform replay and `double_q: false` it is plain DQN (the `dqn` method, the speed benchmark's reference).
"""
from __future__ import annotations

from .. import losses
from ..lazy import load
from . import Algorithm, LossOutput, register

torch = load("torch")  # loaded by the first loss computed, not by planning (agents/lazy.py)


@register("dqfd")
class DQfD(Algorithm):
    def n_step(self) -> int | None:
        return self.settings.n_step if self.settings.lambda_n_step > 0 else None  # λ1 = 0: J_n is not computed

    def td_errors(self, q_taken, y_1, y_n):
        """|y − Q(s, a)| for the new priorities, y the target `priority_td_error` names: the n-step one where it is
        computed (y_n is None with λ1 = 0), else the 1-step one."""
        y = y_n if y_n is not None and self.settings.priority_td_error == "n_step" else y_1
        return (y - q_taken).detach().abs()

    def loss(self, batch, online, target) -> LossOutput:
        s = self.settings
        q = online(batch.states)
        q_taken = q.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        n_step = self.n_step() is not None  # with λ1 = 0 the n-step target is not needed: the batch has none
        with torch.no_grad():
            # One pass per network over all next states. The target net scores a*; with double Q the online net picks
            # it (its preferences: Q's argmax at less cost), in plain DQN (double_q: false) the target net does.
            count = 2 if n_step else 1
            next_states = torch.cat([batch.next_states_1, batch.next_states_n][:count])
            q_next_target = target(next_states).chunk(count)
            q_next_choice = online.preferences(next_states).chunk(count) if s.double_q else q_next_target
            targets = [losses.double_q_target(rewards, discounts, choice, scores) for rewards, discounts, choice, scores
                       in zip((batch.rewards_1, batch.returns_n), (batch.discount_1, batch.discount_n),
                              q_next_choice, q_next_target)]
            y_1, y_n = targets[0], targets[1] if n_step else None

        j_dq = losses.td_loss(q_taken, y_1, s.td_loss)
        j_n = losses.td_loss(q_taken, y_n, s.td_loss) if n_step else torch.zeros_like(j_dq)
        # Only on demonstration samples: the supervised term only makes sense where an expert action exists.
        if s.supervised_loss == "margin":
            j_e = losses.margin_loss(q, batch.actions, s.margin)
        else:  # ADET: cross-entropy of softmax(Q) on the expert action
            j_e = losses.cross_entropy_loss(q, batch.actions)
        j_e = j_e * batch.is_demo.float()
        per_sample = j_dq + s.lambda_n_step * j_n + s.lambda_supervised * j_e
        j_l2 = losses.l2_loss(online) if s.lambda_l2 > 0 else torch.zeros((), device=q.device)
        total = (batch.weights * per_sample).mean() + s.lambda_l2 * j_l2

        return LossOutput(
            total=total,
            td_errors=self.td_errors(q_taken, y_1, y_n),
            metrics={
                "loss": total.detach(),
                "loss_1_step": j_dq.detach().mean(),
                "loss_n_step": j_n.detach().mean(),
                "loss_supervised": j_e.detach().sum() / batch.is_demo.sum().clamp(min=1),
                "loss_l2": j_l2.detach(),
                "q_mean": q_taken.detach().mean(),
                **demonstration_metrics(q, batch),
            },
        )


def demonstration_metrics(q, batch) -> dict:
    """The batch's share of demonstrations, and the share of its demonstration samples whose greedy action is the
    demonstrator's (DQfD's and Ape-X DQfD's metrics)."""
    return {"demo_fraction": batch.is_demo.float().mean(),
            "demo_accuracy": ((q.argmax(dim=1) == batch.actions) & batch.is_demo).float().sum()
            / batch.is_demo.sum().clamp(min=1)}
