"""Scripted demonstrators: one per game, each reading the emulator's RAM or screen.

A demonstrator's action depends on what the current screen (and, for Pong, the previous one) shows, so a network
trained on its demonstrations can in principle reproduce it. RAM addresses follow the AtariARI annotations (Anand et
al. 2019), checked against the screen here: Pong paddle y 51, ball y 54; Breakout paddle x 72, ball x 99, ball y 101;
MsPacman player x 10, y 16, ghosts x 6–9, y 12–15. Where the RAM encodes positions in a form that is not a coordinate
(DemonAttack's horizontal positions), the script reads object colours on the screen instead. Scores against random
play are measured by `benchmarks/demonstrators.py` (docs/demonstrations.md, "Scripted demonstrators").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

# Full 18-action set ids (ALE).
NOOP, FIRE, UP, RIGHT, LEFT, DOWN = 0, 1, 2, 3, 4, 5
RIGHTFIRE, LEFTFIRE = 11, 12


def pong(ale, memory: dict) -> int:
    """Move the right paddle toward the ball's height; in Pong RIGHT moves the paddle up, LEFT down."""
    ram = ale.getRAM()
    paddle_y, ball_y = float(ram[51]), float(ram[54])
    target = ball_y - 6.0 if ball_y != 0 else 120.0  # -6: paddle centre vs ball centre in RAM units
    previous = memory.get("paddle_y")
    velocity = 0.0 if previous is None else paddle_y - previous
    memory["paddle_y"] = paddle_y
    error = target - (paddle_y + 0.5 * velocity)  # damp: the paddle keeps moving for a frame or two
    if abs(error) <= 4:
        return NOOP
    return LEFT if error > 0 else RIGHT


def breakout(ale, memory: dict) -> int:
    """Keep the paddle under the ball; serve when no ball is in play."""
    ram = ale.getRAM()
    paddle_x, ball_x, ball_y = float(ram[72]), float(ram[99]), float(ram[101])
    if ball_y == 0 or ball_x == 0:
        return FIRE
    error = (ball_x - 9.5) - paddle_x  # paddle centre is x72 − 39 on screen, the ball x99 − 48.5
    if abs(error) <= 3:
        return NOOP
    return RIGHT if error > 0 else LEFT


def freeway(ale, memory: dict) -> int:
    """Cross the road: a hit only pushes the chicken back a lane, so walking on always beats waiting."""
    return UP


def _packed(screen: np.ndarray) -> np.ndarray:
    """Each RGB pixel as one integer, 0xRRGGBB: a colour test is one comparison per pixel instead of three and a
    reduction (the demonstrators are asked at every step of an evaluation and of DAgger's interaction)."""
    screen = screen.astype(np.uint32)
    return (screen[..., 0] << 16) | (screen[..., 1] << 8) | screen[..., 2]


def _colour(rgb: tuple[int, int, int]) -> int:
    return (rgb[0] << 16) | (rgb[1] << 8) | rgb[2]


