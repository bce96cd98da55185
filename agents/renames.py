"""Names the suite changed so that each means one thing, and the migration that brings stored records to today's
names: `python -m analysis migrate --results DIR` rewrites, in place, a results (or reference) folder written before,
or before records named files relative to the run folder:

- a scripted demo set's action noise was `epsilon`: set names scripted_eps0_ep5 become scripted_noise0_ep5 in every
  path (run folders, demo files and their stats, logs, checkpoint folders), the `epsilon` key of the `demos` record
  of a run's summary.json and config.yaml becomes `noise`, and so does the column of a demo set's stats;
- the replay's priority bonuses priority_eps_agent and priority_eps_demo become priority_bonus_agent and
  priority_bonus_demo among a run's settings (config.yaml);
- `mixed_precision` was a bool; it is auto, always or never now (auto: bfloat16 where a long run's loss compiles and
  the device computes it natively). A recorded false becomes never and true always, which is what each run did;
- the demo file a run's summary.json and config.yaml name (`demos.file`), recorded as an absolute path of the machine
  that ran it (/root/runs/default/demos/Pong/scripted_noise0_ep5.npz), is named relative to the run folder as runs
  name it today. The workflow gives a run RESULTS/demos/GAME/SET.npz of the results folder it runs in, so a path of
  that shape becomes ../../../../../demos/GAME/SET.npz, SET under today's name (the file this migration renames);
  another absolute path becomes relative only where that file is here with the checksum the record holds, and is
  otherwise kept and reported (nothing is guessed).

Only names change, and mixed_precision's two old values become the words for what they did: every other value stays
as recorded, origins included. `analysis verify --code recorded` hands a recorded commit its settings back under the
names and values of that commit (`settings_as_of`). A demo file (.npz) is renamed but not rewritten (the run records
hold its checksum; it loads under either key, agents/demos/files.py). Each file is written whole under a temporary name
and renamed into place, or renamed alone, so a kill leaves every file old or new, never half written; a second run
finds nothing to change. Tables and figures are outputs, rebuilt from the migrated records by
`snakemake figures`. Run it while no workflow writes into the folder.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import yaml

from .io import atomic_write, json_text, relative_path, yaml_text
from .matrix import NOISE_LABEL, SCRIPTED

# Old names, by their names now.
RENAMED_DEMO_KEYS = {"epsilon": "noise"}  # the demos record's and a demo file's metadata keys
RENAMED_SETTINGS = {"priority_eps_agent": "priority_bonus_agent", "priority_eps_demo": "priority_bonus_demo"}
RENAMED_VALUES = {"mixed_precision": {False: "never", True: "always"}}  # a setting's old values, by their values now
OLD_NOISE_LABEL = "_eps"  # a scripted set's action noise in its name, before NOISE_LABEL
# A scripted set's name under the old label: scripted_eps0_ep5, also inside longer names (the logs').
OLD_SET_LABEL = re.compile(rf"(?<![A-Za-z0-9]){SCRIPTED}{OLD_NOISE_LABEL}(?=[0-9])")
OUTPUTS = ("tables", "figures")  # rebuilt from the records, not migrated
RUN_DEPTH = 5  # runs/<game>/<method>/<demo set>/seed_<n>: how deep a run folder lies in a results folder


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


def _renamed_values(settings: dict) -> list[str]:
    """The settings' old values replaced, in place, by today's (a recorded setting is {value, origin}); what was
    replaced."""
    changed = []
    for name, renames in RENAMED_VALUES.items():
        setting = settings.get(name)
        value = setting.get("value") if isinstance(setting, dict) else None
        if isinstance(value, bool) and value in renames:
            setting["value"] = renames[value]
            changed.append(f"settings.{name} {str(value).lower()} → {renames[value]}")
    return changed


def settings_as_of(settings: dict, declared: dict) -> dict:
    """Recorded settings ({name: {value, origin}}, today's names) as a suite whose declared settings are `declared`
    (its agents/defaults.yaml) names and values them: what `analysis verify --code recorded` hands a recorded commit,
    whose code does not know today's names."""
    older = {}
    for name, setting in settings.items():
        name_then = next((old for old, new in RENAMED_SETTINGS.items()
                          if new == name and name not in declared and old in declared), name)
        values_then = {new: old for old, new in RENAMED_VALUES.get(name, {}).items()}
        if values_then and isinstance(declared.get(name_then, {}).get("value"), bool) and isinstance(setting, dict):
            setting = {**setting, "value": values_then.get(setting.get("value"), setting.get("value"))}
        older[name_then] = setting
    return older


def settings_as_today(settings: dict) -> dict:
    """Settings an older suite recorded, under today's names and values (a copy)."""
    renamed, _ = _renamed_keys(copy.deepcopy(settings), RENAMED_SETTINGS, "")
    _renamed_values(renamed)
    return renamed


def absolute(path) -> PurePosixPath | PureWindowsPath | None:
    """`path` where it is an absolute path of some machine (POSIX, or Windows with its drive), else None."""
    if not isinstance(path, str):
        return None
    for flavour in (PurePosixPath, PureWindowsPath):
        if flavour(path).is_absolute():
            return flavour(path)
    return None


def relative_demo_file(recorded, relative: Path, path: Path, sha256) -> str | None:
    """The demo file a run record names by an absolute path (`recorded`), named relative to its run folder as runs
    name it today; None where it is not absolute or cannot be made relative without a guess. `relative`: the record
    within the folder being migrated, `path`: the record here."""
    machine_path = absolute(recorded)
    if machine_path is None:
        return None
    parts = machine_path.parts
    if (len(relative.parts) == RUN_DEPTH + 1 and len(parts) >= 4 and parts[-3] == "demos"
            and parts[-2] == relative.parts[1]):  # the workflow's RESULTS/demos/GAME/SET.npz of the run's own folder
        return "/".join([".."] * RUN_DEPTH + ["demos", parts[-2], new_name(parts[-1])])
    here = Path(recorded)
    if sha256 and here.is_file() and hashlib.sha256(here.read_bytes()).hexdigest() == sha256:
        return relative_path(here, path.parent)
    return None


def machine_paths(relative: Path, path: Path) -> list[str]:
    """The absolute paths a run record still holds after migrating (those no rule makes relative)."""
    if not (relative.parts[0] == "runs" and relative.name in ("summary.json", "config.yaml")):
        return []
    try:
        record = yaml.safe_load(path.read_text())  # JSON is YAML too
    except (OSError, ValueError, yaml.YAMLError):
        return []
    demos = record.get("demos") if isinstance(record, dict) else None
    file = demos.get("file") if isinstance(demos, dict) else None
    return [f"demos.file {file}"] if absolute(file) is not None else []


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
            changed += done + _renamed_values(record["settings"])
        if isinstance(record.get("demos"), dict):
            demos = record["demos"]
            file = relative_demo_file(demos.get("file"), relative, path, demos.get("sha256"))
            if file is not None:
                record["demos"] = {**demos, "file": file}
                changed.append("demos.file made relative to the run folder")
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
        kept = machine_paths(relative, source)
        return Change(relative, note=f"kept: {kept[0]} is absolute, and no such file with the recorded checksum is "
                                     "here to name relative to the run folder") if kept else None
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
