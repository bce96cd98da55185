"""The algorithm registry. A method in config is an algorithm name plus setting overrides; an algorithm is a module
here that declares its loss and registers itself with `@register`. Nothing else differs between methods: replay,
network, trainer and phases are shared."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

ALGORITHMS: dict[str, type["Algorithm"]] = {}


def register(name: str):
    def decorate(cls):
        cls.name = name
        ALGORITHMS[name] = cls
        return cls

    return decorate


@dataclass
class LossOutput:
    total: torch.Tensor  # scalar to minimise
    td_errors: torch.Tensor | None  # detached |δ| per sample for new priorities; None: the method sets none
    metrics: dict[str, torch.Tensor] = field(default_factory=dict)  # detached scalars for the progress table


class Algorithm:
    """Computes the loss of one sampled batch. `online` and `target` are the shared Q-networks."""

    name = "algorithm"

    def __init__(self, settings: dict):
        self.settings = settings

    def loss(self, batch: dict[str, torch.Tensor], online, target) -> LossOutput:
        raise NotImplementedError

    def demo_share(self, agent_step: int) -> float | None:
        """Share of each batch drawn from the demonstrations; None: they compete with agent data by priority."""
        share = self.settings["demo_share"]
        return share if share > 0 else None

    def demo_phase_end(self) -> int:
        """The agent step at which the demonstrations stop shaping the updates during interaction (0: they never
        start or never stop); the analysis compares the scores on either side of it."""
        return 0


# Importing the modules registers the algorithms.
from . import bc, dqfd, soft_q  # noqa: E402,F401
