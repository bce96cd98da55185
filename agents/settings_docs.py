"""docs/settings.md and config/settings.schema.yaml, generated from the declarations in agents/defaults.yaml (the one
place a setting or protocol knob is declared): `python -m agents settings-docs` rewrites both after a declaration
changes, and tests/test_config.py fails while either differs from what the declarations give."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from .declarations import defaults
from .io import write_text
from .rules import rule_statements

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DOC, SETTINGS_SCHEMA = ROOT / "docs/settings.md", ROOT / "config/settings.schema.yaml"


def cell(value) -> str:
    """A table cell: text as it is, other values as YAML writes them inline; `|` escaped for Markdown."""
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|")


def settings_doc() -> str:
    """docs/settings.md: every setting and protocol knob with its type, bounds, default, origin and meaning, and the
    rules across settings."""
    declared = defaults()
    protocols = list(declared["protocols"])

    def bounds(spec):
        return spec.get("range") or ", ".join(spec.get("choices", [])) or "–"

    settings = [f"| `{key}` | {spec['type']} | {cell(bounds(spec))} | `{cell(spec['value'])}` | {cell(spec['origin'])} "
                f"| {cell(spec['meaning'])} |" for key, spec in declared["settings"].items()]
    knobs = [f"| `{key}` | {spec['type']} | {bounds(spec)} | "
             + " | ".join(f"`{cell(declared['protocols'][name][key]['value'])}`, "
                          f"{cell(declared['protocols'][name][key]['origin'])}" for name in protocols)
             + f" | {cell(spec['meaning'])} |" for key, spec in declared["protocol_knobs"].items()]
    return "\n".join([
        "# Settings and protocol knobs", "",
        "Generated from the declarations in `agents/defaults.yaml` by `python -m agents settings-docs`, which",
        "rewrites this page and `config/settings.schema.yaml` after a declaration changes; a test fails while either",
        "differs from what the declarations give.", "",
        "A config overrides a setting with a plain value or `{value, origin}`: under `settings` for every method,",
        "under `method_settings.<method>` for one, or in a method's definition; protocol knobs under",
        "`protocol_overrides`. Every value is checked against its declaration when a cell is resolved (by the",
        "workflow for every cell before any job starts, and by `python -m agents train`), then the rules across",
        "settings below. Every number must be finite: NaN and infinity are refused whatever the range. A range is",
        "an interval, `[` and `]` including the bound, `(` and `)` excluding it; a list's range bounds each element.",
        "", "## Settings", "",
        "| setting | type | range or choices | default | origin | meaning |", "|---|---|---|---|---|---|",
        *settings,
        "", "## Protocol knobs", "",
        f"`{declared['default_protocol']}` is the default protocol; `protocol: <name>` in a config selects another.",
        "",
        f"| knob | type | range | {' | '.join(protocols)} | meaning |", "|---" * (4 + len(protocols)) + "|",
        *knobs,
        "", "## Rules across settings", "",
        *[f"- {cell(statement)}" for statement in rule_statements()],
    ]) + "\n"


def settings_schema() -> str:
    """config/settings.schema.yaml: the same declarations as a JSON schema, for editors."""
    declared = defaults()

    def describe(spec, defaults_text):
        bounds = spec.get("range") or ", ".join(spec.get("choices", []))
        return f"{spec['type']}{' ' + bounds if bounds else ''}; {defaults_text}. {spec['meaning']}"

    settings = {key: {"description": describe(spec, f"default {cell(spec['value'])} ({spec['origin']})")}
                for key, spec in declared["settings"].items()}
    knobs = {key: {"description": describe(spec, ", ".join(
        f"{name}: {cell(protocol[key]['value'])}" for name, protocol in declared["protocols"].items()))}
        for key, spec in declared["protocol_knobs"].items()}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": "The settings part of config/schema.yaml: every setting and protocol knob with its type, range "
                       "and meaning, for editors and readers. agents/cell.py checks the values against the same "
                       "declarations for every cell at planning, with a one-line message for each mistake.",
        "$defs": {
            "protocol": {"description": "the protocol: a value for every knob", "enum": list(declared["protocols"])},
            "protocol_overrides": {"description": "knobs changed from the protocol's values: a value or "
                                                  "{value, origin}", "type": ["object", "null"], "properties": knobs},
            "settings": {"description": "settings changed from their defaults: a value or {value, origin}",
                         "type": ["object", "null"], "properties": settings},
        },
    }
    return ("# Generated from agents/defaults.yaml by `python -m agents settings-docs`; do not edit "
            "(docs/settings.md).\n" + yaml.safe_dump(schema, sort_keys=False, allow_unicode=True, width=120))


def generated() -> dict[Path, str]:
    """Each generated file's path and the text the declarations give it."""
    return {SETTINGS_DOC: settings_doc(), SETTINGS_SCHEMA: settings_schema()}


def write() -> list[Path]:
    """Rewrite the generated files whose text differs from the declarations'; the paths rewritten."""
    stale = {path: text for path, text in generated().items() if not path.is_file() or path.read_text() != text}
    for path, text in stale.items():
        write_text(path, text)
    return list(stale)
