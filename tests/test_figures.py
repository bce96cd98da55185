"""Paper-ready figures: one look per method in every config, both print widths with fonts of at least 7 points,
panels scaled to the methods' scores with far references named at the edge, intervals clipped to the scores a game
allows, and no learning-curve axis for a matrix that never interacts."""
import itertools
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import pyplot as plt
from matplotlib.collections import PolyCollection
from matplotlib.text import Text

from agents.declarations import defaults
from analysis import aggregate_plots, curves, demo_sweep, style, transfer
from analysis.anchors import read_anchors
from analysis.figure_files import figure_files
from analysis.score_range import score_range
from analysis.stats import mean_ci

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = "config/atari100k_anchors.csv"
STEPS = (100, 300, 500, 700, 900)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def matrix(methods, games=("Pong", "MsPacman"), seeds=5, scores=None, agent_steps=1000):
    """Learning episodes and runs of `methods`: per method, game and seed one episode per step of STEPS, scoring
    `scores[(game, method)][seed]` (default: 10 per method's place plus the seed). bc never interacts."""
    runs, episodes = [], []
    for (index, method), game, seed in itertools.product(enumerate(methods), games, range(seeds)):
        score = (scores or {}).get((game, method), [10.0 * index + s for s in range(seeds)])[seed]
        steps = 0 if method == "bc" else agent_steps
        runs.append({"game": game, "method": method, "seed": seed, "agent_steps": steps, "eval_score_mean": score,
                     "pretrain_updates": 0 if method == "pdd_dqn" else 50, "frame_skip": 4,
                     "demo_phase_end": 500 if method.startswith("soft_q_") else 0})
        if steps:
            episodes += [{"game": game, "method": method, "seed": seed, "agent_step": step, "episode_return": score}
                         for step in STEPS]
    return pd.DataFrame(episodes), pd.DataFrame(runs)


BASELINES = pd.DataFrame({"demonstrator_mean": [5.0, 970.0], "demonstrator_worst": [-2.0, 730.0],
                          "demonstrator_best": [10.0, 1250.0], "random_mean": [-20.0, 250.0]},
                         index=pd.Index(["Pong", "MsPacman"], name="game"))


def panel(figure, title):
    return next(axes for axes in figure.axes if axes.get_title() == title)


def mean_line_looks(figure) -> dict:
    """Method → (colour, line style, marker) of the line each method's legend entry shows."""
    legend = figure.legends[0]
    return {text.get_text().split(" ")[0]: (handle.get_color(), str(handle.get_linestyle()), handle.get_marker())
            for handle, text in zip(legend.legend_handles, legend.get_texts()) if hasattr(handle, "get_marker")
            and not text.get_text().startswith(("demonstrator", "random"))}


def test_a_method_looks_the_same_in_every_config():
    """Two configs list different methods in different orders: each method keeps its colour, line style and marker
    (a look assigned by place in the list would give dqfd bc's colour in the second)."""
    style.theme()
    first = curves.learning_curves_figure(*matrix(["dqfd", "pdd_dqn", "bc"]), BASELINES, ["dqfd", "pdd_dqn", "bc"],
                                          4, 7.0)
    second = curves.learning_curves_figure(*matrix(["bc", "soft_q", "dqfd"]), BASELINES, ["bc", "soft_q", "dqfd"], 4,
                                           7.0)
    looks, other = mean_line_looks(first), mean_line_looks(second)
    assert set(looks) == {"dqfd", "pdd_dqn", "bc"} and set(other) == {"bc", "soft_q", "dqfd"}
    for method in ("dqfd", "bc"):
        assert looks[method] == other[method], method
    assert len({look[0] for look in other.values()}) == 3


