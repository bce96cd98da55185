"""Resolve one run's settings: package defaults < config-wide settings < method definition < config per-method
settings. Every value keeps its origin.

Every setting and protocol knob is declared once, in agents/defaults.yaml: its type, range or choices, one line of
meaning, and its default with its origin. Each check here is derived from those declarations, so a setting added there
is checked like the others; the rules that tie settings together are below (RULES). A bad value is refused here,
before any compute, with one line that names it and the fix.
"""
from __future__ import annotations

import copy
import functools
import math
import re
from collections.abc import Callable
from importlib import resources
from numbers import Real
from pathlib import Path

import yaml

from .errors import ConfigError
from .torso import smallest_screen

TYPES = ("bool", "int", "float", "str", "list of int")
SPEC_KEYS = {"type", "range", "choices", "meaning"}  # and, for a setting, its default: value and origin
INTERVAL = re.compile(r"^([\[(])\s*([^\s,]+)\s*,\s*([^\s,]+)\s*([\])])$")  # [0, 1], (0, inf), [1, inf)
DECLARATIONS = "agents/defaults.yaml"


WORKFLOW_CONFIG = "config/config.yaml"  # the workflow's base: every --configfile is laid over it
MAX_SEED = 2**32 - 1  # numpy's and most RL libraries' seed range; torch refuses seeds from 2**64 on


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key, first: int, second: int):
        super().__init__(key)
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error: YAML keeps only the last, so
    a second `settings:` block would silently drop the first."""

    def construct_mapping(self, node, deep=False):
        lines = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults` merges on purpose
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if isinstance(key, (str, int, float, bool)) and key in lines:
                raise _DuplicateKey(key, lines[key], line)
            lines[key] = line
        return super().construct_mapping(node, deep)


def read_config_file(path: Path) -> dict:
    """A workflow config file, read as the workflow reads it, every mistake in it one line that names the place."""
    if not path.is_file():
        raise ConfigError(f"config file {path} {'is a folder' if path.is_dir() else 'does not exist'}; pass a "
                          "workflow config file (YAML) such as config/config.yaml")
    try:
        text = path.read_text()
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path} is not a text file ({error.reason} at byte {error.start}); pass a "
                          "workflow config file (YAML) such as config/config.yaml") from None
    except OSError as error:
        raise ConfigError(f"config file {path} cannot be read ({error.strerror}); make it readable") from None
    try:
        config = yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as error:
        raise ConfigError(f"config file {path} gives {error.key!r} twice in one mapping, at lines {error.first} and "
                          f"{error.second} (YAML would keep only the second); merge them into one") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        opened = error.context_mark  # where the construct the problem cuts short began, when that is elsewhere
        within = (f" ({error.context} from line {opened.line + 1})"
                  if error.context and opened and opened.line != mark.line else "")
        raise ConfigError(f"config file {path} is not valid YAML at line {mark.line + 1}, column {mark.column + 1}: "
                          f"{error.problem or error.context}{within}; fix the file there") from None
    except yaml.YAMLError as error:  # characters YAML does not allow; its message names their position
        reason = " ".join(str(error).split())
        raise ConfigError(f"config file {path} is not valid YAML ({reason}); fix the file there") from None
    if config is None:  # an empty file
        return {}
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path} holds a {type(config).__name__} at its top level; a workflow config "
                          "maps keys (protocol, settings, ...) to values, as config/config.yaml does")
    return config


def typed_as_yaml(value):
    """Text typed as YAML types it ('0' → 0), in lists and mappings too; text YAML cannot read stays text."""
    if isinstance(value, str):
        try:
            return yaml.safe_load(value)
        except yaml.YAMLError:
            return value
    if isinstance(value, (list, tuple)):
        return [typed_as_yaml(item) for item in value]
    if isinstance(value, dict):
        return {key: typed_as_yaml(item) for key, item in value.items()}
    return value


def overlay(base: dict, over: dict) -> dict:
    """`over` laid over `base` as Snakemake lays a --configfile over the workflow's config: mappings merge key by key,
    anything else replaces."""
    merged = dict(base)
    for key, value in over.items():
        merged[key] = overlay(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


@functools.cache
def _declarations() -> dict:
    """agents/defaults.yaml, read and checked once per process."""
    return check_declarations(yaml.safe_load(resources.files("agents").joinpath("defaults.yaml").read_text()))


def check_declarations(declared: dict) -> dict:
    """`declared` if every declaration is complete and every default satisfies its own declaration."""
    knobs = declared["protocol_knobs"]
    if declared.get("default_protocol") not in declared["protocols"]:
        raise ConfigError(f"default_protocol in {DECLARATIONS} is {declared.get('default_protocol')!r}; name one of "
                          f"the declared protocols, {', '.join(declared['protocols'])}")
    for key, spec in knobs.items():
        _check_declaration(f"protocol knob {key!r}", spec, SPEC_KEYS)
    for name, protocol in declared["protocols"].items():
        if set(protocol) != set(knobs):
            raise ConfigError(f"protocol {name!r} in {DECLARATIONS} gives values to {', '.join(sorted(protocol))}; "
                              f"give exactly the declared knobs, {', '.join(sorted(knobs))}")
        for key, entry in protocol.items():
            _checked(key, entry["value"], knobs[key], f"protocol {name!r} of {DECLARATIONS}")
    for key, spec in declared["settings"].items():
        _check_declaration(f"setting {key!r}", spec, SPEC_KEYS | {"value", "origin"})
        if "value" not in spec or "origin" not in spec:
            raise ConfigError(f"setting {key!r} in {DECLARATIONS} has no default; declare its value and origin")
        _checked(key, spec["value"], spec, DECLARATIONS)
    return declared


def defaults() -> dict:
    """The package's declarations: protocol knobs, protocols, settings (each with its default) and methods."""
    return copy.deepcopy(_declarations())


