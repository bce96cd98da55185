"""Export demo files to Minari datasets and import Minari datasets as demo files.

A dataset exported here stores each episode's frames (84×84 grey, lossless: no JPEG encoding) as observations, and the
demo file's metadata as JSON in the dataset's description, so an import gives back the same file. A dataset made
elsewhere (for example Minari's `atari/*/expert-v0`, raw 210×160 RGB screens) is converted frame by frame: grey with
OpenCV's luminance weights, resized with INTER_AREA, and stamped with the protocol the importer is given.
Datasets live under Minari's root: `root` (or MINARI_DATASETS_PATH, Minari's own default otherwise).
"""
from __future__ import annotations

import json
import os
import warnings
from contextlib import contextmanager

import numpy as np

from ..envs import frame_from_screen
from ..errors import DemoFileError
from .files import Demonstrations, Episode, assemble, current_metadata, describe, split, write

MARKER = "dqfd-suite metadata: "


def _minari():
    try:
        import minari
    except ImportError:
        raise DemoFileError("Minari import and export need minari: pip install -e '.[minari]'") from None
    return minari


@contextmanager
def _root(root):
    """Minari reads its dataset folder from the environment; point it at `root` for the duration of a call."""
    previous = os.environ.get("MINARI_DATASETS_PATH")
    if root is not None:
        os.environ["MINARI_DATASETS_PATH"] = str(root)
    try:
        yield
    finally:
        if root is not None:
            if previous is None:
                os.environ.pop("MINARI_DATASETS_PATH")
            else:
                os.environ["MINARI_DATASETS_PATH"] = previous


def export(demos: Demonstrations, dataset_id: str, root=None):
    minari = _minari()
    from gymnasium import spaces
    from minari.data_collector import EpisodeBuffer

    buffers = []
    for index, episode in enumerate(split(demos)):
        steps = len(episode.actions)
        terminations, truncations = np.zeros(steps, dtype=bool), np.zeros(steps, dtype=bool)
        if steps:  # the last step ends the episode: a game over, or the time limit
            (terminations if episode.terminated else truncations)[-1] = True
        buffers.append(EpisodeBuffer(id=index, observations=episode.frames, actions=episode.actions.astype(np.int64),
                                     rewards=episode.rewards.astype(np.float64), terminations=terminations,
                                     truncations=truncations, infos={}))
    screen = demos.frames.shape[1:]
    metadata = demos.metadata
    description = (f"{metadata['game']} demonstrations by {metadata['demonstrator']} "
                   f"(action noise {metadata['noise']}), exported by dqfd-suite.\n{MARKER}{json.dumps(metadata)}")
    with _root(root):
        if dataset_id in minari.list_local_datasets():
            raise DemoFileError(f"Minari dataset {dataset_id} exists already; delete it (minari.delete_dataset) "
                                "or export under another id")
        with warnings.catch_warnings():  # Minari asks for an e-mail, a code link and an env spec it does not need
            warnings.simplefilter("ignore", UserWarning)
            return minari.create_dataset_from_buffers(
                dataset_id, buffers, algorithm_name=metadata["demonstrator"], author="dqfd-suite",
                observation_space=spaces.Box(0, 255, screen, np.uint8), action_space=spaces.Discrete(18),
                description=description, jpeg_encoding=False)


def _frame(observation: np.ndarray, screen: int) -> np.ndarray:
    observation = np.asarray(observation)
    if observation.shape == (screen, screen) and observation.dtype == np.uint8:
        return observation
    if observation.ndim == 3 and observation.shape[-1] == 3:
        return frame_from_screen(observation, screen)
    raise DemoFileError(f"Minari observations of shape {observation.shape} are neither {screen}×{screen} grey frames "
                        "nor RGB screens; this importer reads image observations only")


def import_dataset(dataset_id: str, game: str, protocol: dict, path, stats_path, root=None) -> Demonstrations:
    minari = _minari()
    with _root(root):
        if dataset_id not in minari.list_local_datasets():
            raise DemoFileError(f"no local Minari dataset {dataset_id} (under {root or 'Minari’s default root'}); "
                                "nothing is downloaded at run time: copy the dataset there first")
        dataset = minari.load_dataset(dataset_id)
        description = dataset.storage.metadata.get("description") or ""
        ours = current_metadata(json.loads(description.split(MARKER, 1)[1])) if MARKER in description else None
        if ours and ours["game"] != game:
            raise DemoFileError(f"Minari dataset {dataset_id} holds {ours['game']} demonstrations, not {game}")
        screen = protocol["screen_size"]
        episodes = []
        for episode in dataset.iterate_episodes():
            actions = np.asarray(episode.actions)
            if actions.ndim != 1 or not np.issubdtype(actions.dtype, np.integer) or (actions >= 18).any():
                raise DemoFileError(f"Minari dataset {dataset_id} has actions that are not ids of the 18-action set")
            episodes.append(Episode([_frame(o, screen) for o in episode.observations], actions.tolist(),
                                    np.asarray(episode.rewards, dtype=float).tolist(),
                                    terminated=bool(np.asarray(episode.terminations)[-1]) if len(actions) else False))
    if not episodes:
        raise DemoFileError(f"Minari dataset {dataset_id} has no episodes")
    if ours:
        details = {key: value for key, value in ours.items() if key not in ("episodes", "format", "format_version")}
        metadata = {**describe(game, protocol, ours["source"], ours["demonstrator"]), **details}
    else:
        metadata = describe(game, protocol, "minari", f"minari:{dataset_id}", dataset=dataset_id)
    metadata["imported_from"] = f"minari:{dataset_id}"
    demos = assemble(episodes, metadata)
    write(demos, path, stats_path)
    return demos
