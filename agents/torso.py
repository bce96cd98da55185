"""The geometry of the Q-network's convolutions (the Nature DQN torso, Mnih et al. 2015), declared once: the network
builds its layers from it, and the config checks a screen size against it while the workflow plans, without torch."""
from __future__ import annotations

CONVOLUTIONS = ((32, 8, 4), (64, 4, 2), (64, 3, 1))  # (output channels, kernel, stride), no padding


def smallest_screen() -> int:
    """The smallest screen_size the convolutions reduce to one feature pixel: walking back from one output pixel, a
    convolution needs (out − 1)·stride + kernel input pixels."""
    size = 1
    for _, kernel, stride in reversed(CONVOLUTIONS):
        size = (size - 1) * stride + kernel
    return size
