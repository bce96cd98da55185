"""A study's design is committed before its first run ends: every committed run of a study that has a design page
finished after the commit that added the page (provenance.json's finished_at against the commit time in git)."""
import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# A study's reference folder and the page that holds its design.
DESIGNS = {"reference/atari100k": "docs/atari100k_study.md"}


def committed_at(path: str) -> datetime | None:
    """When `path` was first committed (the commit that added it), or None outside a git checkout or before it is."""
    try:
        out = subprocess.run(["git", "log", "--diff-filter=A", "--follow", "--format=%cI", "--", path], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return datetime.fromisoformat(out[-1]) if out else None


@pytest.mark.parametrize("study, design", sorted(DESIGNS.items()))
def test_every_run_of_a_study_finished_after_its_design_was_committed(study, design):
    runs = sorted((ROOT / study).glob("runs/*/*/*/seed_*/provenance.json"))
    if not runs:
        pytest.skip(f"{study} has no committed runs yet")
    designed = committed_at(design)
    assert designed is not None, f"{study} has runs but its design {design} was never committed"
    early = [str(path.parent.relative_to(ROOT)) for path in runs
             if datetime.fromisoformat(json.loads(path.read_text())["finished_at"]) <= designed]
    assert not early, f"runs that finished before the design's commit at {designed.isoformat()}: {early}"