def _columns(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(mask.any(0))


def _dodge_or_aim(player_x: float, threats: np.ndarray, targets: np.ndarray) -> int:
    """Step away from a projectile falling near the cannon; otherwise move under the chosen target and fire."""
    if len(threats):
        return LEFTFIRE if threats.mean() >= player_x else RIGHTFIRE
    if len(targets) == 0:
        return FIRE
    error = targets[np.argmin(np.abs(targets - player_x))] - player_x
    if abs(error) <= 2:
        return FIRE
    return RIGHTFIRE if error > 0 else LEFTFIRE


def _near(mask: np.ndarray, x: float, reach: int) -> np.ndarray:
    low = max(0, int(x) - reach)
    return _columns(mask[:, low:int(x) + reach + 1]) + low


DEMON_ATTACK_CANNON, DEMON_ATTACK_BULLET = _colour((184, 70, 162)), _colour((252, 144, 144))


def demon_attack(ale, memory: dict) -> int:
    """Dodge the demons' bullets near the cannon; otherwise shoot at the lowest demon."""
    screen = _packed(ale.getScreenRGB())
    cannon = _columns(screen[165:186] == DEMON_ATTACK_CANNON)
    if len(cannon) == 0:  # between lives
        return FIRE
    x = cannon.mean()
    threats = _near(screen[120:186] == DEMON_ATTACK_BULLET, x, 10)
    sky = screen[20:150]
    demons = (sky != 0) & (sky != DEMON_ATTACK_BULLET)
    demons[:, :8] = False  # the left border's HMOVE bar
    rows = np.flatnonzero(demons.any(1))
    lowest = _columns(demons[max(0, rows.max() - 8):rows.max() + 1]) if len(rows) else np.array([])
    return _dodge_or_aim(x, threats, np.array([lowest.mean()]) if len(lowest) else lowest)


SPACE_INVADERS_CANNON, SPACE_INVADERS_INVADER, SPACE_INVADERS_SHIELD = (
    _colour((50, 132, 50)), _colour((134, 134, 29)), _colour((181, 83, 40)))


def space_invaders(ale, memory: dict) -> int:
    """Dodge missiles falling near the cannon; otherwise move under the nearest invader column and fire."""
    screen = _packed(ale.getScreenRGB())
    cannon = _columns(screen[185:195] == SPACE_INVADERS_CANNON)
    if len(cannon) == 0:
        return FIRE
    x = cannon.mean()
    field = screen[30:185]
    invaders = field == SPACE_INVADERS_INVADER
    known = invaders | (field == SPACE_INVADERS_SHIELD) | (field == SPACE_INVADERS_CANNON)
    missiles = (field != 0) & ~known
    return _dodge_or_aim(x, _near(missiles[110:], x, 8), _columns(invaders))


MS_PACMAN_MOVES = {UP: (0, -1), RIGHT: (1, 0), LEFT: (-1, 0), DOWN: (0, 1)}


def ms_pacman(ale, memory: dict) -> int:
    """Run through the maze eating pellets: keep a direction, turn at random every few steps or when blocked, and
    flee the nearest ghost when one comes close. The random turns come from the demonstrator's seeded generator."""
    ram, rng = ale.getRAM(), memory["rng"]
    position = (int(ram[10]), int(ram[16]))
    ghosts = [(int(ram[i]), int(ram[i + 6])) for i in range(6, 10)]
    direction = memory.get("direction", LEFT)
    blocked = memory.get("position") == position
    memory["position"], memory["steps"] = position, memory.get("steps", 0) + 1

    def distance_after(move: int) -> int:
        dx, dy = MS_PACMAN_MOVES[move]
        x, y = position[0] + 8 * dx, position[1] + 8 * dy
        return min(abs(x - gx) + abs(y - gy) for gx, gy in ghosts)

    if min(abs(position[0] - gx) + abs(position[1] - gy) for gx, gy in ghosts) < 30:
        safest = sorted(MS_PACMAN_MOVES, key=distance_after, reverse=True)
        if blocked:
            safest = [move for move in safest if move != direction]
            direction = safest[int(rng.integers(2))]
        else:
            direction = safest[0]
    elif blocked or memory["steps"] % 12 == 0:
        options = [move for move in MS_PACMAN_MOVES if move != direction] if blocked else list(MS_PACMAN_MOVES)
        direction = options[int(rng.integers(len(options)))]
    memory["direction"] = direction
    return direction


@dataclass(frozen=True)
class Demonstrator:
    name: str
    script: Callable[[object, dict], int]

    def policy(self, env, seed: int | list[int]) -> "ScriptedPolicy":
        return ScriptedPolicy(self, env, seed)


class ScriptedPolicy:
    """Plays a demonstrator's script; `memory` holds what the script keeps between steps of one episode, its generator
    what it draws over all of them."""

    def __init__(self, spec: Demonstrator, env, seed: int | list[int]):
        self.spec, self.ale = spec, env.unwrapped.ale
        self.rng = np.random.default_rng(seed)
        self.reset()

    def reset(self) -> None:
        self.memory = {"rng": self.rng}

    def act(self) -> int:
        return self.spec.script(self.ale, self.memory)

    def state_dict(self) -> dict:
        """Its memory and generator, for a checkpoint: a run that resumes mid-episode gets the labels an uninterrupted
        run gets (DAgger)."""
        return {"memory": {key: value for key, value in self.memory.items() if key != "rng"},
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.memory = {**state["memory"], "rng": self.rng}


DEMONSTRATORS = {
    "Pong": Demonstrator("pong_ram_tracker_v1", pong),
    "Breakout": Demonstrator("breakout_ram_tracker_v1", breakout),
    "Freeway": Demonstrator("freeway_walk_up_v1", freeway),
    "SpaceInvaders": Demonstrator("space_invaders_screen_aim_dodge_v1", space_invaders),
    "DemonAttack": Demonstrator("demon_attack_screen_aim_dodge_v1", demon_attack),
    "MsPacman": Demonstrator("ms_pacman_ram_flee_v1", ms_pacman),
}
