"""Soft Q-learning and pretraining it with imperfect demonstrations (Zhang, Li, Ma, Luo 2019; ../shared/seeds/002_…).

Soft Q-learning regresses Q on y = r + γ τ log Σ exp(Q'(s')/τ) and acts with π = softmax(Q/τ). τ is the entropy
weight, the paper's ε, written τ and named `entropy_temperature` here so that ε means exploration only. Three methods
share this module, switched by `demo_loss`:

- `none`: plain soft Q-learning.
- `cross_entropy`: the paper's BC comparison: λ · cross-entropy of softmax(Q/τ) on demonstration actions.
- `decoupled`: the paper's Algorithm 1. On demonstration states the gradient is λ (τ g_π + g_Q) (eq. 10):
    g_π = −∇ L_π |stop-Q  (eq. 17)   with L_π = α, computed through π only;
    g_Q = −∇ L_Q |stop-π  (eq. 18)   with L_Q = [−α]_+, so it acts only while α < 0;
    α   = E_{π*}[A_θ(s*, a*)] + E_{π_θ}[τ h(s)]  (eqs. 8 and 15),
    A_θ(s*, a*) = Q(s*, a*) − Σ_a' π(a'|s*) Q(s*, a') − τ h(s*).
  Demonstrations carry no rewards: the TD loss is applied to agent samples only.

For the first `soft_q_pretrain_steps` agent steps each batch mixes demonstration and agent samples in equal numbers
(the paper samples "the same number of data" from both); afterwards only agent data is sampled (Algorithm 1).

Our readings where the paper leaves a choice:
- α is estimated on each batch from the Q-network (eqs. 8 and 16), not from episode returns (eq. 19 states the same
  quantity in returns): the mean over demonstration samples of A_θ(s*, a*) = τ log π(a*|s*), plus τ times the mean
  entropy of π over the batch's agent samples.
- g_π uses the exact expectation over a' ~ π instead of eq. 17's one-sample estimate. Because π = softmax(Q/τ), the
  demonstration-state part of g_π, ∇[Σ π Q̄ + τ h](s*), is exactly zero at Q̄ = Q (π is the maximiser of that soft value);
  what remains of g_π is −τ ∇ h at the agent states. The unit tests show both.
"""
from __future__ import annotations

import numpy as np

from .. import losses
from ..lazy import load
from ..settings import Settings
from . import Algorithm, LossOutput, register

torch = load("torch")  # loaded by the first loss computed, not by planning (agents/lazy.py)


@register("soft_q")
class SoftQ(Algorithm):
    policies = ("softmax", "epsilon_greedy")
    rules = (*Algorithm.rules, "soft_q: a demo_loss other than none exactly when use_demos",
             "soft_q: uniform replay (prioritized: false) with a demo_loss")

    @classmethod
    def check(cls, settings: Settings, method: str) -> str | None:
        if (settings.demo_loss != "none") != settings.use_demos:
            return (f"method {method!r}: demo_loss={settings.demo_loss!r} with use_demos={settings.use_demos}; "
                    "a demonstration loss needs demonstrations and the reverse")
        # The paper replays uniformly. Prioritized, a demonstration row's priority would follow a TD error its loss
        # never reduces (demonstrations carry no rewards), and its α-gated terms are batch means, not per-row terms
        # an importance weight could scale.
        if settings.demo_loss != "none" and settings.prioritized:
            return (f"method {method!r}: prioritized replay with soft-Q's demo_loss={settings.demo_loss!r} is not "
                    "defined (demonstration rows have no TD error to prioritise by); set prioritized: false")
        return super().check(settings, method)

    def act(self, states, preferences, rng, agent_step, num_actions):
        """With exploration: softmax, rollouts follow π = softmax(Q/τ), the policy the loss improves: one action per
        state drawn from it."""
        if self.settings.exploration != "softmax":
            return super().act(states, preferences, rng, agent_step, num_actions)
        policy = losses.soft_policy(preferences(states).double(), self.settings.entropy_temperature).cpu().numpy()
        return np.array([rng.choice(num_actions, p=row / row.sum()) for row in policy], dtype=np.int64)

    def demo_share(self, agent_step: int) -> float | None:
        if not self.settings.use_demos:
            return None
        return 0.5 if agent_step < self.settings.soft_q_pretrain_steps else 0.0

    def demo_phase_end(self) -> int:
        return self.settings.soft_q_pretrain_steps if self.settings.use_demos else 0

    def loss(self, batch, online, target) -> LossOutput:
        s, temperature = self.settings, self.settings.entropy_temperature
        is_demo = batch.is_demo.float()
        is_agent = 1.0 - is_demo
        q = online(batch.states)
        q_taken = q.gather(1, batch.actions.unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            y = losses.soft_q_target(batch.rewards_1, batch.discount_1, target(batch.next_states_1),
                                     temperature)
        # Soft-Q TD loss on agent samples only: demonstrations carry no rewards.
        td = losses.td_loss(q_taken, y, s.td_loss) * is_agent
        total = (batch.weights * td).sum() / is_agent.sum().clamp(min=1)
        metrics = {"loss_td": td.detach().sum() / is_agent.sum().clamp(min=1)}

        num_demo = is_demo.sum()
        if s.demo_loss != "none" and num_demo > 0:
            policy = losses.soft_policy(q, temperature)
            if s.demo_loss == "cross_entropy":
                demo_term = (losses.cross_entropy_loss(q / temperature, batch.actions) * is_demo).sum() / num_demo
            else:
                demo_term, alpha = self.decoupled_demo_loss(q, policy, batch.actions, is_demo, temperature)
                metrics["alpha"] = alpha.detach()
            total = total + s.lambda_supervised * demo_term
            metrics["loss_demo"] = demo_term.detach()
            metrics["demo_accuracy"] = ((q.argmax(dim=1) == batch.actions).float() * is_demo).sum() / num_demo
        metrics.update(loss=total.detach(), q_mean=q_taken.detach().mean(), demo_fraction=is_demo.mean())
        return LossOutput(total=total, td_errors=(y - q_taken).detach().abs(), metrics=metrics)

    @staticmethod
    def decoupled_demo_loss(q, policy, actions, is_demo, temperature):
        """τ L_π |stop-Q + L_Q |stop-π: a loss whose negative gradient is τ g_π + g_Q (eqs. 15-18)."""
        is_agent = 1.0 - is_demo
        num_demo, num_agent = is_demo.sum(), is_agent.sum().clamp(min=1)
        q_expert = q.gather(1, actions.unsqueeze(1)).squeeze(1)
        h = losses.entropy(policy)

        def alpha_of(q_expert, q_all, policy, h):
            advantage = q_expert - (policy * q_all).sum(dim=1) - temperature * h  # A_θ(s*, a*)
            return (advantage * is_demo).sum() / num_demo + temperature * (h * is_agent).sum() / num_agent

        q_stopped, policy_stopped = q.detach(), policy.detach()
        loss_pi = alpha_of(q_expert.detach(), q_stopped, policy, h)  # Q stopped: the gradient flows through π
        alpha = alpha_of(q_expert.detach(), q_stopped, policy_stopped, h.detach())
        # π stopped: the gradient flows through Q; [−α]_+ acts only while α < 0
        loss_q = -alpha_of(q_expert, q, policy_stopped, h.detach()) * (alpha < 0).float()
        return temperature * loss_pi + loss_q, alpha
