"""A workflow config file (config/*.yaml) read as the workflow reads it, every mistake in it one line that names the
place, and the config-wide checks the workflow's JSON schema cannot make. The settings inside are resolved per cell by
agents/cell.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import yaml

from .errors import ConfigError

WORKFLOW_CONFIG = "config/config.yaml"  # the workflow's base: every --configfile is laid over it


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


# Sections of a workflow config that hold settings and protocol knobs, which agents/cell.py checks against their
# declarations; check_finite_numbers() looks at the rest.
SETTING_SECTIONS = ("settings", "method_settings", "method_definitions", "protocol_overrides", "sweeps")


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
