"""One cell of the matrix (game × method × seed) resolved from a workflow config: package defaults < config-wide
settings < method definition < config per-method settings, every value checked against its declaration
(agents/declarations.py) and keeping its origin, then the algorithm's own rules and the rules across settings
(agents/rules.py). The resolved cell is what a run records in its config.yaml.
"""
from __future__ import annotations

import copy
import difflib

from .declarations import checked, declarations
from .errors import ConfigError
from .rules import RULES
from .settings import Settings

MAX_SEED = 2**32 - 1  # numpy's and most RL libraries' seed range; torch refuses seeds from 2**64 on


def _entry(value, origin: str) -> dict:
    if isinstance(value, dict):
        if "value" not in value:
            raise ConfigError(f"{origin}: a setting given as a mapping needs a 'value' key (and optionally 'origin')")
        return {"value": value["value"], "origin": value.get("origin", origin)}
    return {"value": value, "origin": origin}


def _apply(base: dict, overrides, where: str, declared: dict) -> None:
    if overrides is None:
        return
    if not isinstance(overrides, dict):
        raise ConfigError(f"{where} is {kind(overrides)}; give a mapping of names to values, "
                          "such as {gamma: 0.99}")
    for key, value in overrides.items():
        if key not in base:
            hint = did_you_mean(key, base)
            raise ConfigError(f"unknown setting {key!r} in {where}; {hint + ' ' if hint else ''}known settings: "
                              f"{', '.join(sorted(base))}")
        entry = _entry(value, f"override: {where}")
        entry["value"] = checked(key, entry["value"], declared[key], where)
        base[key] = entry


def did_you_mean(name: str, known) -> str:
    """The closest known name as a hint ("did you mean 'learning_rate'?"), or "" where none is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else ""


def kind(value) -> str:
    """'an int', 'a list': what a user gave, for a message."""
    name = {"str": "text", "NoneType": "nothing"}.get(type(value).__name__, type(value).__name__)
    return name if name in ("text", "nothing") else f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def method_definitions(config: dict) -> dict:
    """Package methods plus those a config defines (a config may also redefine a package method)."""
    methods = copy.deepcopy(declarations()["methods"])
    methods.update(copy.deepcopy(config.get("method_definitions") or {}))
    return methods


def _definition(method: str, config: dict) -> dict:
    """The definition of a method, from the package or the config's method_definitions."""
    for section, example in (("method_settings", "{pdd_dqn: {learning_starts: 1000}}"),
                             ("method_definitions", "{dqfd_small_margin: {algorithm: dqfd, settings: {margin: 0.4}}}")):
        if not isinstance(config.get(section) or {}, dict):
            raise ConfigError(f"config {section} is {kind(config[section])}; give a mapping of method names to "
                              f"their entries, such as {example}")
    methods = method_definitions(config)
    if method not in methods:
        raise ConfigError(f"unknown method {method!r}; known methods: {', '.join(sorted(methods))} "
                          "(define new ones under method_definitions)")
    return methods[method]


def _layered(method: str, definition: dict, config: dict) -> dict:
    """A method's settings with their origins: the package defaults < the config's settings < the method's
    definition < the config's method_settings for it, each value checked against its declaration."""
    declared = declarations()["settings"]
    settings = {key: {"value": copy.deepcopy(spec["value"]), "origin": spec["origin"]}
                for key, spec in declared.items()}
    _apply(settings, config.get("settings"), "config settings", declared)
    _apply(settings, definition.get("settings"), f"method {method!r}", declared)
    _apply(settings, (config.get("method_settings") or {}).get(method), f"config method_settings.{method}", declared)
    return settings


def setting(method: str, key: str, config: dict):
    """One setting of a method's cells, resolved without the rest of the cell: what must be known before torch and
    numpy load (`numerics`), while resolve() loads numpy through the algorithms' rules."""
    return _layered(method, _definition(method, config), config)[key]["value"]


def resolve(game: str, method: str, seed: int, config: dict) -> dict:
    """The complete, checked configuration of one cell of the matrix."""
    from .games import known_games
    from .methods import ALGORITHMS

    definition = _definition(method, config)
    algorithm = definition.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"method {method!r} names unknown algorithm {algorithm!r}; "
                          f"registered algorithms: {', '.join(sorted(ALGORITHMS))}")
    if game not in known_games():
        raise ConfigError(f"unknown game {game!r}; use an ALE name such as Pong or Breakout "
                          "(python -m agents games lists them)")
    protocol = resolve_protocol(config)
    settings = _layered(method, definition, config)
    resolved, knobs = Settings.of(settings), values(protocol)
    # What the algorithm needs of the game and the rules of its own mathematics first: where one of the suite's rules
    # would also refuse the cell, the algorithm's says what that method needs (bc_finetune without demonstrations).
    problem = ALGORITHMS[algorithm].check_game(game, method) or ALGORITHMS[algorithm].check(resolved, method)
    if problem:
        raise ConfigError(problem)
    for _, check in RULES:
        problem = check(resolved, knobs, method, algorithm)
        if problem:
            raise ConfigError(problem)
    if not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"seed {seed!r} must be a whole number from 0 to {MAX_SEED:,} (2**32 - 1)")
    return {
        "game": game,
        "method": method,
        "algorithm": algorithm,
        "description": definition.get("description", ""),
        "seed": seed,
        "protocol_name": config.get("protocol", declarations()["default_protocol"]),
        "protocol": protocol,
        "settings": settings,
    }


def values(section: dict) -> dict:
    """A resolved section's values without their origins: {key: {value, origin}} → {key: value}."""
    return {key: entry["value"] for key, entry in section.items()}


def resolve_protocol(config: dict) -> dict:
    """The protocol values a config runs under (what demonstration files are recorded with)."""
    declared = declarations()
    name = config.get("protocol", declared["default_protocol"])
    if name not in declared["protocols"]:
        raise ConfigError(f"unknown protocol {name!r}; known protocols: {', '.join(declared['protocols'])}")
    protocol = copy.deepcopy(declared["protocols"][name])
    _apply(protocol, config.get("protocol_overrides"), "config protocol_overrides", declared["protocol_knobs"])
    return protocol
