"""Every table, aggregate, claim and figure from a small synthetic set of runs: the numbers equal a direct computation."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import aggregate, claims, failures
from analysis.__main__ import main as analysis_main
from analysis.collect import collect
from analysis.failures import failed_cells
from analysis.figure_files import figure_files
from analysis.scores import normalise, score_runs
from analysis import stats as stats_module
from analysis.stats import linear, mean_ci
from analysis.tables import scores_table, to_latex, to_markdown

DEMOS = pd.DataFrame({"game": ["Pong"] * 3 + ["Breakout"] * 2, "score": [21.0, 15.0, 18.0, 40.0, 60.0]})
RANDOM = pd.DataFrame({"game": ["Pong", "Pong", "Breakout"], "score": [-21.0, -19.0, 2.0]})
SPAN = {"Pong": 18.0 - (-20.0), "Breakout": 50.0 - 2.0}  # demonstrator mean − random


def synthetic_runs(dqfd_pong=(10.0, 14.0, 12.0), seeds=3):
    """dqfd, pdd_dqn and bc on Pong and Breakout: per run an evaluation score and two learning episodes per window.
    Seeds past the third repeat the first three, one point higher each round."""
    runs, episodes = [], []
    final = {("Pong", "dqfd"): dqfd_pong, ("Pong", "pdd_dqn"): (-21.0, -19.0, -20.0),
             ("Pong", "bc"): (-15.0, -13.0, -14.0), ("Breakout", "dqfd"): (30.0, 34.0, 32.0),
             ("Breakout", "pdd_dqn"): (3.0, 5.0, 4.0), ("Breakout", "bc"): (10.0, 12.0, 11.0)}
    for (game, method), scores in final.items():
        scores = [scores[seed % len(scores)] + seed // len(scores) for seed in range(seeds)]
        for seed in range(seeds):
            interacts = method != "bc"
            runs.append({"game": game, "method": method, "seed": seed, "eval_score_mean": scores[seed],
                         "agent_steps": 100 if interacts else 0, "pretrain_updates": 0 if method == "pdd_dqn" else 50,
                         "frame_skip": 4, "demo_phase_end": 0})
            if interacts:  # the first window scores 10 below the final score, the second 5 below
                for step, offset in [(20, -12.0), (50, -8.0), (70, -6.0), (100, -4.0)]:
                    episodes.append({"game": game, "method": method, "seed": seed, "agent_step": step,
                                     "episode_return": scores[seed] + offset})
    return pd.DataFrame(runs), pd.DataFrame(episodes)


@pytest.fixture
def scored():
    runs, episodes = synthetic_runs()
    return score_runs(runs, episodes, DEMOS, RANDOM, window_fraction=0.5)


def test_mean_ci_is_a_t_interval():
    values = [1.0, 2.0, 6.0]
    mean, low, high = mean_ci(values)
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / np.sqrt(3)
    assert (mean, low, high) == pytest.approx((3.0, 3.0 - half, 3.0 + half))
    assert np.isnan(mean_ci([4.0])[1]) and mean_ci([4.0])[0] == 4.0


def test_run_scores_match_a_direct_computation(scored):
    row = scored.set_index(["game", "method", "seed"]).loc[("Pong", "dqfd", 0)]
    assert row["initial"] == (10.0 - 12.0 + 10.0 - 8.0) / 2  # episodes ending at steps 20 and 50: the first half
    assert row["last_window"] == (10.0 - 6.0 + 10.0 - 4.0) / 2
    assert row["final"] == 10.0
    assert row["final_normalised"] == pytest.approx((10.0 - (-20.0)) / SPAN["Pong"])
    assert row[["demonstrator_mean", "demonstrator_worst", "demonstrator_best", "random_mean"]].tolist() == [
        18.0, 15.0, 21.0, -20.0]
    bc = scored.set_index(["game", "method", "seed"]).loc[("Breakout", "bc", 1)]
    assert bc["initial"] == bc["last_window"] == bc["final"] == 12.0  # never interacts: its evaluation stands


def test_transition_change_compares_the_windows_around_the_end_of_pretraining():
    runs = pd.DataFrame([{"game": "Pong", "method": "soft_q_pretrain", "seed": 0, "eval_score_mean": 0.0,
                          "agent_steps": 100, "demo_phase_end": 40}])
    episodes = pd.DataFrame({"game": "Pong", "method": "soft_q_pretrain", "seed": 0,
                             "agent_step": [10, 30, 40, 60, 90, 100], "episode_return": [1.0, 3.0, 5.0, -2.0, 7.0, 9.0]})
    row = score_runs(runs, episodes, DEMOS, RANDOM, window_fraction=0.25).iloc[0]
    # width 25: before = episodes ending in (15, 40] → 3, 5; after = (40, 65] → −2
    assert row["transition_change"] == -2.0 - 4.0
    assert row["transition_change_normalised"] == pytest.approx(-6.0 / SPAN["Pong"])
    assert row["initial"] == 1.0 and row["last_window"] == 8.0  # windows of 25 steps: 1 | 3, 5 | −2 | 7, 9


def test_scores_table_matches_a_direct_computation(scored):
    published = pd.DataFrame({"game": ["Pong", "Pong", "Breakout"], "method": ["dqfd", "dqfd", "dqfd"],
                              "score": [10.7, 11.0, 308.1], "metric": ["final", "best window", "final"],
                              "status": ["unverified", "verified", "unverified"]})
    table = scores_table(scored, published).set_index(["game", "method"])
    row = table.loc[("Pong", "dqfd")]
    assert row["final_mean"] == 12.0 and row["seeds"] == 3
    assert (row["final_ci95_low"], row["final_ci95_high"]) == pytest.approx(mean_ci([10.0, 14.0, 12.0])[1:])
    for score in ("initial", "last_window", "final", "percent"):
        prefix = "percent_of_demonstrator" if score == "percent" else f"{score}_mean"
        low, high = row[f"{score}_ci95_low"], row[f"{score}_ci95_high"]
        assert low < row[prefix] < high
    assert row["initial_mean"] == 12.0 - 10.0 and row["last_window_mean"] == 12.0 - 5.0
    assert row["percent_of_demonstrator"] == pytest.approx(100 * (12.0 + 20.0) / SPAN["Pong"])
    assert row["published"] == 11.0 and row["published_status"] == "verified"  # verified wins over a transcription
    assert np.isnan(table.loc[("Pong", "bc"), "published"])
    markdown = to_markdown(table.reset_index(), 0.5)
    assert "| Pong | dqfd | 3 | 2.0 [" in markdown and "308.1*" in markdown and "| 11.0 |" in markdown
    latex = to_latex(table.reset_index(), 0.5)
    assert r"pdd\_dqn" in latex and "[$-$" in latex and latex.count(r"\\") == len(table) + 1 and "308.1*" in latex


NO_PUBLISHED = pd.DataFrame(columns=["game", "method", "published"])


def test_aggregates_give_the_mean_over_games_an_interval_and_the_pooled_statistics_none(scored):
    result = aggregate.aggregate_table(scored, ["dqfd", "bc"], ["final_normalised"])
    dqfd = result.set_index("method").loc["dqfd"]
    pooled = scored.loc[scored["method"] == "dqfd", "final_normalised"].to_numpy()
    assert dqfd["iqm"] == pytest.approx(stats.trim_mean(pooled, 0.25))
    assert dqfd["median"] == pytest.approx(np.median(pooled))
    games = aggregate.by_game(scored, "dqfd", "final_normalised")
    assert dqfd["mean"] == pytest.approx(np.mean([runs.mean() for runs in games]))  # each game weighted equally
    expected = linear([(0.5, runs) for runs in games]).interval(0.95)
    assert (dqfd["mean_ci95_low"], dqfd["mean_ci95_high"]) == pytest.approx(expected)
    assert "iqm_ci95_low" not in result and (dqfd["games"], dqfd["runs"]) == (2, 6)


def test_performance_profile_and_probability_of_improvement_by_hand():
    table = pd.DataFrame({"game": ["A", "A", "B", "B"], "method": "m", "final_normalised": [0.2, 0.8, 0.5, 1.5]})
    profile = aggregate.performance_profile(table, "m", "final_normalised", np.array([0.0, 0.6, 1.0]))
    assert profile["share"].tolist() == [1.0, (0.5 + 0.5) / 2, (0.0 + 0.5) / 2]  # each game weighted equally
    x, y = [np.array([1.0, 3.0]), np.array([5.0])], [np.array([2.0, 2.0]), np.array([5.0, 4.0])]
    # game 1: pairs (1,2),(1,2),(3,2),(3,2) → 2 of 4; game 2: (5,5) tie = ½, (5,4) = 1 → 0.75
    assert aggregate.probability_of_improvement(x, y) == pytest.approx((0.5 + 0.75) / 2)


def test_claim_verdicts_follow_the_interval_of_the_difference_and_flip_when_the_data_flip():
    runs, episodes = synthetic_runs()
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5)
    summary, details = claims.Ledger(scored, NO_PUBLISHED, DEMOS).evaluate()
    rows = summary.set_index("claim")
    assert rows.loc["dqfd_beats_pdd_dqn_early", "verdict"] == "supported"
    assert rows.loc["no_supervised_loss_lowers_early", "verdict"] == "not run"
    assert rows.loc["dqfd_beats_pdd_dqn_early_greedy", "note"].startswith("needs greedy evaluation")
    assert rows.loc["dqfd_reaches_published", "verdict"] == "not run"  # no published number for these games
    assert not any("best" in key or "worst" in key for key in rows.index)  # never a single demo episode
    row = rows.loc["dqfd_beats_pdd_dqn_early"]
    assert row["seeds"] == 3 and row["games"] == 2
    # across games: the mean over games of each game's normalised difference (initial = final − 10 here)
    left = {"Pong": np.array([0.0, 4.0, 2.0]), "Breakout": np.array([20.0, 24.0, 22.0])}
    right = {"Pong": np.array([-31.0, -29.0, -30.0]), "Breakout": np.array([-7.0, -5.0, -6.0])}
    terms = [(sign / (2 * SPAN[game]), side[game]) for game in ("Pong", "Breakout")
             for sign, side in ((1.0, left), (-1.0, right))]
    expected = linear(terms)
    assert row["difference"] == pytest.approx(expected.value) and row["p_value"] == pytest.approx(expected.p_value())
    assert (row["difference_low"], row["difference_high"]) == pytest.approx(expected.interval(row["level"]))
    assert row["left_mean"] == pytest.approx(np.mean([(left[g].mean() - {"Pong": -20.0, "Breakout": 2.0}[g])
                                                       / SPAN[g] for g in SPAN]))
    # one family: Holm over every tested claim, the first step at 0.05 / its size
    tested = summary[summary["p_value"].notna()]
    assert (summary["family_size"] == len(tested)).all()
    assert tested["level"].max() == pytest.approx(1 - 0.05 / len(tested))
    # per game: a breakdown in raw scores with its 95% Welch interval, never a verdict of its own
    pong = details.set_index(["claim", "game"]).loc[("dqfd_beats_pdd_dqn_early", "Pong")]
    assert (pong["left_mean"], pong["right_mean"]) == (2.0, -30.0)
    assert (pong["difference_low"], pong["difference_high"]) == pytest.approx(
        linear([(1.0, left["Pong"]), (-1.0, right["Pong"])]).interval(0.95))
    assert "verdict" not in details or details["verdict"].isna().all()
    # the demonstrator is the sample of its episodes: its spread enters the difference
    demo = details.set_index(["claim", "game"]).loc[("dqfd_beats_demonstrator", "Breakout")]
    assert demo["right_mean"] == 50.0 and demo["right_n"] == "2" and demo["right_ci95_low"] < 50.0

    # DQfD now scores below PDD-DQN everywhere: the same claim is contradicted.
    flipped = runs.copy()
    swap = {"dqfd": "pdd_dqn", "pdd_dqn": "dqfd"}
    flipped["method"] = flipped["method"].map(lambda m: swap.get(m, m))
    flipped_episodes = episodes.assign(method=episodes["method"].map(lambda m: swap.get(m, m)))
    summary, _ = claims.Ledger(score_runs(flipped, flipped_episodes, DEMOS, RANDOM, 0.5), NO_PUBLISHED,
                               DEMOS).evaluate()
    assert summary.set_index("claim").loc["dqfd_beats_pdd_dqn_early", "verdict"] == "contradicted"


def test_one_seed_a_side_says_so_in_the_row():
    runs, episodes = synthetic_runs(seeds=1)
    summary, details = claims.Ledger(score_runs(runs, episodes, DEMOS, RANDOM, 0.5), NO_PUBLISHED, DEMOS).evaluate()
    row = summary.set_index("claim").loc["dqfd_beats_pdd_dqn_early"]
    assert row["verdict"] == claims.TOO_FEW and np.isnan(row["p_value"]) and np.isnan(row["detectable_80"])
    markdown = claims.to_markdown(summary, details, 0.05)
    assert f"**{claims.TOO_FEW}**" in markdown and "of 0 verdicts" not in markdown


def test_opposite_games_are_flagged():
    per_game = [{"game": "A", "difference": 2.0, "difference_low": 1.0, "difference_high": 3.0},
                {"game": "B", "difference": -2.0, "difference_low": -3.0, "difference_high": -1.0}]
    assert claims.heterogeneity(per_game, np.array([1.0, 1.0])).startswith("games disagree: above 0 on A, below on B")
    per_game[1].update(difference_low=-3.0, difference_high=0.5)
    assert "differ in sign" in claims.heterogeneity(per_game, np.array([1.0, 1.0]))
    per_game[1].update(difference=-0.004)  # ±0.00 as printed takes no side
    assert claims.heterogeneity(per_game, np.array([1.0, 1.0])) == ""


def write_run(folder, game, method, seed, score, demos="scripted_noise0_ep5"):
    run = folder / f"runs/{game}/{method}/{demos}/seed_{seed}"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({
        "game": game, "method": method, "seed": seed, "eval_score_mean": score, "agent_steps": 100,
        "pretrain_updates": 0, "frame_skip": 4, "demos": None, "status": "complete"}))
    pd.DataFrame({"kind": ["episode", "updates", "episode"], "agent_step": [40, 50, 90],
                  "episode_return": [score - 2, np.nan, score]}).to_csv(run / "progress.csv", index=False)


def test_missing_and_unfinished_runs_are_listed_not_dropped(tmp_path):
    write_run(tmp_path, "Pong", "dqfd", 0, 5.0)
    unfinished = tmp_path / "runs/Pong/dqfd/scripted_noise0_ep5/seed_1"
    unfinished.mkdir(parents=True)
    (unfinished / "progress.live.csv").write_text("kind,agent_step\n")
    (tmp_path / "logs/train").mkdir(parents=True)
    (tmp_path / "logs/train/Pong_dqfd_scripted_noise0_ep5_seed_1.log").write_text(
        "training\nerror: loss is NaN at update 7\n")
    # killed mid-run (or still running in another Snakemake process): its log holds progress lines and no error
    (tmp_path / "logs/train/Pong_dqfd_scripted_noise0_ep5_seed_2.log").write_text(
        "training\nagent step 20,000 of 100,000, checkpoint written\n")
    cells = [("Pong", "dqfd", "scripted_noise0_ep5", 0), ("Pong", "dqfd", "scripted_noise0_ep5", 1),
             ("Pong", "dqfd", "scripted_noise0_ep5", 2), ("Pong", "bc", "scripted_noise0_ep5", 0)]
    runs, episodes, *_ = collect(tmp_path, cells, [], "scripted_noise0_ep5")
    assert len(runs) == 1 and episodes["episode_return"].tolist() == [3.0, 5.0]
    missing = failed_cells(tmp_path, cells).set_index(["method", "seed"])
    assert missing.loc[("dqfd", 1), "reason"] == "error: loss is NaN at update 7"
    assert missing.loc[("dqfd", 1), "status"] == "failed"
    assert missing.loc[("dqfd", 2), "status"] == "stopped"
    assert missing.loc[("dqfd", 2), "reason"].startswith("no error in its training log")
    assert missing.loc[("bc", 0), "status"] == "not run"
    assert missing.loc[("bc", 0), "reason"].startswith("no training log")
    assert failures.to_markdown(failed_cells(tmp_path, cells), len(cells)).startswith(
        "3 of 4 cells have no complete run: 1 failed, 1 stopped, 1 not run.")


def test_every_figure_and_table_builds_from_the_command_line(tmp_path):
    """The workflow's analysis steps end to end on synthetic runs; each figure is a PNG and a PDF at each width."""
    runs, episodes = synthetic_runs()
    runs.loc[runs["method"] == "pdd_dqn", "demo_phase_end"] = 40  # stands in for soft-Q's N_p
    paths = {name: tmp_path / f"{name}.csv" for name in ("runs", "episodes", "demos", "random", "scores", "greedy")}
    pd.DataFrame({"game": "Pong", "method": "dqfd", "seed": 0, "agent_step": [50], "score": [7.0]}).to_csv(
        paths["greedy"], index=False)
    runs.to_csv(paths["runs"], index=False)
    episodes.to_csv(paths["episodes"], index=False)
    DEMOS.to_csv(paths["demos"], index=False)
    RANDOM.to_csv(paths["random"], index=False)
    out = {name: str(tmp_path / name) for name in (
        "t.csv", "t.md", "t.tex", "a.csv", "a.md", "p.csv", "i.csv", "a.png", "p.png", "i.png", "c.csv", "cd.csv",
        "c.md", "curves.png", "transition.png", "greedy.png")}
    methods = "dqfd,pdd_dqn,bc"
    for argv in (
        ["scores", "--runs", paths["runs"], "--episodes", paths["episodes"], "--demonstrators", paths["demos"],
         "--random", paths["random"], "--window-fraction", "0.5", "--out", paths["scores"], "--interaction-evals",
         paths["greedy"]],
        ["table", "--scores", paths["scores"], "--csv", out["t.csv"], "--markdown", out["t.md"], "--latex",
         out["t.tex"], "--window-fraction", "0.5"],
        ["aggregate", "--scores", paths["scores"], "--methods", methods, "--csv", out["a.csv"], "--markdown",
         out["a.md"], "--profiles", out["p.csv"], "--improvement", out["i.csv"], "--intervals-figure", out["a.png"],
         "--profiles-figure", out["p.png"], "--improvement-figure", out["i.png"]],
        ["claims", "--scores", paths["scores"], "--demonstrators", paths["demos"], "--csv", out["c.csv"], "--details",
         out["cd.csv"], "--markdown", out["c.md"]],
        ["curves", "--episodes", paths["episodes"], "--runs", paths["runs"], "--scores", paths["scores"],
         "--methods", methods, "--bins", "4", "--out", out["curves.png"]],
        ["transition", "--episodes", paths["episodes"], "--runs", paths["runs"], "--scores", paths["scores"],
         "--methods", "pdd_dqn", "--bins", "4", "--out", out["transition.png"]],
        ["greedy-curves", "--interaction-evals", paths["greedy"], "--runs", paths["runs"], "--scores",
         paths["scores"], "--methods", methods, "--bins", "4", "--out", out["greedy.png"]],
    ):
        assert analysis_main([str(arg) for arg in argv]) == 0
    for name, path in out.items():
        if name.endswith(".png"):  # each figure at both widths, as PNG and PDF
            for _, drawn in figure_files(path).values():
                assert drawn.read_bytes()[:4] == (b"\x89PNG" if drawn.suffix == ".png" else b"%PDF"), drawn
    improvement = pd.read_csv(out["i.csv"]).set_index(["x", "y", "score"])
    assert improvement.loc[("dqfd", "pdd_dqn", "final_normalised"), "probability"] == 1.0
    assert "P(dqfd > bc)" in open(out["a.md"]).read()
    assert "**supported**" in open(out["c.md"]).read()
    assert pd.read_csv(paths["scores"])["initial_greedy"].notna().sum() == 1 + 6, "Pong/dqfd/0 and the bc runs"


