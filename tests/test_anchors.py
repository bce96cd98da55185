"""Published Atari 100k scores as context (analysis/anchors.py): the committed table reads, a malformed one is refused in
one line, the score table shows its games' anchors apart from the runs, and each anchor is a labelled line on its
game's curve panels, which stay as they were without any."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt

from analysis import curves, style
from analysis.__main__ import main as analysis_main
from analysis.anchors import COLUMNS, UNCERTAINTY, AnchorsError, read_anchors
from analysis.panels import ANCHOR_LABEL
from analysis.scores import score_runs
from analysis.tables import scores_table, to_latex, to_markdown
from test_analysis import DEMOS, RANDOM, synthetic_runs
from test_figures import BASELINES, matrix, panel

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "config/atari100k_anchors.csv"
HEADER = ",".join(COLUMNS)
ROW = "Pong,BBF,16.7,a mean,a protocol,a paper,unverified: a transcription"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def anchors_table(rows):
    """As read_anchors returns them: without a spread, the interval's ends are NaN."""
    return pd.DataFrame([dict(zip(COLUMNS, row)) for row in rows]).assign(low=np.nan, high=np.nan)


PONG = anchors_table([("Pong", "random", -20.7, "s", "p", "x", "unverified: code"),
                      ("Pong", "SPR", -5.4, "s", "p", "x", "unverified: runs"),
                      ("Pong", "BBF", 16.7, "s", "p", "x", "verified")])


def test_the_committed_anchors_read_with_a_score_per_game_and_agent():
    anchors = read_anchors(COMMITTED)
    assert set(anchors["game"]) == {"Pong", "Breakout", "Freeway", "DemonAttack", "MsPacman"}
    assert list(dict.fromkeys(anchors["agent"])) == ["random", "human", "DrQ(ε)", "SPR", "BBF"]
    assert len(anchors) == 5 * 5 and anchors["score"].dtype == float
    assert anchors.set_index(["game", "agent"]).loc[("Pong", "human"), "score"] == 14.6
    # no number was read in its paper's own table: every status says so, and on what it rests
    assert all(status.startswith("unverified: ") for status in anchors["status"])
    # the means over released runs carry their interval; the single numbers (a table's, random, human) none
    spread = anchors["agent"].isin(["DrQ(ε)", "SPR"])
    assert anchors.loc[spread, "low"].notna().all() and anchors.loc[~spread, "low"].isna().all()
    pacman = anchors.set_index(["game", "agent"]).loc[("MsPacman", "DrQ(ε)")]
    assert pacman["low"] < 1218.11 < pacman["high"]


def test_a_mean_over_runs_gets_its_t_interval(tmp_path):
    """A mean of 10.0 over 4 runs with standard deviation 2.0: standard error 1.0, t(0.975, 3) = 3.182446, so the
    95% interval is 10 ± 3.182446; a row with both columns empty has none."""
    text = (",".join(COLUMNS + UNCERTAINTY) + "\n" + ROW.replace("16.7", "10.0") + ",2.0,4\n"
            + ROW.replace("BBF", "SPR") + ",,\n")
    path = tmp_path / "anchors.csv"
    path.write_text(text)
    anchors = read_anchors(path)
    assert anchors.loc[0, "low"] == pytest.approx(10.0 - 3.182446, abs=1e-6)
    assert anchors.loc[0, "high"] == pytest.approx(10.0 + 3.182446, abs=1e-6)
    assert np.isnan(anchors.loc[1, "low"]) and np.isnan(anchors.loc[1, "high"])
    assert list(anchors.columns) == COLUMNS + ["low", "high"]


