"""Demonstration files: record with a demonstrator, save in one versioned, compressed file, load with checks.

The file stores frames in the replay's own layout (one slot per frame; the last frame of each episode has no action),
so loading is a copy, and the demonstrations carry everything needed to rebuild states and n-step returns.
"""
from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import ale_py
import numpy as np
import pandas as pd

from ..envs import ENV_KEYS, episode_starts, make_env
from ..errors import DemoFileError
from ..io import atomic_write, write_csv
from ..matrix import SCRIPTED
from ..progress import Progress
from ..renames import RENAMED_DEMO_KEYS
from ..replay import ARRAYS
from .scripted import DEMONSTRATORS

FORMAT = "dqfd-suite-demos"
FORMAT_VERSION = 1
# Metadata that says when and from where a file was written, not what it holds: left out of the content checksum.
ORIGIN_KEYS = ("recorded_at", "taken_from", "imported_from")
# The arrays of a demo file, one entry per slot; they are the replay's slot arrays too (agents/replay.py).


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


class EndOfPlay(Exception):
    """Raised by a policy whose player ends the session; the episodes finished so far are kept."""


@dataclass
class Episode:
    """One played episode: `frames` has one more entry than `actions` (the frame the last action led to)."""
    frames: list
    actions: list
    rewards: list
    terminated: bool


def play(env, policy, episodes: int, seed: int, noise: float = 0.0, label: str = "demos") -> list[Episode]:
    """Play `episodes` episodes with `policy` (reset() at each start, act() → action id). With probability `noise`
    an action is replaced by a uniformly random one, and the random action is what is stored: an episode holds what
    was played. The noise lowers the demonstrator's quality on purpose, and it also spreads the demonstrations over
    more states: the ALE is deterministic, so a deterministic demonstrator repeats nearly the same episodes, varied
    only by the no-op starts."""
    if not 0.0 <= noise <= 1.0:
        raise DemoFileError(f"demo action noise={noise} is not a probability; use a value in [0, 1]")
    noise_rng = np.random.default_rng(seed)
    played = []
    progress = Progress(total=episodes, unit="episode", label=label)
    for _, frame in episode_starts(env, seed, episodes):
        policy.reset()
        episode, terminated, truncated = Episode([frame], [], [], False), False, False
        while not (terminated or truncated):
            try:
                action = policy.act()  # always asked, so that a script keeps track of the game between noisy steps
            except EndOfPlay:
                progress.close()
                return played
            if noise > 0 and noise_rng.random() < noise:
                action = int(noise_rng.integers(env.action_space.n))
            frame, reward, terminated, truncated, _ = env.step(action)
            episode.frames.append(frame)
            episode.actions.append(action)
            episode.rewards.append(reward)
        episode.terminated = terminated
        played.append(episode)
        progress.update(1, f"score {sum(episode.rewards):g} in {len(episode.actions)} steps")
    progress.close()
    return played


def assemble(episodes: list[Episode], metadata: dict) -> Demonstrations:
    """Lay episodes out in the replay's layout (one slot per frame; an episode's last frame has no action) and add
    the per-episode table to the metadata."""
    columns = {name: [] for name in ARRAYS}
    summaries = []
    for index, episode in enumerate(episodes):
        steps = len(episode.actions)
        if len(episode.frames) != steps + 1 or len(episode.rewards) != steps:
            raise DemoFileError(f"episode {index} has {len(episode.frames)} frames, {steps} actions and "
                                f"{len(episode.rewards)} rewards; an episode needs one frame more than actions")
        terminals = [False] * steps
        if steps and episode.terminated:
            terminals[-1] = True
        columns["frames"] += list(episode.frames)
        columns["actions"] += list(episode.actions) + [0]
        columns["rewards"] += list(episode.rewards) + [0.0]
        columns["terminals"] += terminals + [False]
        columns["has_action"] += [True] * steps + [False]
        columns["episode_step"] += list(range(steps + 1))
        summaries.append({"episode": index, "score": float(np.sum(episode.rewards)), "length": steps,
                          "ended_by": "terminal" if episode.terminated else "time_limit"})
    dtypes = {"frames": np.uint8, "actions": np.uint8, "rewards": np.float32, "terminals": bool, "has_action": bool,
              "episode_step": np.int32}
    arrays = {name: np.asarray(columns[name], dtype=dtypes[name]) for name in ARRAYS}
    return Demonstrations(metadata={**metadata, "episodes": summaries}, **arrays)