def test_every_tested_ledger_row_states_its_power():
    runs, episodes = synthetic_runs(seeds=3)
    summary, details = claims.Ledger(score_runs(runs, episodes, DEMOS, RANDOM, 0.5), NO_PUBLISHED, DEMOS).evaluate()
    tested = summary[summary["p_value"].notna()]
    assert len(tested) >= 4 and tested["detectable_80"].gt(0).all() and tested["seeds_for_80"].notna().all()
    row = summary.set_index("claim").loc["dqfd_beats_pdd_dqn_early"]
    assert row["seeds_for_80"] == stats_module.MIN_SEEDS  # decided with room to spare: the floor
    markdown = claims.to_markdown(summary, details, 0.05)
    assert "80% power: detectable difference" in markdown
    assert f"The ledger's {len(tested)} verdicts are one family" in markdown and "Holm" in markdown


def test_transfer_table_reads_the_ladder_and_the_top_rung(tmp_path):
    from analysis.scores import baselines
    from analysis.transfer import plot_transfer, rung_rows, to_markdown, transfer_table

    runs = []
    for seed, (low, top) in enumerate([(-20.0, 4.0), (-18.0, 8.0)]):
        folder = tmp_path / f"seed_{seed}"
        folder.mkdir()
        pd.DataFrame({"update": [100, 100], "episode": [0, 1], "score": [low, low + 2], "length": [9, 9],
                      "ended_by": "terminal", "expert_agreement": [0.2, 0.4],
                      "demo_agreement": [0.9, 0.9]}).to_csv(folder / "pretrain_eval.csv", index=False)
        pd.DataFrame({"episode": [0], "score": [top], "length": [9], "ended_by": "terminal",
                      "expert_agreement": [0.8]}).to_csv(folder / "eval.csv", index=False)
        runs.append({"game": "Pong", "method": "bc", "seed": seed, "run_dir": str(folder), "agent_steps": 0,
                     "pretrain_updates": 200, "eval_demo_agreement": 0.95})
    rungs = rung_rows(pd.DataFrame(runs))
    assert rungs[["seed", "update", "episodes"]].values.tolist() == [[0, 100, 2], [0, 200, 1], [1, 100, 2],
                                                                     [1, 200, 1]]
    assert rungs["score"].tolist() == [-19.0, 4.0, -17.0, 8.0]
    table = transfer_table(rungs, baselines(DEMOS, RANDOM)).set_index("update")
    assert table.loc[100, "score"] == -18.0 and table.loc[200, "score"] == 6.0
    assert table.loc[100, "expert_agreement"] == pytest.approx(0.3) and table.loc[200, "demo_agreement"] == 0.95
    half = stats.t.ppf(0.975, 1) * np.std([-19.0, -17.0], ddof=1) / np.sqrt(2)
    assert table.loc[100, "score_ci95_high"] == pytest.approx(-18.0 + half)
    assert table.loc[200, "score_normalised"] == pytest.approx((6.0 + 20.0) / SPAN["Pong"])
    assert "| Pong | bc | 200 | 2 |" in to_markdown(table.reset_index())
    plot_transfer(rungs, table.reset_index(), ["dqfd", "bc"], tmp_path / "transfer.png")
    assert (tmp_path / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_study_none_of_whose_ladder_runs_has_finished_gets_an_empty_transfer_table(tmp_path):
    """A partial study (its ladder methods not run yet): the table keeps its columns, and neither its markdown nor its
    figure fails."""
    from analysis.scores import baselines
    from analysis.transfer import plot_transfer, rung_rows, to_markdown, transfer_table

    rungs = rung_rows(pd.DataFrame(columns=["game", "method", "seed", "run_dir", "agent_steps", "pretrain_updates"]))
    table = transfer_table(rungs, baselines(DEMOS, RANDOM))
    assert table.empty and {"method", "score_normalised", "score_normalised_ci95_low"} <= set(table.columns)
    assert to_markdown(table).startswith("| game | method | pretraining updates |")
    plot_transfer(rungs, table, ["dqfd", "bc"], tmp_path / "transfer.png")
    assert (tmp_path / "transfer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_default_design_rule_picks_the_budget_and_the_games():
    """Four games, three seeds each, normalised scores per seed at two rungs; worked by hand."""
    from analysis.transfer import default_design, design_markdown, transfer_table

    baseline = pd.DataFrame({"demonstrator_mean": [1.0] * 4, "random_mean": [0.0] * 4},
                            index=pd.Index(["A", "B", "C", "D"], name="game"))
    seeds = {("A", 100): (0.6, 0.7, 0.8),   # carries over at both rungs
             ("A", 200): (0.9, 1.0, 1.1),
             ("B", 100): (-0.9, 1.0, 2.0),  # mean 0.7 but the interval reaches below 0: not yet
             ("B", 200): (0.5, 0.6, 0.7),   # carries over
             ("C", 100): (0.1, 0.2, 0.3),
             ("C", 200): (0.3, 0.4, 0.5),   # mean 0.4 < 0.5: does not carry over
             ("D", 100): (0.0, 0.1, 0.2),
             ("D", 200): (0.0, 0.1, 0.2)}   # the lowest at the budget: the control game
    rungs = pd.DataFrame([{"game": game, "method": "dqfd", "seed": seed, "update": update, "episodes": 3,
                           "score": value, "expert_agreement": 0.5, "demo_agreement": 0.9}
                          for (game, update), values in seeds.items() for seed, value in enumerate(values)])
    table = transfer_table(rungs, baseline)
    b100 = table[(table["game"] == "B") & (table["update"] == 100)].iloc[0]
    half = stats.t.ppf(0.975, 2) * np.std([-0.9, 1.0, 2.0], ddof=1) / np.sqrt(3)
    assert b100["score_normalised_ci95_low"] == pytest.approx(0.7 - half) and 0.7 - half < 0
    design = default_design(table)
    assert design["carrying"] == {100: ["A"], 200: ["A", "B"]}
    assert design["budget"] == 200 and design["games"] == ["A", "B", "D"] and design["control"] == "D"
    assert design["filled"] == [] and design["seeds"] == 3
    assert "P = 200 updates. Games: A, B carrying over; D, the game" in "\n".join(design_markdown(design))
    # With only one game ever carrying over, P is the top rung and the best non-carrying game fills the place.
    one = default_design(table[table["game"] != "B"])
    assert one["budget"] == 200 and one["games"] == ["A", "C", "D"] and one["filled"] == ["C"]
    # A demonstrator below random play gives no unit: game A gets no normalised score and leaves the design.
    flipped = transfer_table(rungs, baseline.assign(demonstrator_mean=[-1.0, 1.0, 1.0, 1.0]))
    a = flipped[flipped["game"] == "A"]
    assert a[["score_normalised", "score_normalised_ci95_low", "score_normalised_ci95_high"]].isna().all().all()
    assert default_design(flipped)["carrying"] == {100: [], 200: ["B"]}
    assert "A" not in default_design(flipped)["games"]


def test_a_run_that_ended_no_episode_is_scored_without_one(tmp_path):
    """An interaction too short to finish an episode: its progress table has loss rows only."""
    write_run(tmp_path, "Pong", "dqfd", 0, 5.0)
    pd.DataFrame({"kind": ["updates"], "agent_step": [50], "loss": [0.3]}).to_csv(
        tmp_path / "runs/Pong/dqfd/scripted_noise0_ep5/seed_0/progress.csv", index=False)
    runs, episodes, *_ = collect(tmp_path, [("Pong", "dqfd", "scripted_noise0_ep5", 0)], [], "scripted_noise0_ep5")
    assert episodes.empty and "episode_return" in episodes
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5).iloc[0]
    assert np.isnan(scored["initial"]) and scored["final"] == 5.0


@pytest.mark.parametrize("seeds", [2, 5])
def test_learning_curves_show_few_seeds_as_seeds_and_many_as_a_band(seeds):
    from matplotlib.collections import PolyCollection

    from analysis import curves
    from analysis.scores import per_game

    runs, episodes = synthetic_runs(seeds=seeds)
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5)
    figure = curves.learning_curves_figure(episodes, runs, per_game(scored), ["dqfd", "pdd_dqn", "bc"], 4, 7.0)
    pong = next(axes for axes in figure.axes if axes.get_title() == "Pong")
    thin = [line for line in pong.get_lines() if line.get_linewidth() < 1 and line.get_alpha() == curves.SEED_ALPHA]
    bands = [patch for patch in pong.collections if isinstance(patch, PolyCollection)]
    if seeds < curves.FEW_SEEDS:  # a thin line per seed of dqfd, pdd_dqn and bc, no band
        assert len(thin) == 3 * seeds and not bands
    else:
        assert not thin and len(bands) == 2  # the two interacting methods
    labels = [line.get_label() for line in pong.get_lines()]
    styles = {line.get_label(): (line.get_linestyle(), line.get_marker()) for line in pong.get_lines()
              if line.get_label().startswith(("dqfd", "pdd_dqn"))}
    assert len(set(styles.values())) == 2, "methods differ in line style and marker, not only in colour"
    assert f"dqfd (n={seeds}; 50 pretraining updates)" in labels, labels


