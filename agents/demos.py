"""Demonstration files: record with a demonstrator, save in one versioned, compressed file, load with checks.

The file stores frames in the replay's own layout (one slot per frame; the last frame of each episode has no action),
so loading is a copy, and the demonstrations carry everything needed to rebuild states and n-step returns.
"""
from __future__ import annotations

import json
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .demonstrators import DEMONSTRATORS
from .envs import ENV_KEYS, make_env
from .errors import DemoFileError
from .io import atomic_write, write_csv
from .progress import Progress

FORMAT = "dqfd-suite-demos"
FORMAT_VERSION = 1
ARRAYS = ("frames", "actions", "rewards", "terminals", "has_action", "episode_step")


@dataclass
class Demonstrations:
    metadata: dict
    frames: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminals: np.ndarray
    has_action: np.ndarray
    episode_step: np.ndarray

    @property
    def num_transitions(self) -> int:
        return int(self.has_action.sum())

    @property
    def episodes(self) -> pd.DataFrame:
        return pd.DataFrame(self.metadata["episodes"])


def record(game: str, protocol: dict, episodes: int, seed: int, path: str | Path, stats_path: str | Path,
           epsilon: float = 0.0) -> Demonstrations:
    """Record `episodes` episodes of the game's demonstrator. With probability `epsilon` an action is replaced by a
    uniformly random one, and the random action is what is stored: the file holds what was played. The noise lowers the
    demonstrator's quality on purpose, and it also spreads the demonstrations over more states: the ALE is
    deterministic, so a deterministic demonstrator repeats nearly the same episodes, varied only by the no-op starts."""
    if game not in DEMONSTRATORS:
        raise DemoFileError(f"no demonstrator for {game!r}; demonstrators exist for {', '.join(DEMONSTRATORS)}")
    if not 0.0 <= epsilon <= 1.0:
        raise DemoFileError(f"demo noise epsilon={epsilon} is not a probability; use a value in [0, 1]")
    demonstrator = DEMONSTRATORS[game]
    env = make_env(game, protocol, seed)
    policy = demonstrator.policy(env)
    noise = np.random.default_rng(seed)
    columns = {name: [] for name in ARRAYS}
    summaries = []
    progress = Progress(total=episodes, unit="episode", label=f"demos {game}")
    for episode in range(episodes):
        frame, _ = env.reset(seed=seed if episode == 0 else None)
        policy.reset()
        score, step, terminated, truncated = 0.0, 0, False, False
        while not (terminated or truncated):
            action = policy.act()  # always asked, so that it keeps track of the ball between noisy steps
            if epsilon > 0 and noise.random() < epsilon:
                action = int(noise.integers(env.action_space.n))
            next_frame, reward, terminated, truncated, _ = env.step(action)
            for name, value in zip(ARRAYS, (frame, action, reward, terminated, True, step)):
                columns[name].append(value)
            frame, score, step = next_frame, score + reward, step + 1
        # The episode's last frame: no action; a truncated episode bootstraps from it.
        for name, value in zip(ARRAYS, (frame, 0, 0.0, False, False, step)):
            columns[name].append(value)
        summaries.append({"episode": episode, "score": score, "length": step,
                          "ended_by": "terminal" if terminated else "time_limit"})
        progress.update(1, f"score {score:g} in {step} steps")
    progress.close()
    env.close()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "game": game,
        "env": {key: protocol[key] for key in ENV_KEYS},
        "demonstrator": demonstrator.name,
        "epsilon": epsilon,
        "seed": seed,
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "episodes": summaries,
    }
    demos = Demonstrations(
        metadata=metadata,
        frames=np.asarray(columns["frames"], dtype=np.uint8),
        actions=np.asarray(columns["actions"], dtype=np.uint8),
        rewards=np.asarray(columns["rewards"], dtype=np.float32),
        terminals=np.asarray(columns["terminals"], dtype=bool),
        has_action=np.asarray(columns["has_action"], dtype=bool),
        episode_step=np.asarray(columns["episode_step"], dtype=np.int32),
    )
    save(demos, path)
    write_csv(stats_path, demos.episodes.assign(game=game, demonstrator=demonstrator.name, epsilon=epsilon))
    return demos


