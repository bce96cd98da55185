"""The normalisation's own uncertainty (analysis/spans.py), on hand-worked ledgers of one game: with exact references
the spans cannot move the difference; with a measured demonstrator, a difference between two methods widens by what
the delta method says, and a difference against the demonstrator narrows, since its uncertainty partly cancels
against the unit it sets."""
import numpy as np
import pandas as pd
import pytest

from analysis.__main__ import main as analysis_main
from analysis.claims import Ledger
from analysis.spans import sensitivity

DQFD, BC = [10.0, 12.0, 14.0, 16.0], [0.0, 2.0, 4.0, 6.0]  # means 13 and 3, each with standard error √(5/3)


def ledger(demonstrator_episodes, random_episodes):
    scores = pd.DataFrame({"game": "Pong", "method": ["dqfd"] * 4 + ["bc"] * 4, "final": DQFD + BC,
                           "demonstrator_mean": np.mean(demonstrator_episodes),
                           "random_mean": np.mean(random_episodes)})
    return Ledger(scores, pd.DataFrame(columns=["game", "method", "published"]),
                  pd.DataFrame({"game": "Pong", "score": demonstrator_episodes})), \
        pd.DataFrame({"game": "Pong", "score": random_episodes})


def rows(table):
    return table.set_index("claim")


def test_exact_references_leave_every_difference_as_it_was():
    table = rows(sensitivity(*ledger([20.0, 20.0], [0.0, 0.0]), draws=200))
    assert set(table.index) == {"dqfd_beats_imitation", "dqfd_beats_demonstrator", "imitation_below_demonstrator"}
    assert (table["ratio"] == 1.0).all() and (table["unstable_share"] == 0.0).all()
    assert table.loc["dqfd_beats_imitation", "difference"] == pytest.approx(0.5)  # (13 − 3)/20


def test_a_measured_demonstrator_widens_a_difference_of_methods_and_narrows_one_against_itself():
    """Demonstrator episodes 18 and 22: span 20 with standard error 2, random play exact at 0.
    dqfd − bc: d = 10/20 = 0.5 with spans fixed, standard error √(2·5/3)/20 = 0.0913; the span adds
    d²·Var(span)/span² = 0.25·4/400 = 0.0025 to its variance: ratio √(0.00833 + 0.0025)/0.0913 = 1.140.
    dqfd − demonstrator: (13 − 20)/20, spans fixed √(5/3 + 4)/20 = 0.119; with the span drawn,
    (m − r)/(d − r) − 1 has derivatives 1/20 in m and −13/400 in d: √(0.05²·5/3 + 0.0325²·4) = 0.0916, ratio 0.77."""
    table = rows(sensitivity(*ledger([18.0, 22.0], [0.0, 0.0]), draws=4000))
    methods, demonstrator = table.loc["dqfd_beats_imitation"], table.loc["dqfd_beats_demonstrator"]
    assert methods["spread_fixed_spans"] == pytest.approx(0.0913, rel=0.05)
    assert methods["ratio"] == pytest.approx(1.140, abs=0.05)
    assert demonstrator["spread_fixed_spans"] == pytest.approx(0.119, rel=0.05)
    assert demonstrator["ratio"] == pytest.approx(0.77, abs=0.05)
    assert table["unstable_share"].max() == 0.0  # a span 10 standard errors from 0 never falls near it


def test_the_command_says_which_table_it_lacks(tmp_path):
    (tmp_path / "tables").mkdir()
    with pytest.raises(SystemExit) as refused:
        analysis_main(["spans", "--results", str(tmp_path)])
    assert str(refused.value).startswith(f"error: {tmp_path / 'tables' / 'run_scores.csv'} not found")