def test_greedy_curves_put_each_evaluation_at_the_agent_step_it_was_taken():
    """Greedy evaluations at 30 and 90 agent steps (two seeds): dqfd's mean line has its points at exactly those
    steps, with the mean over seeds of each seed's mean there; bc, which never interacts, is its evaluation score."""
    from analysis import curves
    from analysis.scores import per_game

    assert curves.around(np.array([90, 30, 30])).tolist() == [0.0, 60.0, 120.0]
    runs, episodes = synthetic_runs(seeds=2)
    evaluations = pd.DataFrame([{"game": "Pong", "method": "dqfd", "seed": seed, "agent_step": step, "episode": episode,
                                 "score": step / 10 + seed + episode, "length": 50}
                                for seed in (0, 1) for step in (30, 90) for episode in (0, 1)])
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5)
    figure = curves.learning_curves_figure(curves.evaluations_as_episodes(evaluations), runs, per_game(scored),
                                           ["dqfd", "bc"], 4, 7.0, greedy=True)
    pong = next(axes for axes in figure.axes if axes.get_title() == "Pong")
    dqfd = next(line for line in pong.get_lines() if line.get_label().startswith("dqfd"))
    assert dqfd.get_xdata().tolist() == [30.0, 90.0]
    assert dqfd.get_ydata().tolist() == [3.0 + 0.5 + 0.5, 9.0 + 0.5 + 0.5]
    assert any(line.get_label().startswith("bc") for line in pong.get_lines())


