"""The matrix a workflow config expands to beyond games, methods and seeds: sweeps, each value a method of its own,
and demonstration sets, each quality and quantity a set of its own; with the names that identify them in paths and
wildcards.
"""
from __future__ import annotations

import copy
import re

from .cell import did_you_mean, method_definitions
from .declarations import declarations
from .errors import ConfigError

SCRIPTED = "scripted"
NO_DEMOS = "none"  # the demo-set name of a run without demonstrations
NOISE_LABEL = "_noise"  # a scripted set's action noise in its name: scripted_noise0p25_ep5


def sweep_name(method: str, setting: str, value) -> str:
    """dqfd, margin, 0.4 → dqfd_margin_0p4; a list's items joined, dqfd, pretrain_eval_updates, [500, 1000] →
    dqfd_pretrain_eval_updates_500_1000: a method name that is also a clean path and wildcard."""
    text = "_".join(map(str, value)) if isinstance(value, list) else str(value)
    name = f"{method}_{setting}_{text.replace('.', 'p').replace('-', 'm')}"
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ConfigError(f"sweep value {value!r} of {setting} would name a method {name!r}, which a path cannot "
                          "hold; sweep over values of letters, digits, '.' and '-'")
    return name


def expand_sweeps(config: dict) -> dict:
    """A copy of a workflow config in which each entry of `sweeps` ({method, setting, values}) has become one method
    per value: the base method's definition with that setting changed, added to `methods` after the base method."""
    config = copy.deepcopy(config)
    definitions = method_definitions(config)
    added = dict(config.get("method_definitions") or {})
    for sweep in config.get("sweeps") or []:
        base, setting = sweep["method"], sweep["setting"]
        if base not in definitions:
            raise ConfigError(f"sweep over unknown method {base!r}; known methods: {', '.join(sorted(definitions))}")
        if setting not in declarations()["settings"]:
            hint = did_you_mean(setting, declarations()["settings"])
            raise ConfigError(f"sweep over unknown setting {setting!r} of {base!r}" + (f"; {hint}" if hint else ""))
        names = []
        for value in sweep["values"]:
            name = sweep_name(base, setting, value)
            definition = copy.deepcopy(definitions[base])
            definition["description"] = f"{definitions[base].get('description', base)}; {setting} = {value}"
            definition["settings"] = {**(definition.get("settings") or {}),
                                      setting: {"value": value, "origin": f"sweep over {setting}"}}
            added[name] = definition
            names.append(name)
        methods = config.get("methods") or []
        if base in methods:
            at = methods.index(base) + 1
            config["methods"] = methods[:at] + [n for n in names if n not in methods] + methods[at:]
        else:
            config["methods"] = methods + [n for n in names if n not in methods]
    config["method_definitions"] = added
    return config



def demo_set_name(source: str, noise: float, episodes: int) -> str:
    """scripted, 0.25, 5 → scripted_noise0p25_ep5; a file source has no noise knob: human, 0, 3 → human_ep3.
    The name only identifies the set (a path and a wildcard); its values travel as values (`demo_sets`)."""
    knob = f"{NOISE_LABEL}{format(noise, 'g').replace('.', 'p')}" if source == SCRIPTED else ""
    return f"{source}{knob}_ep{episodes}"


def demo_sets(config: dict) -> dict[str, dict]:
    """The demonstration sets of a workflow config, by name, in config order: each entry of `demos.sets` is a source
    with lists of qualities (`noise`: the share of the demonstrator's actions replaced by random ones) and quantities
    (episodes), expanded into one set per combination, each with its values {source, noise, episodes}.
    `scripted` records the game's demonstrator; any other source names files `<library>/<source>/<game>.npz` (recorded
    by a person, or imported) from which a set takes the first episodes."""
    sets = {}
    for entry in config["demos"]["sets"]:
        source = entry["source"]
        noises = entry.get("noise", [0.0])
        if source != SCRIPTED and any(noise != 0 for noise in noises):
            raise ConfigError(f"demo source {source!r} is a file, and action noise is added while recording; "
                              f"give noise only to the {SCRIPTED!r} source")
        for noise in noises:
            for episodes in entry["episodes"]:
                name = demo_set_name(source, noise, episodes)
                if name in sets:
                    raise ConfigError(f"demo set {name} is listed twice under demos.sets; list each once")
                sets[name] = {"source": source, "noise": float(noise), "episodes": int(episodes)}
    if not sets:
        raise ConfigError("demos.sets is empty; list at least one set, e.g. {source: scripted, episodes: [5]}")
    return sets