def random_scores(game: str, protocol: dict, episodes: int, seed: int) -> pd.DataFrame:
    """Scores of uniformly random play under the same protocol: the floor a demonstrator must clear."""
    env = make_env(game, protocol, seed)
    rows = []
    for episode in range(episodes):
        env.reset(seed=seed if episode == 0 else None)
        score, length, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            score, length, done = score + reward, length + 1, terminated or truncated
        rows.append({"game": game, "episode": episode, "score": score, "length": length})
    env.close()
    return pd.DataFrame(rows)


def save(demos: Demonstrations, path: str | Path) -> None:
    arrays = {name: getattr(demos, name) for name in ARRAYS}
    arrays["metadata"] = np.frombuffer(json.dumps(demos.metadata).encode(), dtype=np.uint8)
    atomic_write(path, lambda stream: np.savez_compressed(stream, **arrays))


def load(path: str | Path, game: str, protocol: dict) -> Demonstrations:
    """Load and check a demonstration file against the run that wants it; every problem is one clear line."""
    path = Path(path)
    if not path.is_file():
        raise DemoFileError(f"demo file {path} does not exist; record it with "
                            f"`python -m agents demos --game {game} --out {path}`")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in (*ARRAYS, "metadata") if name not in archive.files]
            if missing:
                raise DemoFileError(f"demo file {path} lacks {', '.join(missing)}; it is not a demo file of this "
                                    "suite, or it was cut short: record it again")
            metadata = json.loads(archive["metadata"].tobytes().decode())
            arrays = {name: archive[name] for name in ARRAYS}
    except DemoFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError, UnicodeDecodeError) as error:
        # numpy reads a file that is not a zip archive as a pickle and refuses it with a ValueError about pickles
        reason = "not an .npz archive" if type(error) is ValueError else f"{type(error).__name__}: {error}"
        raise DemoFileError(f"demo file {path} is corrupt or truncated ({reason}); "
                            "delete it and record it again") from None
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise DemoFileError(f"demo file {path} has format {metadata.get('format')!r} version "
                            f"{metadata.get('format_version')!r}; this suite reads {FORMAT!r} version "
                            f"{FORMAT_VERSION}: record it again")
    if metadata["game"] != game:
        raise DemoFileError(f"demo file {path} holds {metadata['game']} demonstrations, not {game}; "
                            "point the run at the right game's file")
    wanted = {key: protocol[key] for key in ENV_KEYS}
    differences = [f"{key}={metadata['env'].get(key)!r} (run uses {value!r})"
                   for key, value in wanted.items() if metadata["env"].get(key) != value]
    if differences:
        raise DemoFileError(f"demo file {path} was recorded under other environment settings: "
                            f"{'; '.join(differences)}; record demos under the run's protocol")
    demos = Demonstrations(metadata=metadata, **arrays)
    _check_consistency(demos, path, protocol)
    return demos


def _check_consistency(demos: Demonstrations, path: Path, protocol: dict) -> None:
    size = len(demos.frames)
    screen = protocol["screen_size"]
    problems = []
    if any(len(getattr(demos, name)) != size for name in ARRAYS):
        problems.append("arrays of different lengths")
    if demos.frames.shape[1:] != (screen, screen):
        problems.append(f"frames of shape {demos.frames.shape[1:]}, expected {(screen, screen)}")
    ends = np.flatnonzero(~demos.has_action)
    if size == 0 or len(ends) == 0 or ends[-1] != size - 1:
        problems.append("no complete episode (every episode must end with a frame that has no action)")
    elif len(ends) != len(demos.metadata["episodes"]):
        problems.append(f"{len(ends)} episodes in the arrays but {len(demos.metadata['episodes'])} in the metadata")
    else:
        starts = np.concatenate([[0], ends[:-1] + 1])
        expected_step = np.arange(size) - np.repeat(starts, ends - starts + 1)
        if not np.array_equal(expected_step, demos.episode_step):
            problems.append("episode step counters do not match the episode boundaries")
    num_actions = 18 if protocol["full_action_space"] else None
    if num_actions is not None and size and int(demos.actions.max()) >= num_actions:
        problems.append(f"action ids up to {int(demos.actions.max())} in an {num_actions}-action set")
    if problems:
        raise DemoFileError(f"demo file {path} is inconsistent: {'; '.join(problems)}; record it again")