def test_every_method_the_suite_defines_has_a_look_of_its_own_and_an_unknown_one_never_takes_one():
    declared = {method: tuple(map(str, style.method_style(method).values())) for method in defaults()["methods"]}
    assert set(declared) == set(style.METHOD_LOOKS), "declare each method of agents/defaults.yaml in style.py"
    assert len(set(declared.values())) == len(declared), "two methods look alike"
    assert {style.method_style(method)["color"] for method in declared} <= set(style.TOL_MUTED.values())
    for config in ("config", "claims"):  # the headline configs: a colour each
        methods = pd.read_csv(ROOT / f"reference/{'default' if config == 'config' else config}/tables/runs.csv")[
            "method"].unique()
        assert len({style.method_style(method)["color"] for method in methods}) == len(methods), config
    unknown = [f"method_{index}" for index in range(200)] + ["dqfd_margin_0p4", "my_dqfd"]
    for method in unknown:
        look = tuple(map(str, style.method_style(method).values()))
        assert look not in declared.values() and look == tuple(map(str, style.method_style(method).values()))
    assert style.family("dqfd_margin_0p4") == "dqfd" and style.family("my_method") == "other"


def figures(width):
    """Every figure of the suite at `width`, built from small synthetic tables."""
    episodes, runs = matrix(["dqfd", "pdd_dqn", "bc", "soft_q_bc"])
    aggregates = pd.DataFrame([{"method": method, "score": score, "games": 2, "runs": 10,
                                "iqm": value, "median": value, "mean": value, "mean_ci95_low": value - 0.1,
                                "mean_ci95_high": value + 0.1}
                               for method, value in (("dqfd", 0.8), ("dqfd_no_supervised", 0.6), ("bc", 0.4))
                               for score in ("initial_normalised", "final_normalised")])
    profiles = pd.DataFrame([{"method": method, "threshold": tau, "share": share} for method in ("dqfd", "bc")
                             for tau, share in ((0.0, 1.0), (0.5, 0.6), (1.0, 0.1))])
    improvement = pd.DataFrame([{"x": "dqfd", "y": other, "score": score, "games": 2, "probability": 0.7}
                                for other in ("dqfd_no_supervised", "soft_q_pretrain")
                                for score in ("initial_normalised", "final_normalised")])
    rungs = pd.DataFrame([{"game": game, "method": method, "seed": seed, "update": update, "episodes": 3,
                           "score": 100.0 + seed, "expert_agreement": 0.5, "demo_agreement": 0.7}
                          for game in ("DemonAttack", "Pong", "Freeway") for method in ("dqfd", "bc")
                          for seed in range(2) for update in (100, 1000)])
    table = rungs.groupby(["game", "method", "update"], as_index=False)[
        ["score", "expert_agreement", "demo_agreement"]].mean().assign(demonstrator_mean=6390.0, random_mean=145.0)
    sweep = pd.DataFrame([{"game": "Freeway", "method": method, "demo_set": name, "source": "scripted",
                           "noise": noise, "episodes": 5, "transitions": 500, "demo_mean": 21.0, "seeds": 3,
                           "final_mean": 15.0, "final_ci95_low": 10.0, "final_ci95_high": 20.0, "random_mean": 0.0}
                          for method in ("dqfd", "bc") for name, noise in (("clean", 0.0), ("noisy", 0.5))])
    baselines = BASELINES
    return {
        "learning curves": curves.learning_curves_figure(episodes, runs, baselines, ["dqfd", "pdd_dqn", "bc"], 4,
                                                         width),
        "learning curves with anchors": curves.learning_curves_figure(
            episodes, runs, baselines, ["dqfd", "pdd_dqn", "bc"], 4, width, read_anchors(ROOT / ANCHORS)),
        "transition": curves.transition_figure(episodes, runs, baselines, ["soft_q_bc"], 4, width),
        "intervals": aggregate_plots.intervals_figure(aggregates, ["dqfd", "dqfd_no_supervised", "bc"], width),
        "profiles": aggregate_plots.profiles_figure(profiles, ["dqfd", "bc"], width),
        "improvement": aggregate_plots.improvement_figure(improvement, width),
        "transfer": transfer.transfer_figure(rungs, table, ["dqfd", "bc"], width),
        "demo sweep": demo_sweep.sweep_figure(sweep, ["dqfd", "bc"], "clean", width),
        "nothing to draw": curves.learning_curves_figure(episodes, runs[runs["method"] == "bc"], baselines, ["bc"], 4,
                                                         width),
        "nothing normalised": aggregate_plots.intervals_figure(aggregates.iloc[:0], ["dqfd"], width),
    }


