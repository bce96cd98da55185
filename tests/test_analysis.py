"""Tables and curves from a small synthetic set of runs: the numbers equal a direct computation."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.curves import binned_curve, plot_game
from analysis.stats import mean_ci
from analysis.tables import scores_table, to_markdown


def test_mean_ci_is_a_t_interval():
    values = [1.0, 2.0, 6.0]
    mean, low, high = mean_ci(values)
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    assert np.isnan(mean_ci([4.0])[1]) and mean_ci([4.0])[0] == 4.0


RUNS = pd.DataFrame({
    "game": ["Pong"] * 4, "method": ["dqfd", "dqfd", "pdd_dqn", "pdd_dqn"], "seed": [0, 1, 0, 1],
    "eval_score_mean": [10.0, 14.0, -21.0, -19.0], "agent_steps": [100] * 4, "pretrain_updates": [50, 50, 0, 0],
})
DEMOS = pd.DataFrame({"game": ["Pong"] * 3, "score": [21.0, 15.0, 18.0]})


def test_scores_table_matches_a_direct_computation():
    table = scores_table(RUNS, DEMOS).set_index("method")
    assert table.loc["dqfd", "score_mean"] == 12.0
    assert table.loc["dqfd", "ci95_low"] < 12.0 < table.loc["dqfd", "ci95_high"]
    assert table.loc["pdd_dqn", "per_seed"] == "-21 -19"
    assert table.loc["dqfd", ["demonstrator_mean", "demonstrator_worst", "demonstrator_best"]].tolist() == [18, 15, 21]
    assert "| Pong | dqfd | 2 | 12.0 |" in to_markdown(scores_table(RUNS, DEMOS))


def test_binned_curve_averages_per_seed_then_across_seeds():
    episodes = pd.DataFrame({"seed": [0, 0, 1, 1], "agent_step": [10, 20, 15, 80],
                             "episode_return": [1.0, 3.0, 6.0, 9.0]})
    curve = binned_curve(episodes, np.array([0, 50, 100]))
    assert curve["mean"].tolist() == [(2.0 + 6.0) / 2, 9.0]
    assert curve["seeds"].tolist() == [2, 1]


def test_curves_render(tmp_path):
    episodes = pd.DataFrame({"game": "Pong", "method": ["dqfd"] * 4, "seed": [0, 0, 1, 1],
                             "agent_step": [10, 90, 20, 80], "episode_return": [-5.0, 1.0, -3.0, 2.0]})
    out = tmp_path / "curves.png"
    plot_game("Pong", episodes, RUNS, DEMOS, ["dqfd", "pdd_dqn"], 2, out)
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_early_scores_use_the_first_quarter_of_each_run():
    episodes = pd.DataFrame({"game": "Pong", "method": ["dqfd"] * 3 + ["pdd_dqn"] * 2, "seed": [0, 0, 1, 0, 1],
                             "agent_step": [10, 30, 20, 5, 90], "episode_return": [-3.0, 7.0, -1.0, -21.0, -5.0]})
    random = pd.DataFrame({"game": ["Pong", "Pong"], "score": [-21.0, -19.0]})
    table = scores_table(RUNS, DEMOS, episodes=episodes, random=random, early_fraction=0.25).set_index("method")
    assert table.loc["dqfd", "early_mean"] == -2.0  # the step-30 episode is past 25 of 100 steps
    assert table.loc["dqfd", "early_per_seed"] == "-3.0 -1.0"
    assert table.loc["pdd_dqn", "early_mean"] == -21.0 and table.loc["pdd_dqn", "early_per_seed"] == "-21.0 –"
    assert (table["random_mean"] == -20.0).all()
    assert "| Pong | dqfd | 2 | -2.0 |" in to_markdown(table.reset_index())
