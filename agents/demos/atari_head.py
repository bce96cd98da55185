"""Import one Atari-HEAD trial (Zhang et al. 2020) as a demo file of this suite.

A trial is a text table, `<trial>.txt`, with the header
`frame_id,episode_id,score,duration(ms),unclipped_reward,action,gaze_positions` (gaze is a variable-length tail of x,y
values, or `null`), and its frames, `<trial>.tar.bz2` holding `<trial>/<frame_id>.png` (210×160 RGB). Actions are ids of
the full 18-action set.

How the rows become transitions (our reading of the layout, stated in the file's metadata):
- row t's frame is the state, its action the choice made on it, its unclipped reward the reward that action earned,
  and row t+1's frame the next state; an episode's last row is its final frame;
- `stride` k keeps every k-th row and sums the rewards in between, for trials played one emulator frame per row;
- a change of episode_id ends an episode with a terminal (the game was over); the trial's last episode was cut by the
  15-minute limit, so it ends without one; rows whose episode_id is `null` are left out;
- frames become grey with OpenCV's luminance weights and are resized like the suite's preprocessing (INTER_AREA).
The humans played without sticky actions, no-op starts or frame pooling, so the file is stamped with the protocol the
importer is given: that protocol is the one the demonstrations are meant to be used under, not the one they were
recorded under.
"""
from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import cv2
import numpy as np

from ..envs import frame_from_screen
from ..errors import DemoFileError
from .files import Episode, assemble, describe, write

HEADER = ["frame_id", "episode_id", "score", "duration(ms)", "unclipped_reward", "action"]


def read_rows(table: Path) -> list[dict]:
    with open(table, newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader, [])
        if header[:len(HEADER)] != HEADER:
            raise DemoFileError(f"{table} does not start with the Atari-HEAD header {','.join(HEADER)},gaze_positions "
                                f"(found {','.join(header[:len(HEADER)])!r}); is it an Atari-HEAD trial table?")
        rows = []
        for line, fields in enumerate(reader, start=2):
            if not fields:
                continue
            if len(fields) < len(HEADER):
                raise DemoFileError(f"{table} line {line} has {len(fields)} fields, fewer than the {len(HEADER)} "
                                    "the layout has; the file is cut short or not an Atari-HEAD table")
            row = dict(zip(HEADER, fields))
            if row["episode_id"] == "null":
                continue
            try:
                action = int(row["action"])
                reward = 0.0 if row["unclipped_reward"] == "null" else float(row["unclipped_reward"])
                rows.append({"frame_id": row["frame_id"], "episode": int(row["episode_id"]), "action": action,
                             "reward": reward})
            except ValueError:
                raise DemoFileError(f"{table} line {line}: episode_id, action or reward is not a number "
                                    f"({row['episode_id']!r}, {row['action']!r}, {row['unclipped_reward']!r})") from None
            if not 0 <= action < 18:
                raise DemoFileError(f"{table} line {line}: action {action} is not an id of the 18-action set")
    if not rows:
        raise DemoFileError(f"{table} has no rows with an episode id; nothing to import")
    return rows


def read_frames(archive: Path, frame_ids: list[str], screen: int) -> dict[str, np.ndarray]:
    wanted, frames = set(frame_ids), {}
    try:
        with tarfile.open(archive, "r:bz2") as tar:
            for member in tar:
                name = Path(member.name)
                if member.isfile() and name.suffix == ".png" and name.stem in wanted:
                    data = np.frombuffer(tar.extractfile(member).read(), dtype=np.uint8)
                    image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # BGR
                    if image is None:
                        raise DemoFileError(f"{archive}: {member.name} is not a readable PNG")
                    frames[name.stem] = frame_from_screen(image[:, :, ::-1], screen)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DemoFileError(f"{archive} is not a readable .tar.bz2 of frames ({error}); download it again") from None
    missing = [frame_id for frame_id in frame_ids if frame_id not in frames]
    if missing:
        raise DemoFileError(f"{archive} lacks {len(missing)} of the table's frames (first: {missing[0]}.png); the "
                            "table and the frames are of different trials, or the archive is incomplete")
    return frames


def convert(table: str | Path, frames: str | Path, game: str, protocol: dict, stride: int = 1):
    """Episodes of the trial, in order, as `files.Episode`s plus the metadata to stamp on the file."""
    table, frames = Path(table), Path(frames)
    for path in (table, frames):
        if not path.is_file():
            raise DemoFileError(f"{path} does not exist; an Atari-HEAD trial is a .txt table and a .tar.bz2 of frames")
    if stride < 1:
        raise DemoFileError(f"stride={stride}; keep every k-th row with k ≥ 1")
    rows = read_rows(table)
    images = read_frames(frames, [row["frame_id"] for row in rows], protocol["screen_size"])
    episodes, start = [], 0
    for end in range(1, len(rows) + 1):
        if end < len(rows) and rows[end]["episode"] == rows[start]["episode"]:
            continue
        chunk = rows[start:end]
        kept = list(range(0, len(chunk), stride))
        # Transitions run from one kept row to the next: the last kept row is the episode's final frame.
        actions = [chunk[i]["action"] for i in kept[:-1]]
        rewards = [sum(row["reward"] for row in chunk[i:i + stride]) for i in kept[:-1]]
        frames_kept = [images[chunk[i]["frame_id"]] for i in kept]
        if actions:  # a one-row episode has no transition
            episodes.append(Episode(frames_kept, actions, rewards, terminated=end < len(rows)))
        start = end
    if not episodes:
        raise DemoFileError(f"{table} has no episode of two rows or more; nothing to import")
    trial = table.stem
    metadata = describe(game, protocol, "atari_head", f"atari_head:{trial}", trial=trial, stride=stride,
                        imported_from=[str(table), str(frames)],
                        env_note="human play without sticky actions, no-op starts or frame pooling")
    return episodes, metadata


def import_trial(table, frames, game: str, protocol: dict, path, stats_path, stride: int = 1):
    episodes, metadata = convert(table, frames, game, protocol, stride)
    demos = assemble(episodes, metadata)
    write(demos, path, stats_path)
    return demos
