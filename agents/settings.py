"""A cell's settings as the code reads them: one frozen value, `s.batch_size`, `s.n_step`.

The type is generated from the declarations in agents/defaults.yaml, which stay the one place a setting is declared
(its type, range or choices, meaning, default and origin): each declared setting is a field, in declaration order, so a
setting added there is a field here. The resolved cell (agents/cell.py) keeps every value with its origin, which is
what a run records in its config.yaml; `Settings.of` reads the values out of it. A `list of int` becomes a tuple, so
that nothing can change a cell's settings once resolved; `dataclasses.replace` derives changed settings.
"""
from __future__ import annotations

import dataclasses

from .declarations import declarations
from .errors import UndeclaredSetting

# Each declared type as Python's; ranges and choices are checked when a cell is resolved, not here.
PYTHON_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "list of int": tuple[int, ...]}


def _of(cls, section: dict):
    """The settings of a resolved cell's section {setting: {value, origin}}."""
    return cls(**{key: tuple(entry["value"]) if isinstance(entry["value"], list) else entry["value"]
                  for key, entry in section.items()})


def _undeclared(self, name: str):
    """Reached only for a name that is no field: a setting the code reads but agents/defaults.yaml does not declare."""
    if name.startswith("_"):  # Python's own probes (copy, pickle) expect a plain AttributeError
        raise AttributeError(name)
    raise UndeclaredSetting(f"the code reads setting {name!r}, which agents/defaults.yaml does not declare; declare "
                            "it there under settings: with its value, origin, type, range or choices and meaning "
                            "(docs/adding_a_method.md, step 3)")


def settings_type(declared: dict) -> type:
    """A frozen dataclass with a field of the declared type for each of `declared`'s settings."""
    settings = dataclasses.make_dataclass(
        "Settings", [(key, PYTHON_TYPES[spec["type"]]) for key, spec in declared.items()], frozen=True,
        namespace={"of": classmethod(_of), "__getattr__": _undeclared,
                   "__doc__": "A cell's resolved settings (agents/defaults.yaml declares them)."})
    settings.__module__ = __name__  # where pickle finds it
    return settings


Settings = settings_type(declarations()["settings"])
