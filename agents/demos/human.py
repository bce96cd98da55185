"""Human demonstrations: play a game in a window with the keyboard; the episodes are saved as a demo file.

Arrow keys move, space fires, Escape (or closing the window) ends the session; episodes finished so far are kept. The
game runs at the emulator's real speed: one agent step is `frame_skip` frames of a 60 Hz console.
"""
from __future__ import annotations

from typing import Callable

from ..envs import make_env
from ..errors import DemoFileError
from .files import EndOfPlay, assemble, describe, play, write

ATARI_HZ = 60
# (vertical, horizontal, fire) → id in the full 18-action set; vertical/horizontal are -1, 0 or +1 (up, right).
ACTIONS = {
    (0, 0, False): 0, (0, 0, True): 1, (1, 0, False): 2, (0, 1, False): 3, (0, -1, False): 4, (-1, 0, False): 5,
    (1, 1, False): 6, (1, -1, False): 7, (-1, 1, False): 8, (-1, -1, False): 9, (1, 0, True): 10, (0, 1, True): 11,
    (0, -1, True): 12, (-1, 0, True): 13, (1, 1, True): 14, (1, -1, True): 15, (-1, 1, True): 16, (-1, -1, True): 17,
}


def action_for(up: bool, down: bool, left: bool, right: bool, fire: bool) -> int:
    """Opposite keys held together cancel, as on a joystick that cannot point both ways."""
    return ACTIONS[(int(up) - int(down), int(right) - int(left), fire)]


class KeyboardPolicy:
    """Shows the game and turns the keys held down into an action, once per agent step at human speed."""

    def __init__(self, env, fps: float, scale: int, events: Callable | None = None):
        import pygame

        self.pygame, self.ale, self.fps = pygame, env.unwrapped.ale, fps
        pygame.init()
        height, width = self.ale.getScreenDims()
        try:
            self.window = pygame.display.set_mode((width * scale, height * scale))
        except pygame.error as error:
            raise DemoFileError(f"cannot open a window to play in ({error}); run where a display is attached") from None
        pygame.display.set_caption("dqfd-suite: arrows move, space fires, Esc ends")
        self.clock = pygame.time.Clock()
        self.events = events or pygame.event.get
        self.held: set[int] = set()

    def reset(self) -> None:
        self.held.clear()  # a key held across a reset still counts once it is pressed again

    def act(self) -> int:
        pygame = self.pygame
        for event in self.events():
            if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE):
                raise EndOfPlay
            if event.type == pygame.KEYDOWN:
                self.held.add(event.key)
            elif event.type == pygame.KEYUP:
                self.held.discard(event.key)
        frame = pygame.surfarray.make_surface(self.ale.getScreenRGB().swapaxes(0, 1))
        self.window.blit(pygame.transform.scale(frame, self.window.get_size()), (0, 0))
        pygame.display.flip()
        self.clock.tick(self.fps)
        keys = self.held
        return action_for(pygame.K_UP in keys, pygame.K_DOWN in keys, pygame.K_LEFT in keys, pygame.K_RIGHT in keys,
                          pygame.K_SPACE in keys)

    def close(self) -> None:
        self.pygame.quit()


def record(game: str, protocol: dict, episodes: int, seed: int, player: str, path, stats_path,
           fps: float | None = None, scale: int = 3, events: Callable | None = None):
    """Record a person's play. `fps` defaults to human speed; `events` replaces the keyboard (tests script it)."""
    if not protocol["full_action_space"]:
        raise DemoFileError("human recording maps keys to the full 18-action set; use a protocol with "
                            "full_action_space: true")
    try:
        import pygame  # noqa: F401  (checked here so the error names the fix)
    except ImportError:
        raise DemoFileError("recording needs pygame: pip install -e '.[human]'") from None
    env = make_env(game, protocol, seed)
    policy = KeyboardPolicy(env, fps or ATARI_HZ / protocol["frame_skip"], scale, events)
    try:
        played = play(env, policy, episodes, seed, label=f"human {game}")
    finally:
        policy.close()
        env.close()
    if not played:
        raise DemoFileError("the session ended before the first episode did; nothing was saved")
    demos = assemble(played, describe(game, protocol, "human", f"human:{player}", seed=seed))
    write(demos, path, stats_path)
    return demos
