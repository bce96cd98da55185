"""Resolve one run's settings: package defaults < profile-wide settings < method definition < profile per-method
settings. Every value keeps its origin, and every name, type and range is checked here, before any compute."""
from __future__ import annotations

import copy
from importlib import resources
from numbers import Real

import yaml

from .errors import ConfigError

# Ranges that a value must satisfy; anything outside is refused with the allowed range in the message.
RANGES = {
    "gamma": (0.0, 1.0), "priority_alpha": (0.0, 1.0), "priority_beta0": (0.0, 1.0),
    "epsilon_start": (0.0, 1.0), "epsilon_final": (0.0, 1.0), "eval_epsilon": (0.0, 1.0),
    "repeat_action_probability": (0.0, 1.0), "demo_share": (0.0, 0.99),
}
POSITIVE = {"entropy_temperature", "learning_rate_final", "n_step", "batch_size", "learning_rate", "adam_eps",
            "target_update_period", "update_period",
            "eval_episodes", "pretrain_eval_episodes", "frame_skip", "screen_size", "frame_stack", "max_episode_frames", "grad_clip_norm"}
NON_NEGATIVE = {"lambda_n_step", "lambda_supervised", "lambda_l2", "margin", "priority_eps_agent",
                "priority_eps_demo", "replay_capacity", "learning_starts", "pretrain_updates", "agent_steps",
                "epsilon_decay_steps", "noop_max", "soft_q_pretrain_steps", "learning_rate_decay_steps"}
CHOICES = {"td_loss": ("huber", "mse"), "supervised_loss": ("margin", "cross_entropy"),
           "demo_loss": ("none", "cross_entropy", "decoupled"), "exploration": ("epsilon_greedy", "softmax"),
           "priority_td_error": ("one_step", "n_step"),
           "reward_transform": ("signed_log", "clip", "none")}


def defaults() -> dict:
    return yaml.safe_load(resources.files("agents").joinpath("defaults.yaml").read_text())


def _entry(value, origin: str) -> dict:
    if isinstance(value, dict):
        if "value" not in value:
            raise ConfigError(f"{origin}: a setting given as a mapping needs a 'value' key (and optionally 'origin')")
        return {"value": value["value"], "origin": value.get("origin", origin)}
    return {"value": value, "origin": origin}


def _apply(base: dict, overrides: dict | None, where: str) -> None:
    for key, value in (overrides or {}).items():
        if key not in base:
            raise ConfigError(f"unknown setting {key!r} in {where}; known settings: {', '.join(sorted(base))}")
        base[key] = _entry(value, f"override: {where}")
        _check(key, base[key]["value"], where)


def _check(key: str, value, where: str) -> None:
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"{key}={value!r} in {where} is not one of {', '.join(CHOICES[key])}")
    numeric = isinstance(value, Real) and not isinstance(value, bool)
    if key in RANGES or key in POSITIVE or key in NON_NEGATIVE:
        if not numeric:
            raise ConfigError(f"{key}={value!r} in {where} must be a number")
        low, high = RANGES.get(key, (None, None))
        if key in RANGES and not low <= value <= high:
            raise ConfigError(f"{key}={value} in {where} must lie in [{low}, {high}]")
        if key in POSITIVE and value <= 0:
            raise ConfigError(f"{key}={value} in {where} must be > 0")
        if key in NON_NEGATIVE and value < 0:
            raise ConfigError(f"{key}={value} in {where} must be >= 0")


def _check_types(resolved: dict, reference: dict, where: str) -> None:
    for key, entry in resolved.items():
        want, got = reference[key]["value"], entry["value"]
        if isinstance(want, bool) != isinstance(got, bool) or (
            isinstance(want, (int, float)) and not isinstance(got, (int, float))
        ) or (isinstance(want, str) and not isinstance(got, str)):
            raise ConfigError(f"{key}={got!r} in {where} should be a {type(want).__name__} like {want!r}")
        if isinstance(want, int) and not isinstance(want, bool) and isinstance(got, float):
            if not got.is_integer():
                raise ConfigError(f"{key}={got!r} in {where} must be a whole number")
            entry["value"] = int(got)