def _check_declaration(what: str, spec, allowed: set[str]) -> None:
    """A declaration a check can be derived from: a known type, a meaning, a range only for numbers, choices only
    for text."""
    where = f"{what} in {DECLARATIONS}"
    kind = spec.get("type") if isinstance(spec, dict) else None
    if kind not in TYPES:
        declared = "no type" if kind is None else f"type {kind!r}"
        raise ConfigError(f"{where} declares {declared}; declare its type, one of {', '.join(TYPES)}")
    if set(spec) - allowed:
        raise ConfigError(f"{where} has unknown keys {', '.join(sorted(set(spec) - allowed))}; it may have "
                          f"{', '.join(sorted(allowed))}")
    if not isinstance(spec.get("meaning"), str) or not spec["meaning"].strip():
        raise ConfigError(f"{where} has no meaning; add one line that says what it does (meaning: ...)")
    if "range" in spec:
        if spec["type"] not in ("int", "float", "list of int"):
            raise ConfigError(f"{where} is a {spec['type']} and cannot have a range; remove it")
        _interval(spec["range"], where)
    if "choices" in spec and (spec["type"] != "str" or not spec["choices"]
                              or not all(isinstance(choice, str) for choice in spec["choices"])):
        raise ConfigError(f"{where}: choices must be a non-empty list of text, for a setting of type str")


def _interval(text, where: str) -> tuple[float, bool, float, bool]:
    """The bounds of an interval and whether each is included: [0, 1) → (0, True, 1, False)."""
    match = INTERVAL.match(str(text))
    try:
        low, high = float(match[2]), float(match[3])
    except (TypeError, ValueError):  # not an interval, or bounds that are not numbers
        low = high = math.nan
    if not low <= high:
        raise ConfigError(f"{where} declares range {text!r}; write an interval such as \"[0, 1]\", \"(0, inf)\" "
                          "or \"[1, inf)\"")
    return low, match[1] == "[", high, match[4] == "]"