def split(demos: Demonstrations) -> list[Episode]:
    """The episodes of a demo file: the inverse of `assemble`."""
    ends = np.flatnonzero(~demos.has_action)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [Episode(demos.frames[a:b + 1], demos.actions[a:b], demos.rewards[a:b], bool(demos.terminals[a:b].any()))
            for a, b in zip(starts, ends)]


def describe(game: str, protocol: dict, source: str, demonstrator: str, **details) -> dict:
    """The metadata every demo file carries, whatever produced it."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "game": game,
            "env": {key: protocol[key] for key in ENV_KEYS}, "source": source, "demonstrator": demonstrator,
            "noise": 0.0, "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), **details}


def record(game: str, protocol: dict, episodes: int, seed: int, path: str | Path, stats_path: str | Path,
           noise: float = 0.0) -> Demonstrations:
    """Record `episodes` episodes of the game's scripted demonstrator, with action noise `noise` (see `play`)."""
    if game not in DEMONSTRATORS:
        raise DemoFileError(f"no demonstrator for {game!r}; demonstrators exist for {', '.join(DEMONSTRATORS)}")
    demonstrator = DEMONSTRATORS[game]
    env = make_env(game, protocol, seed)
    played = play(env, demonstrator.policy(env, seed), episodes, seed, noise, label=f"demos {game}")
    env.close()
    demos = assemble(played, describe(game, protocol, SCRIPTED, demonstrator.name, noise=noise, seed=seed))
    write(demos, path, stats_path)
    return demos


def write(demos: Demonstrations, path: str | Path, stats_path: str | Path) -> None:
    """The demo file and its per-episode score table, which the analysis reads to show the demonstrator a run used."""
    save(demos, path)
    write_csv(stats_path, stats(demos))


def stats(demos: Demonstrations) -> pd.DataFrame:
    m = demos.metadata
    return demos.episodes.assign(game=m["game"], source=m.get("source", SCRIPTED), demonstrator=m["demonstrator"],
                                 noise=m["noise"])


def first_episodes(demos: Demonstrations, count: int, path: Path) -> Demonstrations:
    """The first `count` episodes of a demo file: demonstration quantity as a knob on a recorded or imported set."""
    available = len(demos.metadata["episodes"])
    if not 0 < count <= available:
        raise DemoFileError(f"demo file {path} holds {available} episodes; a demo set of {count} cannot be taken "
                            f"from it: record more, or ask for at most {available}")
    end = np.flatnonzero(~demos.has_action)[count - 1] + 1
    arrays = {name: getattr(demos, name)[:end] for name in ARRAYS}
    metadata = {**demos.metadata, "episodes": demos.metadata["episodes"][:count], "taken_from": str(path)}
    return Demonstrations(metadata=metadata, **arrays)


def random_scores(game: str, protocol: dict, episodes: int, seed: int) -> pd.DataFrame:
    """Scores of uniformly random play under the same protocol: the floor a demonstrator must clear."""
    env = make_env(game, protocol, seed)
    rows = []
    for episode, _ in episode_starts(env, seed, episodes):
        score, length, done = 0.0, 0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            score, length, done = score + reward, length + 1, terminated or truncated
        rows.append({"game": game, "episode": episode, "score": score, "length": length})
    env.close()
    return pd.DataFrame(rows)


