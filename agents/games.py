"""The games the suite can run: those whose ROMs ship with ale-py, found from its ROM files without loading the
emulator, so that the workflow checks every cell's game while it plans without importing ale-py."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

# ROMs ale-py ships with a multi-player mode only; it registers no single-player environment for them.
MULTI_PLAYER_ONLY = {"Combat", "Joust", "MazeCraze", "Warlords"}


@functools.cache  # the workflow checks every cell's game while it plans
def known_games() -> list[str]:
    """Games in the CamelCase of the `ALE/<Game>-v5` ids (space_invaders.bin → SpaceInvaders)."""
    roms = Path(importlib.util.find_spec("ale_py").submodule_search_locations[0]) / "roms"
    return sorted({rom.stem.title().replace("_", "") for rom in roms.glob("*.bin")} - MULTI_PLAYER_ONLY)
