"""Atari environments under a named evaluation protocol.

A protocol is the complete list of environment knobs (sticky actions, action set, no-op starts, life loss,
episode frame cap, frame skip, screen size, reward transform). Runs and demonstration files record the resolved
protocol so that a demo recorded under one protocol is never silently used under another.
"""
from __future__ import annotations

import pickle
from collections.abc import Iterator

import ale_py
import cv2
import gymnasium as gym
import numpy as np

gym.register_envs(ale_py)

# The keys that change what the agent observes or how actions act; a demo file must match the run on all of them.
ENV_KEYS = (
    "repeat_action_probability",
    "full_action_space",
    "frame_skip",
    "noop_max",
    "terminal_on_life_loss",
    "max_episode_frames",
    "screen_size",
)


class NoopStartPreprocessing(gym.wrappers.AtariPreprocessing):
    """gymnasium's AtariPreprocessing, whose reset can also be told how many no-ops start the episode.

    `reset()` draws the count from the emulator's generator (1 to noop_max) exactly as AtariPreprocessing does: it is
    AtariPreprocessing's own reset, so training and demonstrations are untouched. `reset(options={"noops": k})` plays
    k raw-frame no-ops instead of a drawn count, as AtariPreprocessing plays its drawn ones (action 0 on the
    unwrapped emulator, frame by frame, a game that ends during them reset), and does not draw. Evaluation uses it to
    give each of its episodes a start of its own (agents/evaluation.py). The count played is returned in the reset's
    info as "noops".
    """

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if not options or "noops" not in options:
            return super().reset(seed=seed, options=options)
        options = dict(options)
        noops = options.pop("noops")
        allowed = range(1, self.noop_max + 1) if self.noop_max > 0 else range(0, 1)
        if isinstance(noops, bool) or not isinstance(noops, (int, np.integer)) or int(noops) not in allowed:
            raise ValueError(f"noops={noops!r}: with noop_max={self.noop_max} an episode starts with "
                             f"{'1 to ' + str(self.noop_max) if self.noop_max > 0 else '0'} no-ops")
        options = options or None
        # AtariPreprocessing.reset with the count given instead of drawn.
        _, reset_info = self.env.reset(seed=seed, options=options)
        for _ in range(int(noops)):
            _, _, terminated, truncated, step_info = self.env.step(0)
            reset_info.update(step_info)
            if terminated or truncated:
                _, reset_info = self.env.reset(seed=seed, options=options)
        self.lives = self.ale.lives()
        if self.grayscale_obs:
            self.ale.getScreenGrayscale(self.obs_buffer[0])
        else:
            self.ale.getScreenRGB(self.obs_buffer[0])
        self.obs_buffer[1].fill(0)
        return self._get_obs(), {**reset_info, "noops": int(noops)}


def make_env(game: str, protocol: dict, seed: int) -> gym.Env:
    """Pass `seed` to the first `reset` as well. DQN-style preprocessing: max over the last two of `frame_skip` frames,
    84×84 grey, random no-op starts (or, for evaluation, a given number of them: NoopStartPreprocessing).

    Frames are returned one at a time: stacking happens in the agent and the replay so each frame is stored once.
    """
    env = gym.make(
        f"ALE/{game}-v5",
        frameskip=1,  # the preprocessing wrapper skips frames so it can max-pool the last two
        obs_type="grayscale",  # the wrapper reads the screen itself; this only spares a colour copy of every frame
        repeat_action_probability=protocol["repeat_action_probability"],
        full_action_space=protocol["full_action_space"],
        max_num_frames_per_episode=protocol["max_episode_frames"],
    )
    env = NoopStartPreprocessing(
        env,
        noop_max=protocol["noop_max"],
        frame_skip=protocol["frame_skip"],
        screen_size=protocol["screen_size"],
        terminal_on_life_loss=protocol["terminal_on_life_loss"],
        grayscale_obs=True,
        scale_obs=False,
    )
    env.action_space.seed(seed)
    return env


def frame_from_screen(rgb: np.ndarray, screen_size: int) -> np.ndarray:
    """A screen recorded elsewhere (an RGB image) as the agent's frame: grey with OpenCV's luminance weights, resized
    with INTER_AREA as the preprocessing wrapper does. Imported demonstrations go through this one function."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.uint8), cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (screen_size, screen_size), interpolation=cv2.INTER_AREA)


def episode_starts(env: gym.Env, seed: int, episodes: int) -> Iterator[tuple[int, np.ndarray]]:
    """Index and first frame of each of `episodes` episodes (demonstrations, random play). Only the first reset is
    seeded: later ones continue the streams it seeded (no-op starts drawn at random, sticky actions). Drawn at random,
    two no-op counts can coincide, and without sticky actions two such episodes start alike; evaluation gives each
    episode a count of its own instead (`noop_counts`, `evaluation_starts`)."""
    for index in range(episodes):
        frame, _ = env.reset(seed=seed if index == 0 else None)
        yield index, frame


def noop_counts(noop_max: int, episodes: int, rng: np.random.Generator) -> list[int]:
    """The no-op count of each of `episodes` episodes: a permutation of 1..noop_max drawn from `rng`, episode i taking
    count i, so that no two episodes share a start while there are counts to go round; beyond noop_max episodes a
    fresh permutation follows, and counts repeat. Without no-op starts (noop_max 0: sticky actions vary the episodes
    instead) every count is 0."""
    if noop_max == 0:
        return [0] * episodes
    counts: list[int] = []
    while len(counts) < episodes:
        counts += (rng.permutation(noop_max) + 1).tolist()
    return counts[:episodes]


def evaluation_starts(env: gym.Env, seed: int, counts: list[int]) -> Iterator[tuple[int, int, np.ndarray]]:
    """Index, no-op count and first frame of each episode, episode i starting with `counts[i]` no-ops (an env from
    `make_env`). Only the first reset is seeded: with sticky actions later episodes continue its stream."""
    for index, noops in enumerate(counts):
        frame, _ = env.reset(seed=seed if index == 0 else None, options={"noops": noops})
        yield index, noops, frame


def emulator_state(env: gym.Env) -> dict:
    """What a checkpoint taken mid-episode needs to continue it exactly: the emulator with its random generator, the
    no-op generator and the life-loss wrapper's counters."""
    return {"ale": pickle.dumps(env.unwrapped.ale.cloneState(include_rng=True)),
            "np_random": env.unwrapped.np_random.bit_generator.state,
            "wrapper": {"lives": env.lives, "game_over": env.game_over}}


def restore_emulator(env: gym.Env, state: dict, seed: int) -> None:
    """Put `env` where `emulator_state` found it."""
    env.reset(seed=seed)  # initialise the wrappers, then overwrite everything they carry
    env.unwrapped.ale.restoreState(pickle.loads(state["ale"]))
    env.unwrapped.np_random.bit_generator.state = state["np_random"]
    for key, value in state["wrapper"].items():
        setattr(env, key, value)


class FrameStacker:
    """Keeps the last `depth` frames of the current episode for acting; repeats the first frame at episode start,
    exactly as the replay does when it rebuilds a state."""

    def __init__(self, depth: int):
        self.depth = depth
        self.frames: list[np.ndarray] = []

    def reset(self, frame: np.ndarray) -> np.ndarray:
        self.frames = [frame] * self.depth
        return self.state()

    def push(self, frame: np.ndarray) -> np.ndarray:
        self.frames = self.frames[1:] + [frame]
        return self.state()

    def state(self) -> np.ndarray:
        return np.stack(self.frames)
