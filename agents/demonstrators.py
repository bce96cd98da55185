"""Scripted demonstrators that read the emulator's RAM.

Each demonstrator tracks the ball with the paddle. Its action is a function of what the last two frames show (ball
position, paddle position and speed), so a network trained on its demonstrations can in principle reproduce it.
RAM addresses follow the AtariARI annotations (Anand et al. 2019), checked against the screen here: Pong paddle y 51,
ball x 49, ball y 54; Breakout paddle x 72, ball x 99, ball y 101.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# Full 18-action set ids (ALE): NOOP 0, FIRE 1, RIGHT 3, LEFT 4.
NOOP, FIRE, RIGHT, LEFT = 0, 1, 3, 4


def pong_heuristic(ram: np.ndarray, prev_ram: np.ndarray | None) -> int:
    """Move the right paddle toward the ball's height; in Pong RIGHT moves the paddle up, LEFT down."""
    paddle_y, ball_y = float(ram[51]), float(ram[54])
    target = ball_y - 6.0 if ball_y != 0 else 120.0  # -6: paddle centre vs ball centre in RAM units
    velocity = 0.0 if prev_ram is None else paddle_y - float(prev_ram[51])
    error = target - (paddle_y + 0.5 * velocity)  # damp: the paddle keeps moving for a frame or two
    if abs(error) <= 4:
        return NOOP
    return LEFT if error > 0 else RIGHT


def breakout_heuristic(ram: np.ndarray, prev_ram: np.ndarray | None) -> int:
    """Keep the paddle under the ball; serve when no ball is in play."""
    paddle_x, ball_x, ball_y = float(ram[72]), float(ram[99]), float(ram[101])
    if ball_y == 0 or ball_x == 0:
        return FIRE
    error = (ball_x - 9.5) - paddle_x  # paddle centre is x72 − 39 on screen, the ball x99 − 48.5
    if abs(error) <= 3:
        return NOOP
    return RIGHT if error > 0 else LEFT


@dataclass(frozen=True)
class Demonstrator:
    name: str
    heuristic: Callable[[np.ndarray, np.ndarray | None], int]

    def policy(self, env) -> "RamPolicy":
        return RamPolicy(self, env)


class RamPolicy:
    def __init__(self, spec: Demonstrator, env):
        self.spec, self.ale = spec, env.unwrapped.ale
        self.prev_ram = None

    def reset(self) -> None:
        self.prev_ram = None

    def act(self) -> int:
        ram = self.ale.getRAM()
        action = self.spec.heuristic(ram, self.prev_ram)
        self.prev_ram = ram.copy()
        return action


DEMONSTRATORS = {
    "Pong": Demonstrator("pong_ram_tracker_v1", pong_heuristic),
    "Breakout": Demonstrator("breakout_ram_tracker_v1", breakout_heuristic),
}