def test_a_step_bin_that_few_seeds_reach_shows_those_seeds_not_a_band():
    """Five seeds, but only two end an episode in the last bin: the band stops before it, the two values are points
    there, and the y-range holds what is drawn rather than a t-interval 12.7 standard errors wide."""
    from matplotlib.collections import PathCollection, PolyCollection

    from analysis import curves
    from analysis.scores import per_game

    runs, episodes = synthetic_runs(seeds=5)
    late = (episodes["agent_step"] == 100) & (episodes["seed"] >= 2)
    episodes = episodes[~late].copy()
    episodes.loc[(episodes["agent_step"] == 100) & (episodes["seed"] == 1), "episode_return"] += 200.0
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5)
    figure = curves.learning_curves_figure(episodes, runs, per_game(scored), ["dqfd", "pdd_dqn"], 4, 7.0)
    pong = next(axes for axes in figure.axes if axes.get_title() == "Pong")
    bands = [patch for patch in pong.collections if isinstance(patch, PolyCollection)]
    points = [dots for dots in pong.collections if isinstance(dots, PathCollection)]
    assert len(bands) == 2 and all(band.get_paths()[0].vertices[:, 0].max() < 87.5 for band in bands)
    dqfd_points = sorted(points[0].get_offsets()[:, 1].tolist())  # dqfd's last bin: seeds 0 and 1
    assert len(points) == 2 and dqfd_points == [10.0 - 4.0, 14.0 - 4.0 + 200.0]
    values = [10.0 - 4.0, 14.0 - 4.0 + 200.0]
    half_width = stats.t.ppf(0.975, 1) * np.std(values, ddof=1) / np.sqrt(2)
    assert pong.get_ylim()[1] < np.mean(values) + half_width / 2


