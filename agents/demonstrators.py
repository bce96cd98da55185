"""Scripted demonstrators that read the emulator's RAM.

Each demonstrator is a simple RAM heuristic (track the ball with the paddle) improved by a short look-ahead: before
every step it restores a clone of the emulator, tries each useful action followed by the heuristic for a few steps,
and takes the action whose rollout loses least and scores most. The look-ahead makes the heuristic robust to
random no-op starts, where a fixed tracking offset alone loses rallies. RAM addresses follow the AtariARI annotations
(Anand et al. 2019), checked against the screen here: Pong paddle y 51, ball x 49, ball y 54; Breakout paddle x 72,
ball x 99, ball y 101.
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
    candidate_actions: tuple[int, ...]
    horizon: int  # look-ahead in agent steps
    life_penalty: float  # a lost life costs this much in a rollout's value

    def policy(self, env, frame_skip: int, seed: int) -> "LookaheadPolicy":
        return LookaheadPolicy(self, env, frame_skip, seed)


class LookaheadPolicy:
    def __init__(self, spec: Demonstrator, env, frame_skip: int, seed: int):
        self.spec, self.frame_skip = spec, frame_skip
        self.rng = np.random.default_rng(seed)
        self.ale = env.unwrapped.ale
        self.prev_ram = None

    def reset(self) -> None:
        self.prev_ram = None

    def _rollout(self, first_action: int) -> float:
        ale, spec = self.ale, self.spec
        lives = ale.lives()
        value, prev, action = 0.0, None, first_action
        for step in range(spec.horizon):
            for _ in range(self.frame_skip):
                value += ale.act(action)
            if ale.game_over():
                break
            ram = ale.getRAM()
            action = spec.heuristic(ram, prev)
            prev = ram
        return value - spec.life_penalty * (lives - ale.lives())

    def act(self) -> int:
        ram = self.ale.getRAM()
        preferred = self.spec.heuristic(ram, self.prev_ram)
        self.prev_ram = ram.copy()
        start = self.ale.cloneState()
        candidates = (preferred,) + tuple(a for a in self.spec.candidate_actions if a != preferred)
        values = []
        for action in candidates:
            values.append(self._rollout(action))
            self.ale.restoreState(start)
        best = [action for action, value in zip(candidates, values) if value == max(values)]
        if len(best) == len(candidates):  # nothing to choose between: follow the heuristic
            return preferred
        # Among equally good actions pick at random: varied paddle contacts end rallies that a fixed choice prolongs.
        return int(self.rng.choice(best))


DEMONSTRATORS = {
    "Pong": Demonstrator("pong_ram_lookahead_v1", pong_heuristic, (NOOP, RIGHT, LEFT), horizon=20, life_penalty=0.0),
    "Breakout": Demonstrator(
        "breakout_ram_lookahead_v1", breakout_heuristic, (NOOP, FIRE, RIGHT, LEFT), horizon=6, life_penalty=10.0
    ),
}
