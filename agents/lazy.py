"""Modules loaded on first use. The workflow reads each algorithm's rules while it plans (agents/methods), and the
method modules name torch at their top as any reader expects; loading torch there would add seconds to every plan
(`snakemake -n`) for nothing, so those modules hold torch through `load`, which runs its code only when a loss first
needs it."""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def load(name: str) -> ModuleType:
    """Module `name`, its code run on first attribute access (the standard library's LazyLoader); the module itself
    when something has imported it already."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