@pytest.mark.parametrize("text, fragment", [
    (None, "is not a file; point it at a table of published Atari 100k scores such as config/atari100k_anchors.csv"),
    ("", "is empty"),
    (HEADER + "\n", "has a header and no rows"),
    ("game,method,score,metric,source,status\nPong,dqfd,1,m,s,verified\n", "lacks the columns agent, statistic, protocol"),
    (HEADER + "\n" + ROW.replace("16.7", "n/a") + "\n", "line 2: score 'n/a' of Pong, BBF is not a finite number"),
    (HEADER + "\n" + ROW.replace("16.7", "inf") + "\n", "score 'inf' of Pong, BBF is not a finite number"),
    (HEADER + "\n" + ROW.replace("unverified: a transcription", "checked") + "\n",
     "status 'checked' of Pong, BBF does not start with verified"),
    (HEADER + "\n" + ROW.replace("a paper", "") + "\n", "Pong, BBF has no source"),
    (HEADER + "\n" + ROW.replace("Pong", "Ms Pacman") + "\n", "game 'Ms Pacman' is not a game name"),
    (HEADER + "\n" + ROW + "\n" + ROW + "\n", "gives Pong, BBF twice"),
    (HEADER + '\nPong,BBF,"16.7\n', "is not a CSV table"),
    (HEADER + ",spread\n" + ROW + ",3.0\n", "has the column spread without runs"),
    (HEADER + ",spread,runs\n" + ROW + ",3.0,\n", "line 2: Pong, BBF gives spread and no runs; give both"),
    (HEADER + ",spread,runs\n" + ROW + ",,100\n", "Pong, BBF gives runs and no spread"),
    (HEADER + ",spread,runs\n" + ROW + ",-1,100\n", "spread '-1' of Pong, BBF is not a standard deviation"),
    (HEADER + ",spread,runs\n" + ROW + ",nan,100\n", "spread 'nan' of Pong, BBF is not a standard deviation"),
    (HEADER + ",spread,runs\n" + ROW + ",3.0,1\n", "runs '1' of Pong, BBF is not a count of 2 runs or more"),
    (HEADER + ",spread,runs\n" + ROW + ",3.0,7.5\n", "runs '7.5' of Pong, BBF is not a count"),
])
def test_a_malformed_anchors_table_is_refused_in_one_line(text, fragment, tmp_path):
    path = tmp_path / "anchors.csv"
    if text is not None:
        path.write_text(text)
    with pytest.raises(AnchorsError) as refused:
        read_anchors(path)
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


def test_the_analysis_command_refuses_a_malformed_anchors_table_in_one_line(tmp_path):
    bad = tmp_path / "anchors.csv"
    bad.write_text(HEADER + "\n" + ROW.replace("16.7", "high") + "\n")
    with pytest.raises(SystemExit) as refused:
        analysis_main(["table", "--scores", "x.csv", "--csv", "a", "--markdown", "b", "--latex", "c",
                       "--window-fraction", "0.5", "--anchors", str(bad)])
    assert str(refused.value) == f"error: --anchors {bad} line 2: score 'high' of Pong, BBF is not a finite number"


@pytest.fixture
def scored():
    runs, episodes = synthetic_runs()
    return score_runs(runs, episodes, DEMOS, RANDOM, window_fraction=0.5)


def test_the_score_table_shows_its_games_anchors_as_context_and_nothing_without_them(scored):
    plain = scores_table(scored)
    table = scores_table(scored, anchors=PONG)
    # the CSV: a column per agent, the game's anchor on each of its rows, none on a game without anchors
    assert [column for column in table if column.startswith("anchor_")] == ["anchor_random", "anchor_SPR", "anchor_BBF"]
    assert set(table.loc[table["game"] == "Pong", "anchor_SPR"]) == {-5.4}
    assert table.loc[table["game"] == "Breakout", "anchor_BBF"].isna().all()
    assert table.drop(columns=["anchor_random", "anchor_SPR", "anchor_BBF"]).equals(plain)
    # Markdown and LaTeX: the runs' table unchanged, the anchors' own table after it, Breakout not in it
    markdown, bare = to_markdown(table, 0.5, PONG), to_markdown(plain, 0.5)
    assert markdown.startswith(bare) and "never as a verdict" in markdown and "protocol" in markdown
    section = markdown[len(bare):]
    assert "| game | random | SPR | BBF |" in section and "| Pong | -20.7* | -5.4* | 16.7 |" in section
    assert "Breakout" not in section  # a game without anchors shows none
    latex, bare_latex = to_latex(table, 0.5, PONG), to_latex(plain, 0.5)
    assert latex.startswith(bare_latex) and r"\label{tab:atari100k_anchors}" in latex
    assert r"Pong & $-$20.7$^{*}$ & $-$5.4$^{*}$ & 16.7 \\" in latex
    assert to_markdown(table, 0.5, PONG.iloc[:0]).count("has an anchor") == 1  # none of the table's games has one


