"""Checkpoints of a training run: one file each, written atomically, the newest few kept.

A checkpoint is written under a temporary name and renamed into place, so a kill while writing leaves the previous
checkpoint as the newest complete one. Loading starts from the newest file and falls back to older ones if a file
cannot be read, so even a damaged newest file (a full disk, a copy cut short) costs only the steps since the one before.
A write that fails (the disk filled meanwhile) raises OutputError and never touches the older checkpoints.

A checkpoint folder belongs to one cell: its owner file names the cell, and a run holds a lock on it while it runs, so
a second run, of another cell or the same one, never deletes or prunes the first one's checkpoints.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from pathlib import Path

import torch

from .errors import OutputError
from .io import atomic_write, remove_empty_folders

PATTERN = re.compile(r"^checkpoint-(\d{12})\.pt$")
OWNER = "cell.json"  # the cell whose checkpoints the folder holds: {game, method, seed, demos}


def describe(owner: dict) -> str:
    """Pong/dqfd/seed 0 with scripted_noise0_ep5.npz: a cell as the messages name it."""
    demos = f" with {owner['demos']}" if owner.get("demos") else ""
    return f"{owner.get('game')}/{owner.get('method')}/seed {owner.get('seed')}{demos}"


class Checkpoints:
    def __init__(self, directory: str | Path, keep: int = 2, root: str | Path | None = None):
        """`root`: the highest of `directory`'s parents that clear() removes once it is empty, so that the folders
        made for a run's checkpoints go with them (default: none, only `directory`)."""
        self.directory, self.keep = Path(directory), keep
        self.root = Path(os.path.abspath(root if root is not None else directory))
        self.lock = None  # the owner file, open and locked while this run holds the folder

    def named(self) -> list[Path]:
        """Everything named like a checkpoint, oldest first (temporary files of interrupted writes are not)."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if PATTERN.match(path.name))

    def files(self) -> list[Path]:
        """Complete checkpoints, oldest first: the files named like one (a folder of that name is none)."""
        return [path for path in self.named() if path.is_file()]

    def save(self, position: int, payload: dict) -> Path:
        """Write the checkpoint taken after `position` units of work (updates plus agent steps), then prune; so
        `keep` + 1 files exist while one is written."""
        path = self.directory / f"checkpoint-{position:012d}.pt"
        # Pickle protocol 4 stores the replay's numpy arrays as raw bytes. torch's default, 2, writes bytes through a
        # latin-1 string: every byte from 128 up takes two, so a replay of frames grew by half, and took six times as
        # long to write; nor can protocol 2 hold an array past 4 GiB.
        atomic_write(path, lambda stream: torch.save(payload, stream, pickle_protocol=4))
        for old in self.files()[: -self.keep]:
            old.unlink(missing_ok=True)
        return path

    def load_latest(self) -> dict | None:
        """The newest checkpoint this suite wrote (a mapping with the fingerprint it was taken under) that can be
        read; whatever else is named like one is skipped with a line."""
        for path in self.named():
            if not path.is_file():
                print(f"{path} is named like a checkpoint but is not a file; skipped", file=sys.stderr)
        files = self.files()
        for path in reversed(files):
            try:
                state = torch.load(path, map_location="cpu", weights_only=False)
            except Exception as error:  # any unreadable file: fall back to the one before it
                print(f"checkpoint {path} cannot be read ({type(error).__name__}); trying an older one",
                      file=sys.stderr)
                continue
            if isinstance(state, dict) and "fingerprint" in state:
                return state
            print(f"{path} is not a checkpoint of this suite (it holds no fingerprint); trying an older one",
                  file=sys.stderr)
        if files:
            print(f"none of the {len(files)} checkpoints in {self.directory} can be resumed; starting over",
                  file=sys.stderr)
        return None

    def claim(self, owner: dict) -> None:
        """Hold the folder for `owner`'s run until release(): refused when another run holds it now, or when it holds
        checkpoints of another cell (checkpoints of this cell under other settings are this run's to replace)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = open(self.directory / OWNER, "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._owner(lock)
            lock.close()
            raise OutputError(f"checkpoint folder {self.directory} is in use by another run now "
                              f"({describe(holder or {})}); give each run its own --checkpoint-dir") from None
        previous = self._owner(lock)
        if previous not in (None, owner) and self.files():
            lock.close()
            raise OutputError(f"checkpoint folder {self.directory} holds the checkpoints of {describe(previous)}, not "
                              f"of this run ({describe(owner)}); give each run its own --checkpoint-dir, or delete "
                              "that folder if its run is not to be resumed")
        lock.truncate(0)
        lock.write(json.dumps(owner, sort_keys=True))
        lock.flush()
        self.lock = lock

    def release(self) -> None:
        """Let another run have the folder (a process that dies releases it too)."""
        if self.lock is not None:
            self.lock.close()
            self.lock = None

    @staticmethod
    def _owner(lock) -> dict | None:
        lock.seek(0)
        try:
            owner = json.loads(lock.read())
        except ValueError:  # empty (a run that died before writing it) or not ours
            return None
        return owner if isinstance(owner, dict) else None

    def discard(self) -> None:
        """Delete the checkpoints and the temporary files of interrupted writes; the folder stays its cell's."""
        for path in self.directory.iterdir() if self.directory.is_dir() else ():
            if (PATTERN.match(path.name) or path.name.endswith(".tmp")) and path.is_file():
                path.unlink(missing_ok=True)

    def clear(self) -> None:
        """Delete the checkpoints and the owner file, then the emptied folder and its parents below the root that are
        empty now (a folder that holds anything else stays, and so does the root: it may be a folder the user made)."""
        self.discard()
        (self.directory / OWNER).unlink(missing_ok=True)
        directory = Path(os.path.abspath(self.directory))
        parents = [folder for folder in directory.parents if self.root in folder.parents]
        remove_empty_folders([*reversed(parents), directory])