def _bound_text(text: str) -> str:
    """A range as the messages state it: [0, 1] → 'in [0, 1]', (0, inf) → '> 0', [1, inf) → '>= 1'."""
    low, low_closed, high, high_closed = _interval(text, "")
    if math.isinf(low) and math.isinf(high):
        return ""
    if math.isinf(high):
        return f"{'>=' if low_closed else '>'} {INTERVAL.match(text)[2]}"
    if math.isinf(low):
        return f"{'<=' if high_closed else '<'} {INTERVAL.match(text)[3]}"
    return f"in {text}"


def _checked(key: str, value, spec: dict, where: str):
    """`value` if it satisfies its declaration (a whole float becomes an int where an int is declared); otherwise a
    ConfigError that says what is wrong and what would be accepted."""
    kind, bounds = spec["type"], spec.get("range")
    if kind == "list of int":
        if not isinstance(value, list):
            raise ConfigError(f"{key}={value!r} in {where} must be a list of whole numbers, such as [500, 1000]")
        element = {"type": "int", "range": bounds} if bounds else {"type": "int"}
        return [_checked(f"{key}[{index}]", item, element, where) for index, item in enumerate(value)]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} in {where} must be true or false")
        return value
    if kind == "str":
        if spec.get("choices") and value not in spec["choices"]:
            raise ConfigError(f"{key}={value!r} in {where} is not one of {', '.join(spec['choices'])}")
        if not isinstance(value, str):
            raise ConfigError(f"{key}={value!r} in {where} must be text")
        return value
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ConfigError(f"{key}={value!r} in {where} must be a number{_yaml_text_hint(value)}")
    need = _bound_text(bounds) if bounds else ""
    # NaN compares false with every bound, so finiteness is checked first and on its own.
    if not math.isfinite(value):
        raise ConfigError(f"{key}={value!r} in {where} must be a finite number{' ' + need if need else ''}")
    if kind == "int":
        if not float(value).is_integer():
            raise ConfigError(f"{key}={value!r} in {where} must be a whole number")
        value = int(value)
    if bounds:
        low, low_closed, high, high_closed = _interval(bounds, where)
        if not ((low <= value if low_closed else low < value) and (value <= high if high_closed else value < high)):
            raise ConfigError(f"{key}={value!r} in {where} must be {need}")
    return value


def _yaml_text_hint(value) -> str:
    """YAML reads 1e-4 (no dot before the exponent) as text, not a number: say so where that is what happened."""
    if isinstance(value, str) and re.fullmatch(r"[+-]?\d+[eE][+-]?\d+", value):
        return f"; YAML reads {value} as text, write it as {re.sub(r'[eE]', '.0e', value, count=1)}"
    return ""


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
            raise ConfigError(f"unknown setting {key!r} in {where}; known settings: {', '.join(sorted(base))}")
        entry = _entry(value, f"override: {where}")
        entry["value"] = _checked(key, entry["value"], declared[key], where)
        base[key] = entry


# Rules across settings, checked on every resolved cell. A check gets the cell's settings and protocol values, the
# method and its algorithm, and returns what is wrong and the fix, or None.
RULES: list[tuple[str, Callable]] = []


def _rule(statement: str):
    """Registers a rule; `statement` is how docs/settings.md states it ({smallest_screen} is filled in there)."""
    def register(check):
        RULES.append((statement, check))
        return check

    return register


def rule_statements() -> list[str]:
    """The suite's rules, then those each algorithm adds (agents/methods), as docs/settings.md states them."""
    from .methods import ALGORITHMS

    own = [rule for algorithm in ALGORITHMS.values() for rule in algorithm.rules]
    return [statement.format(smallest_screen=smallest_screen()) for statement, _ in RULES] + list(dict.fromkeys(own))


@_rule("screen_size is at least {smallest_screen}, the smallest frame the Q-network's convolutions reduce to a "
       "feature (computed from agents/torso.py)")
def _screen_fits_the_network(s, p, method, algorithm):
    if p["screen_size"] < smallest_screen():
        return (f"screen_size={p['screen_size']} is smaller than the {smallest_screen()} pixels the Q-network's "
                f"convolutions need (agents/torso.py); set screen_size to at least {smallest_screen()} under "
                "protocol_overrides")


