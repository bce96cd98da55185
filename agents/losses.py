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


def value_transform(x: torch.Tensor, epsilon: float) -> torch.Tensor:
    """h(x) = sign(x)(√(|x| + 1) − 1) + εx (Ape-X DQfD, section 3.2): it shrinks large action values, and its εx term
    keeps h⁻¹ Lipschitz."""
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1) - 1) + epsilon * x


def value_transform_inverse(x: torch.Tensor, epsilon: float) -> torch.Tensor:
    """h⁻¹(x) = sign(x)(((√(1 + 4ε(|x| + 1 + ε)) − 1) / (2ε))² − 1), the closed form of Ape-X DQfD's appendix A: the
    root u = √(|h⁻¹(x)| + 1) of εu² + u − (1 + ε + |x|) = 0, squared, less 1."""
    root = (torch.sqrt(1 + 4 * epsilon * (torch.abs(x) + 1 + epsilon)) - 1) / (2 * epsilon)
    return torch.sign(x) * (root**2 - 1)


def transformed_double_q_target(rewards: torch.Tensor, discounts: torch.Tensor, q_next_online: torch.Tensor,
                                q_next_target: torch.Tensor, epsilon: float) -> torch.Tensor:
    """y = h(R + γ^k · h⁻¹(Q_target(s', a*))), a* = argmax_a Q_online(s', a): the transformed Bellman operator T_h with
    DQfD's double Q. The network's values live in h's range, so the bootstrap goes back through h⁻¹ before the return is
    added. h⁻¹ is increasing, so it commutes with picking a*'s value."""
    return value_transform(
        double_q_target(rewards, discounts, q_next_online, value_transform_inverse(q_next_target, epsilon)), epsilon)


def temporal_consistency_loss(q_next_online: torch.Tensor, q_next_target: torch.Tensor, actions: torch.Tensor,
                              kind: str) -> torch.Tensor:
    """L_TC = L(Q(s', a*) − Q_target(s', a*)) (Ape-X DQfD, section 3.3): an update is penalised for moving the online
    network's value of the next state away from the target network's; `actions` is a*, the online network's argmax at
    s'. Both values are the network's outputs, already in h's range, as the paper writes L_TC."""
    taken = actions.unsqueeze(1)
    return td_loss(q_next_online.gather(1, taken).squeeze(1), q_next_target.gather(1, taken).squeeze(1), kind)