@pytest.mark.parametrize("width", [3.5, 7.0])
def test_every_figure_is_drawn_at_its_print_width_with_every_text_at_least_7_points_and_inside_it(width, monkeypatch):
    drawn = []
    draw = Text.draw

    def record(text, renderer):  # the texts a rendering draws: tick labels beyond the view are made but not drawn
        if text.get_visible() and text.get_text().strip():
            drawn.append(text)
        return draw(text, renderer)

    monkeypatch.setattr(Text, "draw", record)
    style.theme()
    for name, figure in figures(width).items():
        assert figure.get_figwidth() == width, name
        drawn.clear()
        figure.canvas.draw()
        inside = figure.bbox.padded(1)  # a pixel of rounding
        assert drawn, name
        for text in drawn:
            assert text.get_fontsize() >= style.FONT, (name, text.get_text(), text.get_fontsize())
            box = text.get_window_extent()
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1, (
                name, text.get_text(), box, figure.bbox)


def png_size(path):
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def pdf_width(path):
    box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", path.read_bytes())
    return float(box.group(1)) / 72


def test_a_figure_is_saved_at_both_widths_as_png_and_pdf_the_same_bytes_each_time(tmp_path):
    episodes, runs = matrix(["dqfd", "bc"])
    out = tmp_path / "figures/learning_curves.png"
    curves.plot_learning_curves(episodes, runs, BASELINES, ["dqfd", "bc"], 4, out)
    files = figure_files(out)
    assert {path.name for _, path in files.values()} == {
        "learning_curves.png", "learning_curves.pdf", "learning_curves_column.png", "learning_curves_column.pdf"}
    first = {}
    for width, path in files.values():
        if path.suffix == ".png":
            assert png_size(path)[0] == round(width * style.DPI)
        else:
            assert abs(pdf_width(path) - width) < 0.01
        first[path] = path.read_bytes()
    curves.plot_learning_curves(episodes, runs, BASELINES, ["dqfd", "bc"], 4, out)
    assert all(path.read_bytes() == data for path, data in first.items()), "a rebuild changed a figure's bytes"
    assert not list(out.parent.glob(".*.tmp"))


def test_an_interval_below_the_lowest_possible_score_is_clipped_to_it():
    """Five MsPacman seeds, four scoring 0 and one 400: the t-interval reaches below 0, which no MsPacman score
    can; on Pong the band stops at 21 points, the game's highest score."""
    assert mean_ci([0.0, 0.0, 0.0, 0.0, 400.0])[1] < -100  # what an unclipped band would show
    assert score_range("Pong") == (-21.0, 21.0) and score_range("MsPacman", [90.0, 2020.0]) == (0.0, 2020.0)
    assert score_range("Skiing", [-17000.0, -3000.0]) == (-17000.0, -3000.0)
    scores = {("MsPacman", "dqfd"): [0.0, 0.0, 0.0, 0.0, 400.0], ("Pong", "dqfd"): [21.0, 21.0, 21.0, 21.0, -21.0]}
    style.theme()
    figure = curves.learning_curves_figure(*matrix(["dqfd"], scores=scores), BASELINES, ["dqfd"], 4, 7.0)
    for game, (low, high) in (("MsPacman", (0.0, 400.0)), ("Pong", (-21.0, 21.0))):
        band = next(patch for patch in panel(figure, game).collections if isinstance(patch, PolyCollection))
        ys = band.get_paths()[0].vertices[:, 1]
        assert ys.min() >= low and ys.max() <= high, (game, ys.min(), ys.max())
        assert np.isclose(ys.min(), low) or np.isclose(ys.max(), high), game  # clipped, not merely inside


