"""The normalisation's own uncertainty (analysis/spans.py), on hand-worked ledgers of one game: with exact references
the spans cannot move the difference; with a measured demonstrator or random play, a difference between two methods
widens by what the delta method says, a difference against the demonstrator narrows (its uncertainty partly cancels
against the unit it sets), and a share, which is never normalised, stays as it is.

The expected ratios are first worked by the delta method, then taken from the closed form's own 95% range (a ratio of
normals is skewed, so its range is a little wider than the delta method says): 4,000,000 draws of the closed form,
e.g. (10 + N(0, √(10/3)))/(20 + N(0, 2)), independent of the ledger's code."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main as analysis_main
from analysis.claims import Ledger
from analysis.spans import sensitivity, to_markdown

DQFD, BC = [10.0, 12.0, 14.0, 16.0], [0.0, 2.0, 4.0, 6.0]  # means 13 and 3, each with standard error √(5/3)
REFERENCE = Path(__file__).resolve().parent.parent / "reference"


def ledger(demonstrator_episodes, random_episodes):
    scores = pd.DataFrame({"game": "Pong", "method": ["dqfd"] * 4 + ["bc"] * 4 + ["dagger"] * 4,
                           "final": DQFD + BC + [np.nan] * 4,
                           "expert_agreement": [np.nan] * 4 + [0.2, 0.3, 0.4, 0.5] + [0.5, 0.6, 0.7, 0.8],
                           "demonstrator_mean": np.mean(demonstrator_episodes),
                           "random_mean": np.mean(random_episodes)})
    return Ledger(scores, pd.DataFrame(columns=["game", "method", "published"]),
                  pd.DataFrame({"game": "Pong", "score": demonstrator_episodes})), \
        pd.DataFrame({"game": "Pong", "score": random_episodes})


def claims(result):
    return result["claims"].set_index("claim")


def test_exact_references_leave_every_difference_as_the_ledger_has_it():
    result = sensitivity(*ledger([20.0, 20.0], [0.0, 0.0]), draws=20_000)
    table = claims(result)
    assert {"dqfd_beats_imitation", "dqfd_beats_demonstrator", "imitation_below_demonstrator",
            "dagger_beats_bc_agreement"} <= set(table.index)
    assert table.loc["dqfd_beats_imitation", "difference"] == pytest.approx(0.5)  # (13 − 3)/20
    assert table["ratio"].to_numpy() == pytest.approx(1.0, abs=0.03)  # the simulation's own error only
    assert result["unstable"] == 0.0 and result["exact"] == []


def test_a_measured_demonstrator_widens_a_difference_of_methods_and_narrows_one_against_itself():
    """Demonstrator episodes 18 and 22: span 20 with standard error 2, random play exact at 0.
    dqfd − bc: d = 10/20 = 0.5, the ledger's standard error √(2·5/3)/20 = 0.0913; the span adds
    d²·Var(span)/span² = 0.25·4/400 = 0.0025 to its variance: ratio √(0.00833 + 0.0025)/0.0913 = 1.140 (the closed
    form's range: 1.168). dqfd − demonstrator: (13 − 20)/20, the ledger's √(5/3 + 4)/20 = 0.119; with the span drawn,
    (m − r)/(d − r) − 1 has derivatives 1/20 in m and −13/400 in d: √(0.05²·5/3 + 0.0325²·4) = 0.0916, ratio 0.77
    (the closed form's: 0.792).
    dagger − bc agreement (a share, 0.3 apart): never normalised, ratio 1."""
    result = sensitivity(*ledger([18.0, 22.0], [0.0, 0.0]), draws=20_000)
    table = claims(result)
    assert table.loc["dqfd_beats_imitation", "standard_error"] == pytest.approx(0.0913, rel=0.01)
    assert table.loc["dqfd_beats_imitation", "ratio"] == pytest.approx(1.168, abs=0.03)
    assert table.loc["dqfd_beats_demonstrator", "standard_error"] == pytest.approx(0.119, rel=0.01)
    assert table.loc["dqfd_beats_demonstrator", "ratio"] == pytest.approx(0.792, abs=0.03)
    assert table.loc["dagger_beats_bc_agreement", "difference"] == pytest.approx(0.3)
    assert table.loc["dagger_beats_bc_agreement", "ratio"] == pytest.approx(1.0, abs=0.03)
    assert result["unstable"] == 0.0  # a span 10 standard errors from 0 never falls near it


def test_measured_random_play_moves_the_span_and_the_offset():
    """Random episodes −2 and 2: mean 0, standard error 2; the demonstrator exact at 20. dqfd − bc: as with the
    demonstrator measured, ratio 1.168. dqfd − demonstrator, (m − d)/(d − r): the ledger's √(5/3)/20 = 0.0645; the
    derivative in r is (m − d)/(d − r)² = −7/400: √(0.05²·5/3 + 0.0175²·4) = 0.0734, ratio 1.138 (the closed
    form's: 1.165)."""
    table = claims(sensitivity(*ledger([20.0, 20.0], [-2.0, 2.0]), draws=20_000))
    assert table.loc["dqfd_beats_imitation", "ratio"] == pytest.approx(1.168, abs=0.03)
    assert table.loc["dqfd_beats_demonstrator", "standard_error"] == pytest.approx(0.0645, rel=0.01)
    assert table.loc["dqfd_beats_demonstrator", "ratio"] == pytest.approx(1.165, abs=0.03)


def test_a_span_near_zero_is_reported_unstable_and_a_lone_episode_exact():
    unstable = sensitivity(*ledger([2.0, 8.0], [0.0, 0.0]), draws=2000)  # span 5 with standard error 3
    assert 0.05 < unstable["unstable"] < 0.5
    lone = sensitivity(*ledger([20.0], [0.0, 0.0]), draws=200)
    assert lone["exact"] == ["Pong"] and "Taken as exact" in to_markdown(lone, 200)


def test_the_command_reads_a_reference_and_refuses_what_it_cannot_use(tmp_path, capsys):
    assert analysis_main(["spans", "--results", str(REFERENCE / "claims"), "--draws", "200"]) == 0
    printed = capsys.readouterr().out
    assert "| soft_q_pretrain_beats_demonstrator | 2 |" in printed and "200 draws" in printed
    with pytest.raises(SystemExit) as refused:
        analysis_main(["spans", "--draws", "10"])
    assert str(refused.value).startswith("error: --draws=10 is too few")
    (tmp_path / "tables").mkdir()
    with pytest.raises(SystemExit) as refused:
        analysis_main(["spans", "--results", str(tmp_path)])
    assert str(refused.value).startswith(f"error: {tmp_path / 'tables' / 'run_scores.csv'} not found")
    # A table of another kind is refused by the file and the columns it lacks, before any draw.
    for name in ("run_scores.csv", "demonstrators.csv", "random.csv"):
        (tmp_path / "tables" / name).write_text((REFERENCE / "claims" / "tables" / name).read_text())
    (tmp_path / "tables" / "random.csv").write_text("game,episode,return\nPong,0,-21\n")
    with pytest.raises(SystemExit) as refused:
        analysis_main(["spans", "--results", str(tmp_path)])
    assert str(refused.value).startswith(f"error: {tmp_path / 'tables' / 'random.csv'} lacks the column score;")