def content_sha256(demos: Demonstrations) -> str:
    """A checksum of what the demonstrations hold: every array and the metadata but when and from where the file was
    written. Two recordings of the same demonstrations match by it although their files (which carry the recording
    time) differ byte for byte."""
    digest = hashlib.sha256()
    metadata = {key: value for key, value in demos.metadata.items() if key not in ORIGIN_KEYS}
    digest.update(json.dumps(metadata, sort_keys=True).encode())
    for name in ARRAYS:
        array = np.ascontiguousarray(getattr(demos, name))
        digest.update(f"{name} {array.dtype.str} {array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def save(demos: Demonstrations, path: str | Path) -> None:
    arrays = {name: getattr(demos, name) for name in ARRAYS}
    arrays["metadata"] = np.frombuffer(json.dumps(demos.metadata).encode(), dtype=np.uint8)
    atomic_write(path, lambda stream: np.savez_compressed(stream, **arrays))


def load(path: str | Path, game: str, protocol: dict) -> Demonstrations:
    """Load a demonstration file and check all of it against the run that wants it: every array's type, shape and
    values, the metadata's keys and types, and the agreement between the two. A file that passes holds nothing the
    replay or the analysis could misread; every problem is one clear line."""
    path = Path(path)
    if path.is_dir() or (path.exists() and not path.is_file()):
        what = "a folder" if path.is_dir() else "not a regular file (a pipe, socket or device)"
        raise DemoFileError(f"demo file {path} is {what}; pass the demo file (.npz) itself")
    if not path.is_file():
        raise DemoFileError(f"demo file {path} does not exist; record it with "
                            f"`python -m agents demos --game {game} --out {path}`")
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a .npy file: one array, not the archive of a demo file
            raise DemoFileError(f"demo file {path} holds a single NumPy array (.npy), not a demo file (an .npz "
                                f"archive of {', '.join(ARRAYS)} and metadata); record demos with `python -m agents "
                                f"demos --game {game} --out FILE.npz`")
        with loaded as archive:
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

    def invalid(problem: str) -> DemoFileError:
        return DemoFileError(f"demo file {path} is invalid: {problem}; record it again (`python -m agents demos "
                             f"--game {game} --out {path}`) or fix the program that wrote it")

    if not isinstance(metadata, dict):
        raise invalid(f"its metadata is {_json_kind(metadata)}, not an object")
    if metadata.get("format") != FORMAT or metadata.get("format_version") != FORMAT_VERSION:
        raise DemoFileError(f"demo file {path} has format {metadata.get('format')!r} version "
                            f"{metadata.get('format_version')!r}; this suite reads {FORMAT!r} version "
                            f"{FORMAT_VERSION}: record it again")
    metadata = current_metadata(metadata)
    _check_metadata(metadata, invalid)
    if metadata["game"] != game:
        raise DemoFileError(f"demo file {path} holds {metadata['game']} demonstrations, not {game}; "
                            "point the run at the right game's file")
    wanted = {key: protocol[key] for key in ENV_KEYS}
    differences = [f"{key}={metadata['env'].get(key)!r} (run uses {value!r})"
                   for key, value in wanted.items() if metadata["env"].get(key) != value]
    if differences:
        raise DemoFileError(f"demo file {path} was recorded under other environment settings: "
                            f"{'; '.join(differences)}; record demos under the run's protocol")
    _check_arrays(arrays, protocol["screen_size"], invalid)
    _check_values(arrays, game, action_count(game, protocol), invalid)
    _check_episodes(arrays, metadata["episodes"], invalid)
    return Demonstrations(metadata=metadata, **arrays)


def action_count(game: str, protocol: dict) -> int:
    """How many actions the run's agent chooses from: the ALE's full set, or the game's own minimal set."""
    if protocol["full_action_space"]:
        return len(ale_py.Action.__members__)
    env = make_env(game, protocol, seed=0)
    count = int(env.action_space.n)
    env.close()
    return count


# The metadata keys every demo file carries (see `describe` and `assemble`), and the JSON types their values have.
NUMBER = (int, float)
METADATA_TYPES = {"game": str, "env": dict, "source": str, "demonstrator": str, "noise": NUMBER, "episodes": list}
EPISODE_TYPES = {"episode": int, "score": NUMBER, "length": int, "ended_by": str}
ENDINGS = ("terminal", "time_limit")
TYPE_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer", NUMBER: "a number"}


def current_metadata(metadata: dict) -> dict:
    """A demo file's metadata under today's key names (a file written before the action noise was called `noise`
    carries it as `epsilon`), in its place among the keys. Writing such demonstrations again stores the new names."""
    renamed = {key: new for key, new in RENAMED_DEMO_KEYS.items() if key in metadata and new not in metadata}
    return {renamed.get(key, key): value for key, value in metadata.items()}


def _json_kind(value) -> str:
    kinds = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "an object", type(None): "null"}
    return kinds.get(type(value), type(value).__name__)


def _check_types(record: dict, types: dict, where: str, invalid) -> None:
    missing = [key for key in types if key not in record]
    if missing:
        raise invalid(f"{where} lacks {', '.join(missing)}")
    for key, wanted in types.items():
        value = record[key]
        if isinstance(value, bool) or not isinstance(value, wanted):  # JSON's true/false are no numbers here
            raise invalid(f"{where}'s {key!r} is {_json_kind(value)} ({json.dumps(value)[:40]}), "
                          f"not {TYPE_NAMES[wanted]}")


def _check_metadata(metadata: dict, invalid) -> None:
    _check_types(metadata, METADATA_TYPES, "the metadata", invalid)
    if not 0.0 <= metadata["noise"] <= 1.0:
        raise invalid(f"the metadata's noise={metadata['noise']} is not a probability")
    for index, episode in enumerate(metadata["episodes"]):
        where = f"the metadata's episode {index}"
        if not isinstance(episode, dict):
            raise invalid(f"{where} is {_json_kind(episode)}, not an object")
        _check_types(episode, EPISODE_TYPES, where, invalid)
        if episode["ended_by"] not in ENDINGS:
            raise invalid(f"{where} ended_by={episode['ended_by']!r} is not one of {', '.join(ENDINGS)}")


