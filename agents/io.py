"""Output files: atomic writes (a reader, or Snakemake, never sees a half-written output), the check that a folder can
take a run's outputs before compute is spent, and one clear line when a write fails anyway; paths as records name
them."""
from __future__ import annotations

import errno
import json
import os
import secrets
import tempfile
from pathlib import Path

import yaml

from .errors import OutputError

# What to do about a failed write, by its cause; other causes get no advice beyond their name.
ADVICE = {
    errno.ENOSPC: "free space there or write elsewhere",
    errno.EDQUOT: "free space within your quota there or write elsewhere",
    errno.EACCES: "make it writable or write elsewhere",
    errno.EPERM: "make it writable or write elsewhere",
    errno.EROFS: "write elsewhere",
}


def cause(error: OSError) -> str:
    """The OS's words for an error (strerror, "No space left on device"), and what to do about it."""
    words = error.strerror or str(error)
    return f"{words}; {ADVICE[error.errno]}" if error.errno in ADVICE else words


def blocking_file(folder: Path) -> Path | None:
    """The file (or anything but a folder) that sits where `folder` or one of its parents should be, if any."""
    for place in (folder, *folder.parents):
        if os.path.lexists(place):
            return None if place.is_dir() else place
    return None


def nearest_folder(folder: Path) -> Path:
    """`folder` if it exists, else its nearest existing parent: where it would be created."""
    folder = Path(os.path.abspath(folder))
    while not os.path.lexists(folder):
        folder = folder.parent
    return folder


def check_folder(folder: str | Path, label: str) -> Path:
    """Refuse a folder that is a file, or that cannot be created or written, before a run spends compute on what it
    would write there; returns the nearest existing folder (whose disk the outputs would go to). Nothing is left
    behind: the probe is a nameless temporary file in that nearest folder, and creating the folder itself needs the
    same permission as creating that file."""
    folder = Path(folder)
    blocker = blocking_file(folder)
    if blocker is not None:
        where = "is a file" if blocker == folder else f"cannot be created: {blocker} is a file"
        raise OutputError(f"{label} {folder} {where}, not a folder; name a folder, or move the file away")
    existing = nearest_folder(folder)
    try:
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as error:
        raise OutputError(f"{label} {folder} cannot be written ({existing}: {cause(error)})") from None
    return existing


def size_text(count: float) -> str:
    return f"{count / 2**20:.0f} MiB" if count < 2**30 else f"{count / 2**30:.1f} GiB"


def _make_folders(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; returns those it created, outermost first."""
    created: list[Path] = []
    attempts = 0
    while True:
        try:
            for place in reversed([folder, *folder.parents]):
                if os.path.isdir(place):
                    continue
                try:
                    os.mkdir(place)
                except FileExistsError:  # made meanwhile by another run (or a file: the next mkdir says so)
                    continue
                if place not in created:
                    created.append(place)
            return created
        except FileNotFoundError:
            # Another run's cleanup removed an emptied parent between two mkdir calls: start over.
            attempts += 1
            if attempts == 3:
                remove_empty_folders(created)
                raise


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove these folders, innermost first, as long as they are empty (never a folder holding anything)."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:  # not empty (or gone): nothing above it is empty either
            return


class _Stream:
    """The temporary file as the writer sees it. The first OSError of a write is kept, because torch.save turns it
    into a RuntimeError that names neither the file nor the cause ("unexpected pos 46 vs 0")."""

    def __init__(self, stream):
        self.stream, self.error = stream, None

    def _keep(self, call, *args):
        try:
            return call(*args)
        except OSError as error:
            self.error = self.error or error
            raise

    def write(self, data):
        return self._keep(self.stream.write, data)

    def flush(self):
        return self._keep(self.stream.flush)

    def __getattr__(self, name):  # seek, tell, fileno ... for writers that use them
        return getattr(self.stream, name)


def atomic_write(path: str | Path, write) -> None:
    """Call write(file_object) on a temporary file beside `path`, then rename it into place.

    The file gets the mode the user's umask gives any new file (mkstemp's 0600 would leave outputs unreadable to the
    user's group on a shared disk). A failed write removes its temporary file and the folders it created, leaves an
    older file at `path` as it was, and raises OutputError: one line with the path and the OS's reason."""
    path = Path(path)
    created, temporary, stream = [], None, None
    try:
        blocker = blocking_file(path.parent)
        if blocker is not None:
            raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder; move the file away")
        created = _make_folders(path.parent)
        name = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
        handle = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to any new file
        temporary = name
        with os.fdopen(handle, "wb") as file:
            stream = _Stream(file)
            write(stream)
            stream.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        remove_empty_folders(created)
        if isinstance(error, OutputError) or not isinstance(error, Exception):  # not a failed write: an interrupt
            raise
        failure = stream.error if stream is not None and stream.error is not None else error
        if isinstance(failure, OSError):
            raise OutputError(f"cannot write {path}: {cause(failure)}") from error
        raise


def write_text(path, text: str) -> None:
    atomic_write(path, lambda stream: stream.write(text.encode()))


def json_text(data) -> str:
    """A record as the suite writes JSON (summary.json, provenance.json)."""
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def yaml_text(data) -> str:
    """A record as the suite writes YAML (a run's config.yaml)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def write_json(path, data) -> None:
    write_text(path, json_text(data))


def write_yaml(path, data) -> None:
    write_text(path, yaml_text(data))


def write_csv(path, frame) -> None:
    write_text(path, frame.to_csv(index=False))


def relative_path(path: str | Path, run_dir: str | Path) -> str:
    """`path` as a run's records name it: relative to the run folder, so that no record holds a path of the machine
    that ran it and the name still leads to the file from wherever the results folder is copied (the workflow's
    RESULTS/demos/Pong/x.npz, seen from RESULTS/runs/Pong/dqfd/x/seed_0, is ../../../../../demos/Pong/x.npz). Where
    no relative path exists (another drive on Windows), the file's name alone."""
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(run_dir))).as_posix()
    except ValueError:
        return Path(path).name