def test_the_demo_sweep_reads_each_sets_knobs_from_its_values_never_from_its_name(tmp_path):
    """Set names here say nothing of their knobs: the noise and the episodes come from the demo stats' values."""
    from analysis.collect import demo_set_table, demo_stats
    from analysis.demo_sweep import knobs, plot_sweep, sweep_table
    from analysis.demo_sweep import to_markdown as sweep_markdown

    paths = []
    for name, noise, scores in (("clean", 0.0, [20.0, 22.0]), ("noisy", 0.5, [8.0, 10.0]), ("short", 0.0, [21.0])):
        paths.append(tmp_path / f"{name}.stats.csv")
        pd.DataFrame({"episode": range(len(scores)), "score": scores, "length": 100, "ended_by": "terminal",
                      "game": "Freeway", "source": "scripted", "demonstrator": "freeway_walk_up_v1",
                      "noise": noise}).to_csv(paths[-1], index=False)
    sets = demo_set_table(demo_stats([str(path) for path in paths]))
    assert sets.set_index("demo_set")[["noise", "episodes"]].to_dict("index") == {
        "clean": {"noise": 0.0, "episodes": 2}, "noisy": {"noise": 0.5, "episodes": 2},
        "short": {"noise": 0.0, "episodes": 1}}
    runs = pd.DataFrame({"game": "Freeway", "method": "bc", "demo_set": ["clean", "clean", "noisy", "noisy", "short"],
                         "seed": [0, 1, 0, 1, 0], "eval_score_mean": [21.0, 21.0, 20.0, 22.0, 5.0]})
    table = sweep_table(runs, sets, pd.DataFrame({"game": ["Freeway"], "score": [0.0]}))
    panels = {title: (x, set(rows["demo_set"])) for title, x, rows in knobs(table, "clean")}
    assert panels == {"demo quality: action noise": ("noise", {"clean", "noisy"}),
                      "demo quantity: episodes": ("episodes", {"clean", "short"})}
    assert "| Freeway | bc | noisy | scripted | 0.5 | 2 | 200 | 9.0 |" in sweep_markdown(table)
    plot_sweep(table, ["bc"], "clean", tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_two_claims_on_the_same_numbers_are_one_test():
    runs, episodes = synthetic_runs()
    runs.loc[runs["method"] == "dqfd", "agent_steps"] = 0  # pretraining only: its initial score is its final one
    summary, _ = claims.Ledger(score_runs(runs, episodes[episodes["method"] != "dqfd"], DEMOS, RANDOM, 0.5),
                               NO_PUBLISHED, DEMOS).evaluate()
    rows = summary.set_index("claim")
    assert rows.loc["dqfd_beats_imitation", "note"].startswith("the same numbers as dqfd_initial_beats_imitation")
    assert rows.loc["dqfd_beats_imitation", "verdict"] == rows.loc["dqfd_initial_beats_imitation", "verdict"]
    tested = rows[rows["p_value"].notna()]
    assert (rows["family_size"] == len(tested) - 1).all()  # counted once


X_BEATS_Y = claims.Claim("final", "test", "x beats y", claims.Side("x", "final"), claims.Side("y", "final"))


def two_method_ledger(scores, baselines, episodes, claims_to_test=(X_BEATS_Y,)):
    """The ledger of methods x and y: per game their seeds' scores ({game: {method: values}}, initial = final), the
    game's (demonstrator mean, random mean) and the demonstrator's episodes."""
    rows = [{"game": game, "method": method, "seed": seed, "final": value, "initial": value,
             "demonstrator_mean": baselines[game][0], "random_mean": baselines[game][1]}
            for game, methods in scores.items() for method, values in methods.items()
            for seed, value in enumerate(values)]
    demos = pd.DataFrame([{"game": game, "score": score} for game, values in episodes.items() for score in values])
    return claims.Ledger(pd.DataFrame(rows), NO_PUBLISHED, demos).evaluate(list(claims_to_test))


def test_two_claims_on_the_same_numbers_are_one_test_when_a_seed_is_missing():
    seeds = {"x": [60.0, 61.0, 62.0, np.nan], "y": [50.0, 51.0, 52.0, 53.0]}
    initial = claims.Claim("initial", "test", "x beats y", claims.Side("x", "initial"), claims.Side("y", "final"))
    summary, _ = two_method_ledger({"A": seeds, "B": seeds}, {"A": (100.0, 0.0), "B": (100.0, 0.0)},
                                   {"A": [90.0, 100.0, 110.0], "B": [90.0, 100.0, 110.0]}, (X_BEATS_Y, initial))
    assert summary.set_index("claim").loc["initial", "note"].startswith("the same numbers as final")
    assert (summary["family_size"] == 1).all()


def test_a_game_whose_demonstrator_scores_below_random_play_has_no_unit():
    # x beats y by 10 on both games; on B the demonstrator (10) is below random play (20): a negative span would turn
    # B's difference around and the across-game verdict with it.
    summary, details = two_method_ledger(
        {"A": {"x": [60.0, 61.0, 62.0], "y": [50.0, 51.0, 52.0]},
         "B": {"x": [30.0, 31.0, 32.0], "y": [20.0, 21.0, 22.0]}},
        {"A": (100.0, 0.0), "B": (10.0, 20.0)}, {"A": [90.0, 100.0, 110.0], "B": [9.0, 10.0, 11.0]})
    row = summary.iloc[0]
    assert row["note"] == claims.NO_UNIT and row["verdict"] != "contradicted"
    assert details["difference"].tolist() == pytest.approx([10.0, 10.0])  # per game, raw: unchanged
    baselines = pd.DataFrame({"demonstrator_mean": [100.0, 10.0], "random_mean": [0.0, 20.0]}, index=["A", "B"])
    assert np.isnan(normalise([50.0, 50.0], baselines, ["A", "B"])).tolist() == [False, True]


def test_a_comparison_without_any_spread_is_not_tested():
    # Every seed of x scores 1 and every seed of y 0 on both games: a t-test would give p = 0 at any seed count.
    constant = {"x": [1.0, 1.0, 1.0], "y": [0.0, 0.0, 0.0]}
    summary, details = two_method_ledger({"A": constant, "B": constant}, {"A": (10.0, 0.0), "B": (10.0, 0.0)},
                                         {"A": [9.0, 10.0, 11.0], "B": [9.0, 10.0, 11.0]})
    assert summary.iloc[0]["verdict"] == claims.NO_SPREAD and summary.iloc[0]["family_size"] == 0
    assert details["p_value"].isna().all() and (details["note"] == claims.NO_SPREAD).all()


def test_probability_of_improvement_pairs_each_game_with_itself():
    # x has scores on A only, y on B only: no game holds both, so there is no comparison (not x on A against y on B).
    table = pd.DataFrame({"game": ["A"] * 6 + ["B"] * 6, "method": (["x"] * 3 + ["y"] * 3) * 2,
                          "score": [10.0, 11.0, 12.0] + [np.nan] * 6 + [100.0, 101.0, 102.0]})
    assert aggregate.improvement_table(table, [("x", "y")], "score").empty
    table.loc[(table["game"] == "A") & (table["method"] == "y"), "score"] = [1.0, 2.0, 30.0]
    row = aggregate.improvement_table(table, [("x", "y")], "score").iloc[0]
    assert (row["games"], row["probability"]) == (1, pytest.approx(6 / 9))  # game A alone

# ------------------------------------------------------------------- greedy evaluations and evaluation episodes
def test_initial_greedy_is_the_mean_of_the_greedy_evaluations_in_the_initial_window():
    runs, episodes = synthetic_runs()
    # Pong/dqfd seed 0 (100 agent steps, window 50): evaluations at 25 and 50 inside, at 75 and 100 outside; seed 1
    # evaluated only after its initial window; seed 2 never.
    greedy = pd.DataFrame({"game": "Pong", "method": "dqfd", "seed": [0] * 8 + [1] * 2,
                           "agent_step": [25, 25, 50, 50, 75, 75, 100, 100, 75, 75],
                           "score": [1.0, 3.0, 6.0, 10.0, 100.0, 100.0, 100.0, 100.0, 5.0, 5.0]})
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5, greedy).set_index(["game", "method", "seed"])
    assert scored.loc[("Pong", "dqfd", 0), "initial_greedy"] == ((1.0 + 3.0) / 2 + (6.0 + 10.0) / 2) / 2
    assert np.isnan(scored.loc[("Pong", "dqfd", 1), "initial_greedy"])
    assert np.isnan(scored.loc[("Pong", "dqfd", 2), "initial_greedy"])
    assert np.isnan(scored.loc[("Pong", "pdd_dqn", 0), "initial_greedy"])
    assert scored.loc[("Pong", "dqfd", 0), "initial_greedy_normalised"] == pytest.approx((5.0 + 20.0) / SPAN["Pong"])
    assert scored.loc[("Breakout", "bc", 1), "initial_greedy"] == 12.0, "never interacts: its evaluation stands"
    # The other scores are what they are without greedy evaluations.
    plain = score_runs(runs, episodes, DEMOS, RANDOM, 0.5).set_index(["game", "method", "seed"])
    pd.testing.assert_frame_equal(plain.drop(columns=["initial_greedy", "initial_greedy_normalised"]),
                                  scored.drop(columns=["initial_greedy", "initial_greedy_normalised"]))
    interacting = plain.index.get_level_values("method") != "bc"
    assert plain.loc[interacting, "initial_greedy"].isna().all(), "no greedy evaluation, no initial_greedy"


