"""Checkpoints of a training run: one file each, written atomically, the newest few kept.

A checkpoint is written under a temporary name and renamed into place, so a kill while writing leaves the previous
checkpoint as the newest complete one. Loading starts from the newest file and falls back to older ones if a file
cannot be read, so even a damaged newest file (a full disk, a copy cut short) costs only the steps since the one before.
A write that fails (the disk filled meanwhile) raises OutputError and never touches the older checkpoints.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import torch

from .io import atomic_write, remove_empty_folders

PATTERN = re.compile(r"^checkpoint-(\d{12})\.pt$")


class Checkpoints:
    def __init__(self, directory: str | Path, keep: int = 2, root: str | Path | None = None):
        """`root`: the highest of `directory`'s parents that clear() removes once it is empty, so that the folders
        made for a run's checkpoints go with them (default: none, only `directory`)."""
        self.directory, self.keep = Path(directory), keep
        self.root = Path(os.path.abspath(root if root is not None else directory))

    def files(self) -> list[Path]:
        """Complete checkpoints, oldest first (temporary files of interrupted writes are not listed)."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if PATTERN.match(path.name))

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
        for path in reversed(self.files()):
            try:
                return torch.load(path, map_location="cpu", weights_only=False)
            except Exception as error:  # any unreadable file: fall back to the one before it
                print(f"checkpoint {path} cannot be read ({type(error).__name__}); trying an older one",
                      file=sys.stderr)
        return None

    def clear(self) -> None:
        """Delete the checkpoints, then the emptied folder and its parents below the root that are empty now (a
        folder that holds anything else stays, and so does the root: it may be a folder the user made)."""
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if PATTERN.match(path.name) or path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
        directory = Path(os.path.abspath(self.directory))
        parents = [folder for folder in directory.parents if self.root in folder.parents]
        remove_empty_folders([*reversed(parents), directory])
