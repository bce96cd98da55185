"""Names the suite changed so that each means one thing, and the migration that brings stored records to today's
names: `python -m analysis migrate --results DIR` rewrites, in place, a results (or reference) folder written before:

- a scripted demo set's action noise was `epsilon`: set names scripted_eps0_ep5 become scripted_noise0_ep5 in every
  path (run folders, demo files and their stats, logs, checkpoint folders), the `epsilon` key of the `demos` record
  of a run's summary.json and config.yaml becomes `noise`, and so does the column of a demo set's stats;
- the replay's priority bonuses priority_eps_agent and priority_eps_demo become priority_bonus_agent and
  priority_bonus_demo among a run's settings (config.yaml).

Only names change: every value stays as recorded, origins and recorded file paths included. A demo file (.npz) is
renamed but not rewritten (the run records hold its checksum; it loads under either key, agents/demos/files.py). Each
file is written whole under a temporary name and renamed into place, or renamed alone, so a kill leaves every file old
or new, never half written; a second run finds nothing to change. Tables and figures are outputs, rebuilt from the
migrated records by `snakemake figures`. Run it while no workflow writes into the folder.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from .io import atomic_write, json_text, yaml_text
from .matrix import NOISE_LABEL, SCRIPTED

# Old names, by their names now.
RENAMED_DEMO_KEYS = {"epsilon": "noise"}  # the demos record's and a demo file's metadata keys
RENAMED_SETTINGS = {"priority_eps_agent": "priority_bonus_agent", "priority_eps_demo": "priority_bonus_demo"}
OLD_NOISE_LABEL = "_eps"  # a scripted set's action noise in its name, before NOISE_LABEL
# A scripted set's name under the old label: scripted_eps0_ep5, also inside longer names (the logs').
OLD_SET_LABEL = re.compile(rf"(?<![A-Za-z0-9]){SCRIPTED}{OLD_NOISE_LABEL}(?=[0-9])")
OUTPUTS = ("tables", "figures")  # rebuilt from the records, not migrated


@dataclass
class Change:
    path: Path  # relative to the folder, as it was
    moved_to: Path | None = None  # relative, where the path changed
    renamed: tuple[str, ...] = ()  # the names changed inside the file
    note: str = ""  # what was done instead, where the file could not simply be moved

    def __str__(self) -> str:
        parts = [str(self.path)]
        if self.moved_to is not None:
            parts.append(f"→ {self.moved_to}")
        if self.renamed:
            parts.append(f"({', '.join(self.renamed)})")
        if self.note:
            parts.append(f"[{self.note}]")
        return " ".join(parts)


def new_name(name: str) -> str:
    """scripted_eps0p5_ep2 → scripted_noise0p5_ep2; Pong_bc_scripted_eps0_ep5_seed_0.log likewise; other names as
    they are."""
    return OLD_SET_LABEL.sub(f"{SCRIPTED}{NOISE_LABEL}", name)


def new_path(relative: Path) -> Path:
    return Path(*(new_name(part) for part in relative.parts))


def _renamed_keys(mapping: dict, renames: dict, where: str) -> tuple[dict, list[str]]:
    """`mapping` with its keys renamed in place, and what was renamed (a key whose new name is there already stays)."""
    wanted = {old: new for old, new in renames.items() if old in mapping and new not in mapping}
    return ({wanted.get(key, key): value for key, value in mapping.items()},
            [f"{where}{old} → {where}{new}" for old, new in wanted.items()])


def migrated(relative: Path, path: Path) -> tuple[bytes | None, list[str]]:
    """The new contents of a record and the names changed in it, or (None, []) when its contents stay as they are."""
    if relative.parts[0] == "runs" and relative.name in ("summary.json", "config.yaml"):
        text = path.read_text()
        record = json.loads(text) if relative.name == "summary.json" else yaml.safe_load(text)
        if not isinstance(record, dict):
            return None, []
        changed = []
        if isinstance(record.get("demos"), dict):
            record["demos"], done = _renamed_keys(record["demos"], RENAMED_DEMO_KEYS, "demos.")
            changed += done
        if isinstance(record.get("settings"), dict):
            record["settings"], done = _renamed_keys(record["settings"], RENAMED_SETTINGS, "settings.")
            changed += done
        if not changed:
            return None, []
        text = json_text(record) if relative.name == "summary.json" else yaml_text(record)
        return text.encode(), changed
    if relative.parts[0] == "demos" and relative.name.endswith(".stats.csv"):
        data = path.read_bytes()
        header, newline, rest = data.partition(b"\n")
        columns = header.decode().rstrip("\r").split(",")
        renames = {old: new for old, new in RENAMED_DEMO_KEYS.items() if old in columns and new not in columns}
        if not renames:
            return None, []
        ending = "\r" if header.endswith(b"\r") else ""
        header = (",".join(renames.get(column, column) for column in columns) + ending).encode()
        return header + newline + rest, [f"column {old} → {new}" for old, new in renames.items()]
    return None, []


def migrate_file(folder: Path, relative: Path) -> Change | None:
    """Bring one file of `folder` to today's names: its path and its contents. None when it has them already."""
    source = folder / relative
    target_relative = new_path(relative)
    try:
        contents, renamed = migrated(relative, source)
    except (ValueError, yaml.YAMLError) as error:  # a record that does not parse: nothing is guessed
        reason = str(error).splitlines()[0]
        return Change(relative, note=f"left as it is: not a readable record ({type(error).__name__}: {reason})")
    moved = target_relative != relative
    if not moved and contents is None:
        return None
    target = folder / target_relative
    change = Change(relative, target_relative if moved else None, tuple(renamed))
    if moved and target.exists():
        expected = contents if contents is not None else source.read_bytes()
        if target.read_bytes() != expected:
            change.note = f"left in place: {target_relative} exists with other contents"
            return change
        source.unlink()  # a copy migrated before (a run cut short between writing it and removing this one)
        change.note = "already there; the old copy removed"
        return change
    if contents is not None:
        atomic_write(target, lambda stream: stream.write(contents))
        if moved:
            source.unlink()
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, target)
    return change


def migrate(folder: str | Path) -> list[Change]:
    """Every record of a results or reference folder under today's names; what was changed, file by file."""
    folder = Path(folder)
    files = sorted(path.relative_to(folder) for path in folder.rglob("*") if path.is_file())
    changes = [change for relative in files if relative.parts[0] not in OUTPUTS
               if (change := migrate_file(folder, relative)) is not None]
    # The folders the renames emptied (old run, checkpoint and demo folders and those in them), deepest first.
    folders = [path.relative_to(folder) for path in folder.rglob("*") if path.is_dir()]
    for relative in sorted(folders, key=lambda path: len(path.parts), reverse=True):
        if new_path(relative) != relative and not any((folder / relative).iterdir()):
            (folder / relative).rmdir()
    return changes


def old_names(folder: str | Path) -> list[Path]:
    """Paths of a results folder still named under the old names (run folders, demo sets), for a planning check."""
    folder, old = Path(folder), f"{SCRIPTED}{OLD_NOISE_LABEL}*"
    found = [*folder.glob(f"runs/*/*/{old}"), *folder.glob(f"demos/*/{old}")]
    return sorted(path for path in found if new_name(path.name) != path.name)