def test_the_score_table_counts_the_evaluation_episodes_at_the_time_limit_and_the_distinct_ones(scored):
    scored = scored.assign(eval_episodes=5, eval_time_limit_episodes=0, eval_distinct_episodes=5,
                           eval_distinct_by="noops")
    pdd_pong = (scored["game"] == "Pong") & (scored["method"] == "pdd_dqn")
    scored.loc[pdd_pong, "eval_time_limit_episodes"] = [5, 0, 2]
    scored.loc[pdd_pong, "eval_distinct_episodes"] = [3, 5, 4]
    scored.loc[pdd_pong, "eval_distinct_by"] = "score_length"  # old records: no no-op column
    table = scores_table(scored)
    row = table.set_index(["game", "method"]).loc[("Pong", "pdd_dqn")]
    assert (row["eval_episodes"], row["eval_time_limit_episodes"], row["eval_distinct_episodes"]) == (15, 7, 12)
    assert row["eval_distinct_per_seed"] == "3 5 4" and row["eval_distinct_by"] == "score_length"
    dqfd = table.set_index(["game", "method"]).loc[("Pong", "dqfd")]
    assert (dqfd["eval_time_limit_episodes"], dqfd["eval_distinct_episodes"], dqfd["eval_distinct_by"]) == (
        0, 15, "noops")
    markdown = to_markdown(table, 0.5)
    pdd_line = next(line for line in markdown.splitlines() if line.startswith("| Pong | pdd_dqn |"))
    assert "-20.0 [" in pdd_line and "]† | 12 of 15‡ |" in pdd_line
    dqfd_line = next(line for line in markdown.splitlines() if line.startswith("| Pong | dqfd |"))
    assert "†" not in dqfd_line and "| 15 of 15 |" in dqfd_line
    assert "† Pong, pdd_dqn: 7 of 15 evaluation episodes reached the time limit" in markdown
    assert markdown.count("reached the time limit") == 1 and "‡: counted as distinct (score, length) pairs" in markdown
    assert r"\textsuperscript{\dag}" in to_latex(table, 0.5)


