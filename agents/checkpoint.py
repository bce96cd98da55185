"""Checkpoints of a training run: one file each, written atomically, the newest few kept.

A checkpoint is written under a temporary name and renamed into place, so a kill while writing leaves the previous
checkpoint as the newest complete one. Loading starts from the newest file and falls back to older ones if a file
cannot be read, so even a damaged newest file (a full disk, a copy cut short) costs only the steps since the one before.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import torch

from .io import atomic_write

PATTERN = re.compile(r"^checkpoint-(\d{12})\.pt$")


class Checkpoints:
    def __init__(self, directory: str | Path, keep: int = 2):
        self.directory, self.keep = Path(directory), keep

    def files(self) -> list[Path]:
        """Complete checkpoints, oldest first (temporary files of interrupted writes are not listed)."""
        if not self.directory.is_dir():
            return []
        return sorted(path for path in self.directory.iterdir() if PATTERN.match(path.name))

    def save(self, position: int, payload: dict) -> Path:
        """Write the checkpoint taken after `position` units of work (updates plus agent steps), then prune."""
        path = self.directory / f"checkpoint-{position:012d}.pt"
        atomic_write(path, lambda stream: torch.save(payload, stream))
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
        if self.directory.is_dir():
            for path in self.directory.iterdir():
                if PATTERN.match(path.name) or path.name.endswith(".tmp"):
                    path.unlink(missing_ok=True)
            if not any(self.directory.iterdir()):
                self.directory.rmdir()