def method_definitions(profile: dict) -> dict:
    """Package methods plus those a profile defines (a profile may also redefine a package method)."""
    methods = copy.deepcopy(defaults()["methods"])
    methods.update(copy.deepcopy(profile.get("method_definitions") or {}))
    return methods


def sweep_name(method: str, setting: str, value) -> str:
    """dqfd, margin, 0.4 → dqfd_margin_0p4: a method name that is also a clean path and wildcard."""
    return f"{method}_{setting}_{str(value).replace('.', 'p').replace('-', 'm')}"


def expand_sweeps(profile: dict) -> dict:
    """A copy of a workflow profile in which each entry of `sweeps` ({method, setting, values}) has become one method
    per value: the base method's definition with that setting changed, added to `methods` after the base method."""
    profile = copy.deepcopy(profile)
    definitions = method_definitions(profile)
    added = dict(profile.get("method_definitions") or {})
    for sweep in profile.get("sweeps") or []:
        base, setting = sweep["method"], sweep["setting"]
        if base not in definitions:
            raise ConfigError(f"sweep over unknown method {base!r}; known methods: {', '.join(sorted(definitions))}")
        if setting not in defaults()["settings"]:
            raise ConfigError(f"sweep over unknown setting {setting!r} of {base!r}")
        names = []
        for value in sweep["values"]:
            name = sweep_name(base, setting, value)
            definition = copy.deepcopy(definitions[base])
            definition["description"] = f"{definitions[base].get('description', base)}; {setting} = {value}"
            definition["settings"] = {**(definition.get("settings") or {}),
                                      setting: {"value": value, "origin": f"sweep over {setting}"}}
            added[name] = definition
            names.append(name)
        methods = profile.get("methods") or []
        if base in methods:
            at = methods.index(base) + 1
            profile["methods"] = methods[:at] + [n for n in names if n not in methods] + methods[at:]
        else:
            profile["methods"] = methods + [n for n in names if n not in methods]
    profile["method_definitions"] = added
    return profile


def resolve(game: str, method: str, seed: int, profile: dict) -> dict:
    """The complete, checked configuration of one cell of the matrix."""
    from .envs import known_games
    from .methods import ALGORITHMS

    base = defaults()
    methods = method_definitions(profile)
    if method not in methods:
        raise ConfigError(f"unknown method {method!r}; known methods: {', '.join(sorted(methods))} "
                          "(define new ones under method_definitions)")
    definition = methods[method]
    algorithm = definition.get("algorithm")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"method {method!r} names unknown algorithm {algorithm!r}; "
                          f"registered algorithms: {', '.join(sorted(ALGORITHMS))}")
    if game not in known_games():
        raise ConfigError(f"unknown game {game!r}; use an ALE name such as Pong or Breakout "
                          "(python -m agents games lists them)")
    protocol = resolve_protocol(profile)

    settings = copy.deepcopy(base["settings"])
    _apply(settings, profile.get("settings"), "profile settings")
    _apply(settings, definition.get("settings"), f"method {method!r}")
    _apply(settings, (profile.get("method_settings") or {}).get(method), f"profile method_settings.{method}")
    _check_types(settings, base["settings"], f"method {method!r}")
    for key, entry in settings.items():
        _check(key, entry["value"], f"method {method!r}")
    if settings["pretrain_updates"]["value"] == 0 and settings["agent_steps"]["value"] == 0:
        raise ConfigError(f"method {method!r} has neither pretrain_updates nor agent_steps; set one above 0")
    ladder, pretrain = settings["pretrain_eval_updates"]["value"], settings["pretrain_updates"]["value"]
    if not (isinstance(ladder, list) and all(isinstance(rung, int) and not isinstance(rung, bool) for rung in ladder)
            and all(low < high for low, high in zip([0] + ladder, ladder + [pretrain + 1]))):
        raise ConfigError(f"pretrain_eval_updates={ladder!r} of method {method!r} must be a list of increasing update "
                          f"counts between 1 and pretrain_updates={pretrain}")
    if settings["pretrain_updates"]["value"] > 0 and not settings["use_demos"]["value"]:
        raise ConfigError(f"method {method!r} pretrains without demonstrations; set use_demos or pretrain_updates: 0")
    uses_demos = settings["use_demos"]["value"]
    if (settings["demo_share"]["value"] > 0 or settings["demos_overwritable"]["value"]) and not uses_demos:
        raise ConfigError(f"method {method!r} sets demo_share or demos_overwritable without demonstrations; "
                          "set use_demos: true")
    if settings["demos_overwritable"]["value"] and (settings["pretrain_updates"]["value"] > 0
                                                    or settings["demo_share"]["value"] > 0):
        raise ConfigError(f"method {method!r} has overwritable demonstrations, which cannot be pretrained on or "
                          "mixed at a fixed share (they become agent data); set pretrain_updates: 0 and demo_share: 0")
    if algorithm == "soft_q" and (settings["demo_loss"]["value"] != "none") != uses_demos:
        raise ConfigError(f"method {method!r}: demo_loss={settings['demo_loss']['value']!r} with "
                          f"use_demos={uses_demos}; a demonstration loss needs demonstrations and the reverse")
    if algorithm == "bc" and not settings["use_demos"]["value"]:
        raise ConfigError(f"method {method!r} is behaviour cloning without demonstrations; set use_demos: true")
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {seed!r} must be a non-negative integer")
    return {
        "game": game,
        "method": method,
        "algorithm": algorithm,
        "description": definition.get("description", ""),
        "seed": seed,
        "protocol_name": profile.get("protocol", "dqfd2018"),
        "protocol": protocol,
        "settings": settings,
    }