def test_collect_counts_distinct_evaluation_episodes_by_noop_start_or_by_score_and_length(tmp_path):
    """A run of today records each episode's no-op start; one recorded before that is told apart by score and
    length; a run without eval.csv has no counts. The greedy evaluations along interaction are gathered where a run
    has them."""
    for seed in range(3):
        write_run(tmp_path, "Pong", "dqfd", seed, 5.0)
    folder = tmp_path / "runs/Pong/dqfd/scripted_noise0_ep5"
    # Today's record: five episodes, four starts, two of them alike in score and length but another start.
    pd.DataFrame({"episode": range(5), "score": [1.0, 1.0, 2.0, 3.0, 3.0], "length": [10, 10, 12, 14, 14],
                  "ended_by": ["terminal", "terminal", "time_limit", "terminal", "terminal"],
                  "noops": [4, 9, 17, 30, 30], "expert_agreement": np.nan}).to_csv(folder / "seed_0/eval.csv",
                                                                                 index=False)
    # An old record: no noops column; two episodes coincide.
    pd.DataFrame({"episode": range(3), "score": [1.0, 1.0, 2.0], "length": [10, 10, 12],
                  "ended_by": ["time_limit"] * 3}).to_csv(folder / "seed_1/eval.csv", index=False)
    pd.DataFrame({"agent_step": [50, 50], "update": [7, 7], "episode": [0, 1], "score": [2.0, 4.0],
                  "length": [10, 11], "ended_by": "terminal", "noops": [4, 9], "expert_agreement": np.nan}).to_csv(
        folder / "seed_0/interaction_eval.csv", index=False)
    cells = [("Pong", "dqfd", "scripted_noise0_ep5", seed) for seed in range(3)]
    runs = collect(tmp_path, cells, [], "scripted_noise0_ep5")[0].set_index("seed")
    assert runs.loc[0, ["eval_time_limit_episodes", "eval_distinct_episodes", "eval_distinct_by"]].tolist() == [
        1, 4, "noops"]
    assert runs.loc[1, ["eval_time_limit_episodes", "eval_distinct_episodes", "eval_distinct_by"]].tolist() == [
        3, 2, "score_length"]
    assert np.isnan(runs.loc[2, "eval_distinct_episodes"])
    from analysis.collect import interaction_evaluations

    greedy = interaction_evaluations(tmp_path, cells, "scripted_noise0_ep5")
    assert greedy["seed"].tolist() == [0, 0] and greedy["score"].tolist() == [2.0, 4.0]
    scored = score_runs(runs.reset_index(), pd.DataFrame(columns=["game", "method", "seed", "agent_step",
                                                                  "episode_return"]), DEMOS, RANDOM, 0.5, greedy)
    assert scored["initial_greedy"].tolist()[0] == 3.0 and scored["eval_distinct_episodes"].tolist()[:2] == [4, 2]


def test_a_change_across_games_is_normalised_by_its_unit_alone():
    runs = pd.DataFrame([{"game": game, "method": method, "seed": seed, "eval_score_mean": 0.0, "agent_steps": 100,
                          "demo_phase_end": 40} for game in ("Pong", "Breakout") for method in ("soft_q_pretrain",
                                                                                           "soft_q_bc")
                         for seed in range(3)])
    episodes = pd.DataFrame([{"game": run["game"], "method": run["method"], "seed": run["seed"], "agent_step": step,
                              "episode_return": value + run["seed"]}
                             for run in runs.to_dict("records") for step, value in ((30, 10.0), (60, 4.0))])
    summary, _ = claims.Ledger(score_runs(runs, episodes, DEMOS, RANDOM, 0.5), NO_PUBLISHED, DEMOS).evaluate()
    row = summary.set_index("claim").loc["soft_q_pretrain_smooth_transition"]
    # every run drops 6 points across N_p: −6 / unit per game, never shifted by random play's score
    assert row["left_mean"] == pytest.approx(np.mean([-6.0 / SPAN["Pong"], -6.0 / SPAN["Breakout"]]))


