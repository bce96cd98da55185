"""A batch of transitions sampled from the replay: what every loss reads, `batch.states`, `batch.actions`, ...

The replay assembles it as numpy arrays (agents/replay.py); `to(device)` makes it the tensors a loss takes. A
NamedTuple, so that torch.compile takes it apart as it takes a tuple.
"""
from __future__ import annotations

from typing import NamedTuple

from .lazy import load

torch = load("torch")  # loaded by the first batch moved to a device, not by planning (agents/lazy.py)


class Batch(NamedTuple):
    """One row per sampled transition (s_t, a_t, ...): the stacked frames as uint8, the numbers as float32. Numpy
    arrays as the replay assembles them, tensors once moved (`to`)."""

    states: torch.Tensor  # s_t
    actions: torch.Tensor  # a_t (int64); a demonstration's is the demonstrator's, a DAgger row's its label
    rewards_1: torch.Tensor  # r_t, transformed as the reward_transform setting says
    next_states_1: torch.Tensor  # s_{t+1}
    discount_1: torch.Tensor  # γ, 0 after a true terminal
    # The n-step return's, None where the method's loss reads none (Algorithm.n_step): the replay assembles none.
    returns_n: torch.Tensor | None  # Σ γ^k r_{t+k} over the n-step look-ahead, cut at a terminal or the episode's end
    next_states_n: torch.Tensor | None  # the state the n-step return bootstraps from
    discount_n: torch.Tensor | None  # γ^k of that bootstrap, 0 after a true terminal
    is_demo: torch.Tensor  # bool: a row of the demonstrations kept apart
    weights: torch.Tensor  # importance weights of prioritized sampling (ones where uniform)

    def to(self, device: torch.device) -> Batch:
        """The batch as tensors on `device`; on CUDA through pinned host memory, so the copies are asynchronous (the
        pinned blocks come from torch's caching host allocator, reused once their copy is done)."""
        tensors = [None if value is None else torch.as_tensor(value) for value in self]
        if device.type == "cuda":
            tensors = [None if tensor is None else tensor.pin_memory().to(device, non_blocking=True)
                       for tensor in tensors]
        return Batch(*tensors)