def test_a_reference_far_from_the_methods_is_named_at_the_edge_and_a_near_one_drawn():
    """DemonAttack's demonstrator (6,390, episodes 2,420 to 14,200) above methods scoring near 100: the panel keeps
    the methods' range and names the demonstrator at its top edge; MsPacman's, near the methods, is in range."""
    baselines = pd.DataFrame({"demonstrator_mean": [6390.0, 970.0], "demonstrator_worst": [2420.0, 730.0],
                              "demonstrator_best": [14200.0, 1250.0], "random_mean": [145.5, 250.0]},
                             index=["DemonAttack", "MsPacman"])
    scores = {("DemonAttack", "dqfd"): [90.0, 100.0, 110.0, 120.0, 130.0],
              ("MsPacman", "dqfd"): [500.0, 600.0, 700.0, 800.0, 900.0]}
    style.theme()
    figure = curves.learning_curves_figure(*matrix(["dqfd"], ("DemonAttack", "MsPacman"), scores=scores), baselines,
                                           ["dqfd"], 4, 3.5)
    far, near = panel(figure, "DemonAttack"), panel(figure, "MsPacman")
    assert far.get_ylim()[1] < 1000
    named = [text.get_text() for text in far.texts]
    assert any("↑ demonstrator 6,390" in text and "2,420–14,200" in text for text in named), named
    assert near.get_ylim()[0] < 970.0 < near.get_ylim()[1] and not near.texts
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert {"demonstrator: mean", "random play: mean"} <= set(legend)


def test_six_methods_are_split_into_a_panel_per_family_on_one_y_range():
    methods = ["dqfd", "dqfd_no_supervised", "dqfd_no_n_step", "soft_q", "soft_q_bc", "soft_q_pretrain"]
    style.theme()
    figure = curves.learning_curves_figure(*matrix(methods), BASELINES, methods, 4, 7.0)
    titles = sorted(axes.get_title() for axes in figure.axes if axes.get_visible())
    assert titles == ["MsPacman: DQfD family", "MsPacman: soft-Q family", "Pong: DQfD family", "Pong: soft-Q family"]
    assert panel(figure, "Pong: DQfD family").get_ylim() == panel(figure, "Pong: soft-Q family").get_ylim()
    means = [line for line in panel(figure, "Pong: soft-Q family").get_lines() if line.get_label().startswith("soft")]
    assert len(means) == 3


def test_a_matrix_without_interaction_has_no_learning_curve_axis():
    episodes, runs = matrix(["dqfd", "bc"], agent_steps=0)
    style.theme()
    figure = curves.learning_curves_figure(episodes, runs, BASELINES, ["dqfd", "bc"], 4, 3.5)
    assert not figure.axes
    assert "No learning curves" in " ".join(text.get_text() for text in figure.texts)


def planned_rules(tmp_path, overlay):
    """The rules a dry run of the tiny config with `overlay` plans."""
    workdir = Path(tempfile.mkdtemp(dir=tmp_path))
    for name in ("Snakefile", "rules", "config", "envs", "report"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, workdir / name)
    (workdir / "overlay.yaml").write_text(overlay)
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--dry-run", "--configfile",
                             "config/tiny.yaml", "overlay.yaml"], cwd=workdir, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return set(re.findall(r"^rule (\w+):", result.stdout, flags=re.MULTILINE)), result.stdout


def test_the_workflow_plans_no_learning_curves_for_a_matrix_that_never_interacts_and_both_sizes_of_the_rest(tmp_path):
    rules, output = planned_rules(tmp_path, "methods: [bc]\ngames: [Pong]\n")
    assert "learning_curves" not in rules and "aggregates" in rules
    for name in ("aggregates.png", "aggregates.pdf", "aggregates_column.png", "aggregates_column.pdf"):
        assert f"results/tiny/figures/{name}" in output, name


def test_a_reference_publishes_every_file_of_a_figure(tmp_path):
    from analysis.publish import records

    for _, path in figure_files(tmp_path / "figures/aggregates.png").values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"figure")
    # The workflow's report on its last run's cells stays behind: it names this machine's logs, not the records.
    (tmp_path / "tables").mkdir()
    for name in ("failed_cells.csv", "failed_cells.md", "scores.md"):
        (tmp_path / "tables" / name).write_text("table")
    assert {path.name for path in records(tmp_path)} == {
        "aggregates.png", "aggregates.pdf", "aggregates_column.png", "aggregates_column.pdf", "scores.md"}