@_rule("a run updates its network: pretrain_updates > 0, or an update step (a multiple of update_period) from "
       "learning_starts on comes before agent_steps")
def _makes_updates(s, p, method, algorithm):
    from .methods import ALGORITHMS

    if s["pretrain_updates"] > 0:
        return None
    if s["agent_steps"] == 0:
        return f"method {method!r} has neither pretrain_updates nor agent_steps; set one above 0"
    if ALGORITHMS[algorithm].interaction_updates(s) > 0:  # by the algorithm's own schedule (DAgger's iterations)
        return None
    first = _multiples_below(s["learning_starts"], s["update_period"]) * s["update_period"]
    if first >= s["agent_steps"]:
        return (f"method {method!r} never updates its network: pretrain_updates is 0 and its first update would come "
                f"at agent step {first} (learning_starts={s['learning_starts']}, update_period={s['update_period']}), "
                f"not before agent_steps={s['agent_steps']}; lower learning_starts or raise agent_steps")


@_rule("pretraining needs demonstrations: use_demos when pretrain_updates > 0")
def _pretraining_has_demos(s, p, method, algorithm):
    if s["pretrain_updates"] > 0 and not s["use_demos"]:
        return f"method {method!r} pretrains without demonstrations; set use_demos or pretrain_updates: 0"


@_rule("demo_share > 0 and demos_overwritable need use_demos")
def _demo_mixing_has_demos(s, p, method, algorithm):
    if (s["demo_share"] > 0 or s["demos_overwritable"]) and not s["use_demos"]:
        return (f"method {method!r} sets demo_share or demos_overwritable without demonstrations; "
                "set use_demos: true")


@_rule("overwritable demonstrations become agent data: with demos_overwritable, pretrain_updates = 0 and "
       "demo_share = 0")
def _overwritable_demos_are_agent_data(s, p, method, algorithm):
    if s["demos_overwritable"] and (s["pretrain_updates"] > 0 or s["demo_share"] > 0):
        return (f"method {method!r} has overwritable demonstrations, which cannot be pretrained on or mixed at a "
                "fixed share (they become agent data); set pretrain_updates: 0 and demo_share: 0")


@_rule("pretrain_eval_updates increase, each at most pretrain_updates")
def _pretrain_ladder(s, p, method, algorithm):
    ladder, pretrain = s["pretrain_eval_updates"], s["pretrain_updates"]
    if not all(low < high for low, high in zip([0] + ladder, ladder + [pretrain + 1])):
        return (f"pretrain_eval_updates={ladder!r} of method {method!r} must be a list of increasing update counts "
                f"between 1 and pretrain_updates={pretrain}")


@_rule("a greedy evaluation during interaction falls within it: interaction_eval_every <= agent_steps when both are "
       "above 0")
def _interaction_evaluations(s, p, method, algorithm):
    every, steps = s["interaction_eval_every"], s["agent_steps"]
    if every > 0 and steps > 0 and every > steps:
        return (f"interaction_eval_every={every} of method {method!r} is longer than its agent_steps={steps}, so its "
                f"interaction would never be evaluated; set interaction_eval_every to at most {steps}, or 0 for none")


@_rule("a run that interacts keeps its transitions: replay_capacity > 0 when agent_steps > 0")
def _replay_holds_the_interaction(s, p, method, algorithm):
    if s["agent_steps"] > 0 and s["replay_capacity"] == 0:
        return (f"method {method!r} interacts for agent_steps={s['agent_steps']} but replay_capacity=0 keeps none of "
                "its transitions; raise replay_capacity, or set agent_steps: 0 for a run that never interacts")


@_rule("a batch fits in the replay: batch_size <= replay_capacity when agent_steps > 0")
def _batch_fits_the_replay(s, p, method, algorithm):
    if s["agent_steps"] > 0 and s["batch_size"] > s["replay_capacity"]:
        return (f"batch_size={s['batch_size']} of method {method!r} exceeds replay_capacity={s['replay_capacity']}: "
                "each batch would repeat the few transitions the replay holds; lower batch_size or raise "
                "replay_capacity")