def planned_updates(settings: dict) -> int:
    """Gradient updates a run makes: phase I plus one per `update_period` agent steps after `learning_starts`."""
    interaction = max(0, settings["agent_steps"] - settings["learning_starts"]) // settings["update_period"]
    return settings["pretrain_updates"] + interaction


def values(section: dict) -> dict:
    return {key: entry["value"] for key, entry in section.items()}


def resolve_protocol(profile: dict) -> dict:
    """The protocol values a profile runs under (what demonstration files are recorded with)."""
    base = defaults()["protocols"]
    name = profile.get("protocol", "dqfd2018")
    if name not in base:
        raise ConfigError(f"unknown protocol {name!r}; known protocols: {', '.join(base)}")
    protocol = copy.deepcopy(base[name])
    _apply(protocol, profile.get("protocol_overrides"), "profile protocol_overrides")
    _check_types(protocol, base[name], "protocol")
    return protocol


SCRIPTED = "scripted"


def demo_set_name(source: str, epsilon: float, episodes: int) -> str:
    """scripted, 0.25, 5 → scripted_eps0p25_ep5; a file source has no noise knob: human, 0, 3 → human_ep3."""
    noise = f"_eps{format(epsilon, 'g').replace('.', 'p')}" if source == SCRIPTED else ""
    return f"{source}{noise}_ep{episodes}"


def demo_sets(profile: dict) -> dict[str, dict]:
    """The demonstration sets of a workflow profile, by name, in config order: each entry of `demos.sets` is a source
    with lists of qualities (action noise ε) and quantities (episodes), expanded into one set per combination.
    `scripted` records the game's demonstrator; any other source names files `<library>/<source>/<game>.npz` (recorded
    by a person, or imported) from which a set takes the first episodes."""
    sets = {}
    for entry in profile["demos"]["sets"]:
        source = entry["source"]
        epsilons = entry.get("epsilon", [0.0])
        if source != SCRIPTED and any(epsilon != 0 for epsilon in epsilons):
            raise ConfigError(f"demo source {source!r} is a file, and action noise is added while recording; "
                              f"give epsilon only to the {SCRIPTED!r} source")
        for epsilon in epsilons:
            for episodes in entry["episodes"]:
                name = demo_set_name(source, epsilon, episodes)
                if name in sets:
                    raise ConfigError(f"demo set {name} is listed twice under demos.sets; list each once")
                sets[name] = {"source": source, "epsilon": float(epsilon), "episodes": int(episodes)}
    if not sets:
        raise ConfigError("demos.sets is empty; list at least one set, e.g. {source: scripted, episodes: [5]}")
    return sets