# ---------------------------------------- the pretrained policy's score, own-state agreement and the lecture's claims
def test_collect_takes_the_pretrained_score_from_the_ladder_rung_at_the_end_of_pretraining(tmp_path):
    for seed in range(3):
        write_run(tmp_path, "Pong", "bc_finetune", seed, 5.0)
    folder = tmp_path / "runs/Pong/bc_finetune/scripted_noise0_ep5"
    for seed in (0, 1):
        summary = json.loads((folder / f"seed_{seed}/summary.json").read_text())
        (folder / f"seed_{seed}/summary.json").write_text(json.dumps({**summary, "pretrain_updates": 50}))
    # Seed 0: rungs at 25 and 50 updates, the last its pretraining's end; seed 1: a ladder that stops short of it.
    pd.DataFrame({"update": [25, 25, 50, 50], "episode": [0, 1, 0, 1], "score": [-9.0, -7.0, 2.0, 4.0]}).to_csv(
        folder / "seed_0/pretrain_eval.csv", index=False)
    pd.DataFrame({"update": [25], "episode": [0], "score": [-9.0]}).to_csv(folder / "seed_1/pretrain_eval.csv",
                                                                          index=False)
    cells = [("Pong", "bc_finetune", "scripted_noise0_ep5", seed) for seed in range(3)]
    runs = collect(tmp_path, cells, [], "scripted_noise0_ep5")[0].set_index("seed")
    assert runs.loc[0, "pretrained_score_mean"] == 3.0
    assert np.isnan(runs.loc[1, "pretrained_score_mean"]) and np.isnan(runs.loc[2, "pretrained_score_mean"])


def test_the_pretrained_score_and_the_own_state_agreement_are_run_columns():
    runs, episodes = synthetic_runs()
    runs["pretrained_score_mean"] = np.where(runs["method"] == "dqfd", 7.0, np.nan)
    runs["eval_expert_agreement"] = np.where(runs["method"] == "bc", 0.25, 0.5)
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5).set_index(["game", "method", "seed"])
    assert scored.loc[("Pong", "dqfd", 1), "pretrained"] == 7.0
    assert scored.loc[("Pong", "dqfd", 1), "pretrained_normalised"] == pytest.approx((7.0 + 20.0) / SPAN["Pong"])
    assert np.isnan(scored.loc[("Pong", "pdd_dqn", 0), "pretrained"]), "no pretraining, no pretrained policy"
    assert scored.loc[("Breakout", "bc", 1), "pretrained"] == 12.0, "never interacts: its evaluation is its pretrained"
    assert scored.loc[("Breakout", "bc", 1), "expert_agreement"] == 0.25
    assert scored.loc[("Pong", "dqfd", 2), "expert_agreement"] == 0.5


def map_runs():
    """bc_finetune, dqfd, rbs, dagger and bc on Pong, three seeds each, with the scores the lecture's claims compare:
    finetuning drops 6 below its pretrained policy, DQfD's learning episodes start 4 above finetuning's and its greedy
    evaluations 8 above RBS's, DAgger agrees with the demonstrator on 0.3 more of its steps than BC and scores 6
    higher."""
    runs, episodes, greedy = [], [], []
    for seed, noise in enumerate((-1.0, 0.0, 1.0)):
        for method, final, pretrained, agreement in (("bc_finetune", 0.0, 4.0, 0.3), ("dqfd", 4.0, 5.0, 0.4),
                                                     ("rbs", -4.0, np.nan, 0.1), ("dagger", 3.0, 1.0, 0.8),
                                                     ("bc", -3.0, np.nan, 0.5 + 0.01 * noise)):
            interacts = method != "bc"
            runs.append({"game": "Pong", "method": method, "seed": seed, "eval_score_mean": final + noise,
                         "agent_steps": 100 if interacts else 0, "pretrain_updates": 0 if method == "rbs" else 50,
                         "frame_skip": 4, "demo_phase_end": 0, "pretrained_score_mean": pretrained + noise,
                         "eval_expert_agreement": agreement + 0.01 * noise})
            if interacts:
                episodes += [{"game": "Pong", "method": method, "seed": seed, "agent_step": step,
                              "episode_return": final - 2.0 + noise} for step in (20, 40, 70, 100)]
                greedy += [{"game": "Pong", "method": method, "seed": seed, "agent_step": 50,
                            "score": final - 2.0 + noise * 1.5}]
    return pd.DataFrame(runs), pd.DataFrame(episodes), pd.DataFrame(greedy)


def test_the_ledger_decides_the_lectures_claims_and_says_which_are_not_run():
    runs, episodes, greedy = map_runs()
    scored = score_runs(runs, episodes, DEMOS, RANDOM, 0.5, greedy)
    summary, details = claims.Ledger(scored, NO_PUBLISHED, DEMOS).evaluate()
    rows = summary.set_index("claim")
    for claim in ("bc_finetune_drops_below_pretrained", "dqfd_beats_bc_finetune_early", "dagger_beats_bc_agreement",
                  "dagger_beats_bc", "dqfd_beats_rbs_early_greedy"):
        assert rows.loc[claim, "verdict"] == "supported", claim
    # Each difference, per game in raw units: the direct computation.
    per_game = details.set_index("claim")
    assert per_game.loc["bc_finetune_drops_below_pretrained", "difference"] == pytest.approx(4.0 - (0.0 - 2.0))
    assert per_game.loc["dqfd_beats_bc_finetune_early", "difference"] == pytest.approx(4.0 - 0.0)
    assert per_game.loc["dagger_beats_bc_agreement", "difference"] == pytest.approx(0.8 - 0.5)
    assert per_game.loc["dagger_beats_bc", "difference"] == pytest.approx(6.0)
    assert per_game.loc["dqfd_beats_rbs_early_greedy", "difference"] == pytest.approx(8.0)
    # Across games a score difference is in spans of the game; a share stays a share (its own unit), and each side's
    # mean is the share itself, not shifted by the random policy's score.
    assert rows.loc["dagger_beats_bc", "difference"] == pytest.approx(6.0 / SPAN["Pong"])
    assert rows.loc["dagger_beats_bc_agreement", "difference"] == pytest.approx(0.3)
    assert rows.loc["dagger_beats_bc_agreement", "left_mean"] == pytest.approx(0.8)
    assert rows.loc["dagger_beats_bc_agreement", "per_game"] == "Pong +0.30"
    # One Holm family with the rest of the ledger; without their methods the claims are not run.
    assert (rows["family_size"] == rows["p_value"].notna().sum()).all()
    without = claims.Ledger(score_runs(runs[runs["method"] != "dagger"], episodes[episodes["method"] != "dagger"],
                                       DEMOS, RANDOM, 0.5, greedy[greedy["method"] != "dagger"]), NO_PUBLISHED,
                            DEMOS).evaluate()[0].set_index("claim")
    assert without.loc["dagger_beats_bc", "verdict"] == "not run"
    assert without.loc["dagger_beats_bc", "note"] == "needs dagger in the matrix"
    # A finetuning that holds up: the same claim is contradicted.
    held = runs.assign(pretrained_score_mean=np.where(runs["method"] == "bc_finetune", -10.0 + runs["seed"],
                                                      runs["pretrained_score_mean"]))
    flipped = claims.Ledger(score_runs(held, episodes, DEMOS, RANDOM, 0.5, greedy), NO_PUBLISHED,
                            DEMOS).evaluate()[0].set_index("claim")
    assert flipped.loc["bc_finetune_drops_below_pretrained", "verdict"] == "contradicted"