@_rule("without demonstrations, interaction updates wait for a transition to sample: learning_starts >= n_step when "
       "use_demos is false and agent_steps > 0")
def _something_to_sample(s, p, method, algorithm):
    if not s["use_demos"] and s["agent_steps"] > 0 and s["learning_starts"] < s["n_step"]:
        return (f"method {method!r} has no demonstrations, and its replay holds a transition to learn from only after "
                f"n_step={s['n_step']} agent steps, later than learning_starts={s['learning_starts']}; set "
                f"learning_starts to at least {s['n_step']}")


@_rule("a fixed demo share draws its agent part from agent data: when the algorithm fixes the demonstrations' share "
       "of a batch at its first interaction update, learning_starts >= n_step + the batch's agent part "
       "(batch_size − round(share · batch_size)), the agent transitions the replay holds by then; with a share of 0 "
       "(agent data alone, as pretrain & finetune), learning_starts >= n_step, as without demonstrations")
def _fixed_share_has_agent_data(s, p, method, algorithm):
    from .methods import ALGORITHMS

    share = ALGORITHMS[algorithm](s).demo_share(s["learning_starts"]) if s["agent_steps"] > 0 else None
    if share is None:  # by priority
        return None
    # An agent transition becomes sampleable once its n-step look-ahead exists, so after learning_starts agent
    # steps at least learning_starts − n_step of them are. A share above 0 needs the batch's agent part: fewer and
    # batches repeat a few of them, none and the batch is demonstrations alone (agents/replay.py). A share of 0 needs
    # one, as a run without demonstrations does: none, and the batch would be demonstrations after all.
    if share == 0:
        if s["learning_starts"] < s["n_step"]:
            return (f"method {method!r} learns from agent data alone once it interacts, but its first update at "
                    f"learning_starts={s['learning_starts']} would find no agent transition (each needs "
                    f"n_step={s['n_step']} later steps first) and draw demonstrations instead; set learning_starts to "
                    f"at least {s['n_step']}")
        return None
    needed = s["n_step"] + s["batch_size"] - round(share * s["batch_size"])
    if s["learning_starts"] < needed:
        return (f"method {method!r} draws a share {share} of each batch from the demonstrations, but its first update "
                f"at learning_starts={s['learning_starts']} would find fewer than the batch's "
                f"{needed - s['n_step']} agent transitions (each needs n_step={s['n_step']} later steps first); set "
                f"learning_starts to at least {needed}")


@_rule("an ε that changes has a schedule: epsilon_decay_steps > 0 when epsilon_start differs from epsilon_final "
       "(ε-greedy runs that interact)")
def _epsilon_schedule(s, p, method, algorithm):
    if (s["agent_steps"] > 0 and s["exploration"] == "epsilon_greedy" and s["epsilon_decay_steps"] == 0
            and s["epsilon_start"] != s["epsilon_final"]):
        return (f"method {method!r} sets epsilon_start={s['epsilon_start']} but epsilon_decay_steps=0, so ε is "
                f"epsilon_final={s['epsilon_final']} from the first agent step; set epsilon_decay_steps above 0, or "
                "epsilon_start equal to epsilon_final")


@_rule("portable numerics compute eagerly in float32: compile is not always and mixed_precision is false when "
       "numerics is portable (compile: auto leaves them eager)")
def _portable_numerics(s, p, method, algorithm):
    if s["numerics"] != "portable":
        return None
    if s["compile"] == "always":
        return (f"method {method!r} has numerics: portable and compile: always, but a compiled loss is code generated "
                "for the CPU at hand; set compile: auto or never, or numerics: native")
    if s["mixed_precision"]:
        return (f"method {method!r} has numerics: portable and mixed_precision: true, but bfloat16 has no AVX2 "
                "instructions (its convolutions leave oneDNN's AVX2 kernels for slower fallbacks); set "
                "mixed_precision: false, or numerics: native")


