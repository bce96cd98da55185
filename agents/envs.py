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


def make_env(game: str, protocol: dict, seed: int) -> gym.Env:
    """Pass `seed` to the first `reset` as well. DQN-style preprocessing: max over the last two of `frame_skip` frames, 84×84 grey, random no-op starts.

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
    env = gym.wrappers.AtariPreprocessing(
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
    """Index and first frame of each of `episodes` episodes. Only the first reset is seeded: later ones continue the
    streams it seeded (no-op starts, sticky actions), so that no two episodes replay the same start."""
    for index in range(episodes):
        frame, _ = env.reset(seed=seed if index == 0 else None)
        yield index, frame


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