def _check_arrays(arrays: dict, screen: int, invalid) -> None:
    """Types and shapes: uint8 frames of the protocol's screen, one entry per frame in every other array."""
    frames = arrays["frames"]
    if frames.dtype != np.uint8:
        numeric = frames.size and frames.dtype.kind in "iuf"
        seen = f" with values in [{frames.min():g}, {frames.max():g}]" if numeric else ""
        raise invalid(f"frames are {frames.dtype}{seen}; they must be uint8 grey levels 0-255, as the suite's "
                      "preprocessing gives them")
    if frames.ndim != 3 or frames.shape[1:] != (screen, screen):
        raise invalid(f"frames have shape {frames.shape}; this protocol's frames are (count, {screen}, {screen})")
    kinds = {"actions": ("iu", "integer action ids"), "rewards": ("iuf", "real numbers"),
             "terminals": ("b", "booleans"), "has_action": ("b", "booleans"),
             "episode_step": ("iu", "integer step counters")}
    for name, (accepted, meaning) in kinds.items():
        array = arrays[name]
        if array.dtype.kind not in accepted:
            raise invalid(f"{name} has dtype {array.dtype}; it must hold {meaning}")
        if array.ndim != 1:
            raise invalid(f"{name} has shape {array.shape}; it must hold one value per frame")
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise invalid(f"arrays of different lengths ({', '.join(f'{name} {n}' for name, n in lengths.items())}); "
                      "every array holds one entry per frame")


def _check_values(arrays: dict, game: str, num_actions: int, invalid) -> None:
    actions, rewards = arrays["actions"], arrays["rewards"]
    if actions.size and (actions.min() < 0 or actions.max() >= num_actions):
        raise invalid(f"actions hold ids from {actions.min()} to {actions.max()}; {game} under this protocol has "
                      f"{num_actions} actions, ids 0 to {num_actions - 1}")
    with np.errstate(over="ignore"):  # the replay stores rewards as float32: a larger value becomes infinite there
        non_finite = ~np.isfinite(rewards.astype(np.float32))
    if non_finite.any():
        raise invalid(f"rewards at {non_finite.sum()} of {len(rewards)} frames are NaN or infinite (as float32), "
                      f"the first at frame {np.argmax(non_finite)}")


def _check_episodes(arrays: dict, episodes: list[dict], invalid) -> None:
    """The episode layout of `assemble`, and the metadata's episode table agreeing with it."""
    size, has_action = len(arrays["frames"]), arrays["has_action"]
    ends = np.flatnonzero(~has_action)
    if size == 0 or len(ends) == 0 or ends[-1] != size - 1:
        raise invalid("no complete episode (every episode ends with a frame that has no action)")
    if len(ends) != len(episodes):
        raise invalid(f"{len(ends)} episodes in the arrays but {len(episodes)} in the metadata")
    starts = np.concatenate([[0], ends[:-1] + 1])
    expected_step = np.arange(size) - np.repeat(starts, ends - starts + 1)
    if not np.array_equal(expected_step, arrays["episode_step"]):
        raise invalid("episode step counters do not match the episode boundaries")
    last_actions = ends[ends > starts] - 1
    elsewhere = arrays["terminals"].copy()
    elsewhere[last_actions] = False
    if elsewhere.any():
        raise invalid(f"a terminal at frame {np.argmax(elsewhere)}, which is not an episode's last action")
    scores = np.add.reduceat(np.where(has_action, arrays["rewards"], 0.0).astype(np.float64), starts)
    for index, (start, end, score, episode) in enumerate(zip(starts, ends, scores, episodes)):
        length = int(end - start)
        if episode["length"] != length:
            raise invalid(f"episode {index} has {length} actions but the metadata says {episode['length']}")
        # scores are summed in float64 when recorded, the rewards stored as float32
        if not np.isclose(episode["score"], score, rtol=1e-4, atol=1e-3):
            raise invalid(f"episode {index}'s rewards sum to {score:g} but the metadata's score is "
                          f"{episode['score']:g}")
        terminated = length > 0 and bool(arrays["terminals"][end - 1])
        if length and (episode["ended_by"] == "terminal") != terminated:  # an episode without actions shows no end
            raise invalid(f"episode {index} ends {'with' if terminated else 'without'} a terminal but the metadata "
                          f"says it ended by {episode['ended_by']}")