def test_an_anchor_with_an_interval_shows_it_in_the_tables(scored):
    spread = PONG.assign(low=[np.nan, -7.52, np.nan], high=[np.nan, -3.30, np.nan])
    table = scores_table(scored, anchors=spread)
    assert [column for column in table if column.startswith("anchor_")] == [
        "anchor_random", "anchor_SPR", "anchor_SPR_ci95_low", "anchor_SPR_ci95_high", "anchor_BBF"]
    assert set(table.loc[table["game"] == "Pong", "anchor_SPR_ci95_low"]) == {-7.52}
    assert table.loc[table["game"] == "Breakout", "anchor_SPR_ci95_high"].isna().all()
    assert "| Pong | -20.7* | -5.4 [-7.5, -3.3]* | 16.7 |" in to_markdown(table, 0.5, spread)
    assert r"Pong & $-$20.7$^{*}$ & $-$5.4 [$-$7.5, $-$3.3]$^{*}$ & 16.7 \\" in to_latex(table, 0.5, spread)


def anchor_lines(axes):
    return {round(line.get_ydata()[0], 1) for line in axes.get_lines() if line.get_label() == ANCHOR_LABEL}


def margin_names(axes):
    return [text.get_text() for text in axes.texts if tuple(text.xy) == (1.0, 0.5)]  # name_beyond's are at 0.985


def test_a_panel_draws_each_anchor_of_its_game_as_a_line_named_in_its_margin():
    """Pong's methods score −20 to 20: SPR (−5.4) and random (−20.7) are lines named level with them, BBF (16.7)
    too; MsPacman has no anchor and draws nothing extra. Far above the methods (a BBF of 13,341 on a game scoring
    near 100) an anchor is named with an arrow at the margin's top and leaves the y-range to the runs."""
    style.theme()
    scores = {("Pong", "dqfd"): [-20.0, -10.0, 0.0, 10.0, 20.0]}
    figure = curves.learning_curves_figure(*matrix(["dqfd"], scores=scores), BASELINES, ["dqfd"], 4, 7.0, PONG)
    pong, mspacman = panel(figure, "Pong"), panel(figure, "MsPacman")
    assert anchor_lines(pong) == {-20.7, -5.4, 16.7}
    assert sorted(margin_names(pong)) == ["BBF", "SPR", "random"]
    assert not anchor_lines(mspacman) and not margin_names(mspacman)
    assert ANCHOR_LABEL in [text.get_text() for text in figure.legends[0].get_texts()]

    far = pd.concat([PONG, anchors_table([("MsPacman", "BBF", 13341.4, "s", "p", "x", "unverified: t")])])
    style.theme()
    figure = curves.learning_curves_figure(*matrix(["dqfd"], scores=scores), BASELINES, ["dqfd"], 4, 7.0, far)
    mspacman = panel(figure, "MsPacman")
    assert margin_names(mspacman) == ["↑ BBF"] and mspacman.get_ylim()[1] < 13341.4


def test_without_anchors_a_panel_is_what_it_was():
    style.theme()
    episodes, runs = matrix(["dqfd", "pdd_dqn"])
    plain = curves.learning_curves_figure(episodes, runs, BASELINES, ["dqfd", "pdd_dqn"], 4, 7.0)
    none = curves.learning_curves_figure(episodes, runs, BASELINES, ["dqfd", "pdd_dqn"], 4, 7.0, None)
    for game in ("Pong", "MsPacman"):
        assert panel(plain, game).get_ylim() == panel(none, game).get_ylim()
        assert len(panel(plain, game).get_lines()) == len(panel(none, game).get_lines())
        assert not anchor_lines(panel(plain, game))
    assert np.allclose(plain.get_size_inches(), none.get_size_inches())
