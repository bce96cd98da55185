"""The declarations in agents/defaults.yaml: every setting and protocol knob declared once, with its type, its range
or choices, one line of meaning, and (a setting) its default with its origin; the protocols; the package's methods.
Read and checked once per process. Every check of a value is derived from its declaration (`checked`), so a setting
added there is checked like the others; a bad value is refused before any compute, with one line that names it and
the fix.
"""
from __future__ import annotations

import copy
import functools
import math
import re
from importlib import resources
from numbers import Real

import yaml

from .errors import ConfigError

TYPES = ("bool", "int", "float", "str", "list of int")
SPEC_KEYS = {"type", "range", "choices", "meaning"}  # and, for a setting, its default: value and origin
INTERVAL = re.compile(r"^([\[(])\s*([^\s,]+)\s*,\s*([^\s,]+)\s*([\])])$")  # [0, 1], (0, inf), [1, inf)
DECLARATIONS = "agents/defaults.yaml"


@functools.cache
def declarations() -> dict:
    """agents/defaults.yaml, read and checked once per process (shared: copy before changing, as `defaults` does)."""
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
            checked(key, entry["value"], knobs[key], f"protocol {name!r} of {DECLARATIONS}")
    for key, spec in declared["settings"].items():
        _check_declaration(f"setting {key!r}", spec, SPEC_KEYS | {"value", "origin"})
        if "value" not in spec or "origin" not in spec:
            raise ConfigError(f"setting {key!r} in {DECLARATIONS} has no default; declare its value and origin")
        checked(key, spec["value"], spec, DECLARATIONS)
    return declared


def defaults() -> dict:
    """The package's declarations: protocol knobs, protocols, settings (each with its default) and methods."""
    return copy.deepcopy(declarations())


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


def checked(key: str, value, spec: dict, where: str):
    """`value` if it satisfies its declaration (a whole float becomes an int where an int is declared); otherwise a
    ConfigError that says what is wrong and what would be accepted."""
    kind, bounds = spec["type"], spec.get("range")
    if kind == "list of int":
        if not isinstance(value, list):
            raise ConfigError(f"{key}={value!r} in {where} must be a list of whole numbers, such as [500, 1000]")
        element = {"type": "int", "range": bounds} if bounds else {"type": "int"}
        return [checked(f"{key}[{index}]", item, element, where) for index, item in enumerate(value)]
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} in {where} must be true or false")
        return value
    if kind == "str":
        if spec.get("choices") and value not in spec["choices"]:
            # mixed_precision was a bool: a user's or a stored record's true/false gets its word
            former = (f"; write {'always' if value else 'never'} for {str(value).lower()} (stored records: python -m "
                      "analysis migrate --results DIR)"
                      if isinstance(value, bool) and {"always", "never"} <= set(spec["choices"]) else "")
            raise ConfigError(f"{key}={value!r} in {where} is not one of {', '.join(spec['choices'])}{former}")
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