# Sections of a workflow config that hold settings and protocol knobs, which resolve() checks against their
# declarations; check_finite_numbers() looks at the rest.
SETTING_SECTIONS = ("settings", "method_settings", "method_definitions", "protocol_overrides", "sweeps")


def kind(value) -> str:
    """'an int', 'a list': what a user gave, for a message."""
    name = {"str": "text", "NoneType": "nothing"}.get(type(value).__name__, type(value).__name__)
    return name if name in ("text", "nothing") else f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def check_finite_numbers(config: dict) -> None:
    """Every number of a workflow config outside its settings is finite. The JSON schema cannot refuse NaN, which
    compares false with every bound, nor infinity where it sets no upper bound."""
    def walk(value, path: str) -> None:
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{path}={value!r} in the workflow config is not a finite number; give a finite value "
                              "in the range config/schema.yaml states")
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            walk(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")

    for key, value in config.items():
        if key not in SETTING_SECTIONS:
            walk(value, key)


def method_definitions(config: dict) -> dict:
    """Package methods plus those a config defines (a config may also redefine a package method)."""
    methods = copy.deepcopy(_declarations()["methods"])
    methods.update(copy.deepcopy(config.get("method_definitions") or {}))
    return methods


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
        if setting not in _declarations()["settings"]:
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
        methods = config.get("methods") or []
        if base in methods:
            at = methods.index(base) + 1
            config["methods"] = methods[:at] + [n for n in names if n not in methods] + methods[at:]
        else:
            config["methods"] = methods + [n for n in names if n not in methods]
    config["method_definitions"] = added
    return config


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
    declared = _declarations()["settings"]
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
    resolved, knobs = values(settings), values(protocol)
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
        "protocol_name": config.get("protocol", _declarations()["default_protocol"]),
        "protocol": protocol,
        "settings": settings,
    }


def planned_updates(settings: dict, algorithm: str) -> int:
    """Gradient updates a run makes: phase I plus those of the algorithm's schedule over its agent steps (by default one
    at every agent step t with learning_starts ≤ t < agent_steps that `update_period` divides, agents/run.py), counted
    exactly, as the importance-weight annealing ends on it."""
    from .methods import ALGORITHMS

    return settings["pretrain_updates"] + ALGORITHMS[algorithm].interaction_updates(settings)


def _multiples_below(step: int, period: int) -> int:
    """Multiples of `period` in [0, step): the update steps of the interaction loop before agent step `step`."""
    return -(-step // period)


def values(section: dict) -> dict:
    return {key: entry["value"] for key, entry in section.items()}


def resolve_protocol(config: dict) -> dict:
    """The protocol values a config runs under (what demonstration files are recorded with)."""
    declared = _declarations()
    name = config.get("protocol", declared["default_protocol"])
    if name not in declared["protocols"]:
        raise ConfigError(f"unknown protocol {name!r}; known protocols: {', '.join(declared['protocols'])}")
    protocol = copy.deepcopy(declared["protocols"][name])
    _apply(protocol, config.get("protocol_overrides"), "config protocol_overrides", declared["protocol_knobs"])
    return protocol


SCRIPTED = "scripted"
NO_DEMOS = "none"  # the demo-set name of a run without demonstrations

# Names that records written before a rename carry, by their names now. A demo file loads under either
# (agents/demos/files.py); `python -m analysis migrate` rewrites stored records (analysis/migrate.py). A scripted set's
# action noise was `epsilon`, its label in set names `_eps` (scripted_eps0_ep5), the replay's priority bonuses
# priority_eps_agent and priority_eps_demo.
RENAMED_DEMO_KEYS = {"epsilon": "noise"}
RENAMED_SETTINGS = {"priority_eps_agent": "priority_bonus_agent", "priority_eps_demo": "priority_bonus_demo"}
OLD_NOISE_LABEL, NOISE_LABEL = "_eps", "_noise"


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
