"""Loss terms, each a few lines that map to one equation. Per-sample terms return a (batch,) tensor so that the
caller can apply importance weights and masks; L2 returns a scalar."""
from __future__ import annotations

from .lazy import load

torch = load("torch")  # loaded by the first loss computed, not by planning (agents/lazy.py)


def double_q_target(
    rewards: torch.Tensor, discounts: torch.Tensor, q_next_online: torch.Tensor, q_next_target: torch.Tensor
) -> torch.Tensor:
    """y = R + γ^k · Q_target(s', argmax_a Q_online(s', a)). `discounts` is γ^k, already 0 after a true terminal.
    Passing the target net's values as `q_next_online` gives plain DQN's R + γ^k · max_a Q_target(s', a)."""
    best = q_next_online.argmax(dim=1, keepdim=True)
    return rewards + discounts * q_next_target.gather(1, best).squeeze(1)


def td_loss(q_taken: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "huber":
        return torch.nn.functional.smooth_l1_loss(q_taken, targets, reduction="none")
    if kind == "mse":
        return 0.5 * (q_taken - targets) ** 2
    raise ValueError(f"unknown td_loss {kind!r}; use huber or mse")


def margin_loss(q: torch.Tensor, expert_actions: torch.Tensor, margin: float) -> torch.Tensor:
    """J_E = max_a [Q(s,a) + l(a_E,a)] − Q(s,a_E), with l = margin for a ≠ a_E and 0 for a = a_E (DQfD eq. 2)."""
    penalties = torch.full_like(q, margin).scatter(1, expert_actions.unsqueeze(1), 0.0)
    return (q + penalties).max(dim=1).values - q.gather(1, expert_actions.unsqueeze(1)).squeeze(1)


def cross_entropy_loss(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(logits, actions, reduction="none")


def l2_loss(network: torch.nn.Module) -> torch.Tensor:
    """J_L2 = Σ θ² over every weight and bias."""
    return sum((parameter**2).sum() for parameter in network.parameters())


def soft_q_target(rewards: torch.Tensor, discounts: torch.Tensor, q_next_target: torch.Tensor,
                  temperature: float) -> torch.Tensor:
    """y = r + γ · τ · log Σ_a' exp(Q_target(s', a') / τ): the soft (entropy-regularised) Bellman target."""
    return rewards + discounts * temperature * torch.logsumexp(q_next_target / temperature, dim=1)


def soft_policy(q: torch.Tensor, temperature: float) -> torch.Tensor:
    """π(a|s) = softmax(Q(s, ·) / τ), the policy soft Q-learning improves (soft-Q paper eq. 2)."""
    return torch.softmax(q / temperature, dim=1)


def entropy(policy: torch.Tensor) -> torch.Tensor:
    """h(π(·|s)) = −Σ_a π log π, per state."""
    return -(policy * torch.log(policy.clamp(min=1e-12))).sum(dim=1)
