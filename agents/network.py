"""The Q-network shared by every method: the Nature DQN torso with a dueling head (Wang et al. 2016)."""
from __future__ import annotations

import torch
from torch import nn


class QNetwork(nn.Module):
    def __init__(self, num_actions: int, stack: int = 4, screen_size: int = 84, dueling: bool = True):
        super().__init__()
        self.torso = nn.Sequential(
            nn.Conv2d(stack, 32, kernel_size=8, stride=4), nn.ReLU(),
            nn.Conv2d(32, 64, kernel_size=4, stride=2), nn.ReLU(),
            nn.Conv2d(64, 64, kernel_size=3, stride=1), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            width = self.torso(torch.zeros(1, stack, screen_size, screen_size)).shape[1]
        self.dueling = dueling
        self.advantage = nn.Sequential(nn.Linear(width, 512), nn.ReLU(), nn.Linear(512, num_actions))
        self.value = nn.Sequential(nn.Linear(width, 512), nn.ReLU(), nn.Linear(512, 1)) if dueling else None

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: uint8 (batch, stack, H, W) → Q-values (batch, actions)."""
        # channels-last convolutions are markedly faster on CPU (oneDNN) and on tensor-core GPUs.
        features = self.torso((frames.float() / 255.0).contiguous(memory_format=torch.channels_last))
        advantage = self.advantage(features)
        if not self.dueling:
            return advantage
        # Q = V + A − mean(A): the identifiable form of the dueling decomposition.
        return self.value(features) + advantage - advantage.mean(dim=1, keepdim=True)
