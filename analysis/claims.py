"""The claims ledger: each claim of the DQfD and soft-Q papers, checked on our runs.

A claim says that one side scores higher than the other. A side is a method's score over seeds (initial, best
window, final or the change across the end of its demonstration phase) or a fixed reference (the demonstrator's
mean, worst or best episode, or the published number). The verdict compares 95% intervals: supported when the left
side's interval lies wholly above the right side's, contradicted when wholly below, inconclusive when they overlap
(or when a side has too few seeds for an interval). It is given per game (t-intervals over seeds, raw scores) and
across games (demonstrator-normalised scores averaged over games, stratified bootstrap intervals).

Each verdict carries its power: the smallest difference its comparison could call at its seed count, given the spread
it observed (the two intervals' half-widths facing each other, added), beside the difference it observed, and roughly
how many seeds per side would decide a difference of the observed size. An *inconclusive* whose observed difference lies
below the detectable one is under-powered, not evidence of no effect.

The headline verdict is the across-game one when every method side has at least 3 seeds in every game. With fewer,
a bootstrap draws from so few distinct means per game that its interval is far too narrow, so the headline falls
back to the per-game verdicts: supported (or contradicted) only when every game says so.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .aggregate import REPLICATES, by_game, interval, resample
from .scores import normalise, per_game, span
from .stats import mean_ci

from scipy import stats  # noqa: E402  (t quantiles for the seeds-to-decide estimate)

MIN_BOOTSTRAP_SEEDS = 3  # our choice: below this, per-game t-intervals decide (see the module docstring)
MAX_SEEDS = 1000  # seeds-to-decide estimates above this are reported as more than it


def detectable(left: tuple[float, float, float], right: tuple[float, float, float]) -> tuple[float, float]:
    """The observed difference left − right, and the smallest difference the two (mean, low, high) intervals could
    separate: the half-widths that face each other in the direction of the observed difference, added (a reference
    has none)."""
    difference = left[0] - right[0]
    if difference >= 0:
        return difference, (left[0] - left[1]) + (right[2] - right[0])
    return difference, (left[2] - left[0]) + (right[0] - right[1])


def seeds_for_t_intervals(spread: float, difference: float) -> float:
    """The fewest seeds per side at which two 95% t-intervals whose standard deviations add to `spread` would no
    longer overlap for a difference of this size (NaN: no difference observed, or no spread to scale)."""
    if not np.isfinite(spread) or not np.isfinite(difference) or difference == 0:
        return np.nan
    for seeds in range(2, MAX_SEEDS + 1):
        if stats.t.ppf(0.975, seeds - 1) * spread / np.sqrt(seeds) < abs(difference):
            return float(seeds)
    return float(MAX_SEEDS + 1)


@dataclass(frozen=True)
class Side:
    method: str | None = None  # a method's runs, or None for a reference score of the game
    score: str = "final"  # a run score column, or for a reference: demonstrator_mean/_worst/_best or published

    def label(self) -> str:
        names = {"best_window": "best-window score", "transition_change": "change across the end of pretraining",
                 "demonstrator_mean": "demonstrator mean", "demonstrator_worst": "worst demo episode",
                 "demonstrator_best": "best demo episode", "published": "published score"}
        name = names.get(self.score, f"{self.score} score")
        return f"{self.method} {name}" if self.method else name


@dataclass(frozen=True)
class Claim:
    key: str
    source: str
    text: str
    left: Side
    right: Side


CLAIMS = [
    Claim("dqfd_beats_pdd_dqn_early", "DQfD claim 1", "DQfD beats PDD DQN early in interaction",
          Side("dqfd", "initial"), Side("pdd_dqn", "initial")),
    Claim("dqfd_initial_beats_imitation", "DQfD claim 2", "DQfD's initial performance beats pure imitation",
          Side("dqfd", "initial"), Side("bc", "final")),
    Claim("dqfd_beats_imitation", "DQfD claim 2", "DQfD's score beats pure imitation",
          Side("dqfd", "final"), Side("bc", "final")),
    Claim("dqfd_beats_worst_demo", "DQfD claim 3", "DQfD beats its worst demonstration episode",
          Side("dqfd", "best_window"), Side(None, "demonstrator_worst")),
    Claim("dqfd_beats_best_demo", "DQfD claim 3", "DQfD beats its best demonstration episode",
          Side("dqfd", "best_window"), Side(None, "demonstrator_best")),
    Claim("imitation_below_demonstrator", "DQfD claim 3", "Imitation never beats the demonstrator",
          Side(None, "demonstrator_best"), Side("bc", "final")),
    Claim("no_supervised_loss_lowers_early", "DQfD claim 4", "Removing the supervised loss lowers early performance",
          Side("dqfd", "initial"), Side("dqfd_no_supervised", "initial")),
    Claim("no_n_step_lowers_early", "DQfD claim 4", "Removing the n-step loss lowers early performance",
          Side("dqfd", "initial"), Side("dqfd_no_n_step", "initial")),
    Claim("dqfd_reaches_published", "DQfD claim 5", "DQfD reaches its published score (at our budget)",
          Side("dqfd", "best_window"), Side(None, "published")),
    Claim("soft_q_pretrain_beats_demonstrator", "soft-Q paper",
          "Soft-Q pretraining exceeds its imperfect demonstrator",
          Side("soft_q_pretrain", "final"), Side(None, "demonstrator_mean")),
    Claim("soft_q_pretrain_smooth_transition", "soft-Q paper",
          "Soft-Q pretraining passes the end of pretraining more smoothly than BC pretraining, which drops",
          Side("soft_q_pretrain", "transition_change"), Side("soft_q_bc", "transition_change")),
]


def verdict(left: tuple[float, float], right: tuple[float, float]) -> str:
    """Compare two (low, high) intervals; a reference is a zero-width interval."""
    if np.isnan([*left, *right]).any():
        return "inconclusive"
    if left[0] > right[1]:
        return "supported"
    if left[1] < right[0]:
        return "contradicted"
    return "inconclusive"


def reference(side: Side, game: str, baselines: pd.DataFrame, published: pd.DataFrame) -> float:
    if side.score == "published":
        row = published[published["game"] == game]
        return float(row["published"].iloc[0]) if len(row) else np.nan
    return float(baselines.loc[game, side.score]) if game in baselines.index else np.nan


class Ledger:
    def __init__(self, scores: pd.DataFrame, published: pd.DataFrame, seed: int = 0, replicates: int = REPLICATES):
        self.scores, self.seed, self.replicates = scores, seed, replicates
        self.baselines = per_game(scores)
        self.published = published

    def games(self, claim: Claim) -> list[str]:
        """The games where every side has a value: each method ran, and each reference exists."""
        games = set(self.baselines.index)
        for side in (claim.left, claim.right):
            if side.method:
                games &= set(self.scores.loc[(self.scores["method"] == side.method)
                                             & self.scores[side.score].notna(), "game"])
            else:
                games = {game for game in games
                         if not np.isnan(reference(side, game, self.baselines, self.published_for(claim)))}
        return sorted(games)

    def published_for(self, claim: Claim) -> pd.DataFrame:
        method = claim.left.method or claim.right.method
        return self.published[self.published["method"] == method] if len(self.published) else self.published

    def per_game(self, claim: Claim, game: str) -> dict:
        row, spread = {"claim": claim.key, "game": game}, 0.0
        for name, side in (("left", claim.left), ("right", claim.right)):
            if side.method:
                runs = self.scores[(self.scores["game"] == game) & (self.scores["method"] == side.method)][side.score]
                mean, low, high = mean_ci(runs)
                row.update({f"{name}_seeds": int(runs.notna().sum())})
                spread += float(runs.std(ddof=1)) if runs.notna().sum() > 1 else np.nan
            else:
                mean = low = high = reference(side, game, self.baselines, self.published_for(claim))
            row.update({f"{name}_mean": mean, f"{name}_ci95_low": low, f"{name}_ci95_high": high})
        row["verdict"] = verdict((row["left_ci95_low"], row["left_ci95_high"]),
                                 (row["right_ci95_low"], row["right_ci95_high"]))
        row["observed_difference"], row["detectable_difference"] = detectable(
            *[(row[f"{name}_mean"], row[f"{name}_ci95_low"], row[f"{name}_ci95_high"]) for name in ("left", "right")])
        row["seeds_to_decide"] = seeds_for_t_intervals(spread, row["observed_difference"])
        return row

    def across_games(self, claim: Claim, games: list[str]) -> dict:
        """Each side's mean over games of its demonstrator-normalised per-game mean, with a stratified bootstrap CI."""
        row, rng = {}, np.random.default_rng(self.seed)
        for name, side in (("left", claim.left), ("right", claim.right)):
            if side.method:  # the run table carries every score normalised already
                subset = self.scores[self.scores["game"].isin(games)]
                normalised = by_game(subset, side.method, f"{side.score}_normalised")
                if len(normalised) < len(games):  # a game whose baselines coincide cannot be normalised
                    mean = low = high = np.nan
                else:
                    mean = float(np.mean([values.mean() for values in normalised]))
                    boot = np.mean([sample.mean(axis=1) for sample in resample(normalised, rng, self.replicates)],
                                   axis=0)
                    low, high = interval(boot)
            else:
                values = [reference(side, game, self.baselines, self.published_for(claim)) for game in games]
                mean = low = high = float(np.mean(normalise(values, self.baselines, games)))
            row.update({f"{name}_normalised": mean, f"{name}_normalised_ci95_low": low,
                        f"{name}_normalised_ci95_high": high})
        return row

    def evaluate(self, claims=CLAIMS) -> tuple[pd.DataFrame, pd.DataFrame]:
        summary, details = [], []
        for claim in claims:
            games = self.games(claim)
            row = {"claim": claim.key, "source": claim.source, "text": claim.text,
                   "comparison": f"{claim.left.label()} > {claim.right.label()}", "games": len(games)}
            if not games:
                missing = [side.method for side in (claim.left, claim.right)
                           if side.method and side.method not in set(self.scores["method"])]
                row["verdict"] = "not run"
                row["note"] = (f"needs {', '.join(missing)} in the matrix" if missing
                               else "no game has scores on both sides")
                summary.append(row)
                continue
            per_game = [self.per_game(claim, game) for game in games]
            details += per_game
            counts = pd.Series([item["verdict"] for item in per_game]).value_counts()
            row.update({f"games_{name}": int(counts.get(name, 0))
                        for name in ("supported", "contradicted", "inconclusive")})
            seeds = [item[key] for item in per_game for key in ("left_seeds", "right_seeds") if key in item]
            row["seeds"] = f"{min(seeds)}–{max(seeds)}" if min(seeds) != max(seeds) else str(min(seeds))
            row.update(self.across_games(claim, games))
            row["observed_difference"], row["detectable_difference"] = detectable(
                *[tuple(row[f"{name}_normalised{end}"] for end in ("", "_ci95_low", "_ci95_high"))
                  for name in ("left", "right")])
            if min(seeds) >= MIN_BOOTSTRAP_SEEDS:
                row["verdict_basis"] = "across games"
                row["verdict"] = verdict((row["left_normalised_ci95_low"], row["left_normalised_ci95_high"]),
                                         (row["right_normalised_ci95_low"], row["right_normalised_ci95_high"]))
                # A bootstrap interval narrows as 1/√seeds: scale the detectable difference to the observed one.
                # Below MIN_BOOTSTRAP_SEEDS the across-game verdict is not used, so no estimate goes below it.
                ratio = row["detectable_difference"] / abs(row["observed_difference"]) \
                    if row["observed_difference"] else np.inf
                row["seeds_to_decide"] = float(np.clip(np.ceil(min(seeds) * ratio**2), MIN_BOOTSTRAP_SEEDS,
                                                       MAX_SEEDS + 1)) if np.isfinite(ratio) else np.nan
            else:
                row["verdict_basis"] = f"per game (fewer than {MIN_BOOTSTRAP_SEEDS} seeds)"
                unanimous = {item["verdict"] for item in per_game}
                row["verdict"] = unanimous.pop() if len(unanimous) == 1 else "inconclusive"
                # Every game must agree, so the game that needs the most seeds decides, and the power is the
                # hardest game's: its detectable difference in normalised units (the across-game interval, too
                # narrow at these seed counts, does not decide and does not state the power either).
                needed = [item["seeds_to_decide"] for item in per_game]
                row["seeds_to_decide"] = np.nan if np.isnan(needed).any() else float(max(needed))
                widths = np.array([item["detectable_difference"] for item in per_game], dtype=float) \
                    / np.abs(span(self.baselines, games))
                row["detectable_difference"] = np.nan if np.isnan(widths).any() else float(widths.max())
            summary.append(row)
        return pd.DataFrame(summary), pd.DataFrame(details)


def to_markdown(summary: pd.DataFrame, details: pd.DataFrame) -> str:
    def number(value):
        return "–" if pd.isna(value) else f"{value:.2f}"

    def side(row, name):
        mean, low, high = (row[f"{name}_normalised"], row[f"{name}_normalised_ci95_low"],
                           row[f"{name}_normalised_ci95_high"])
        return number(mean) if low == high else f"{number(mean)} [{number(low)}, {number(high)}]"

    def power(row, digits=2):
        observed, width, seeds = row["observed_difference"], row["detectable_difference"], row["seeds_to_decide"]
        if pd.isna(width):
            return f"{observed:+.{digits}f} / – (one seed: no spread)"
        needed = "–" if pd.isna(seeds) else f"> {MAX_SEEDS}" if seeds > MAX_SEEDS else f"{int(seeds)}"
        return f"{observed:+.{digits}f} / {width:.{digits}f} ({needed})"

    lines = ["| claim | source | comparison (left > right) | verdict | decided | games: supported / contradicted / "
             "inconclusive | seeds per side | across games, left | across games, right | power: observed / "
             "detectable difference (seeds to decide) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary.to_dict("records"):
        if row["verdict"] == "not run":
            lines.append(f"| {row['text']} | {row['source']} | {row['comparison']} | not run | {row['note']} "
                         "| | | | | |")
            continue
        counts = " / ".join(str(int(row[f"games_{name}"])) for name in ("supported", "contradicted", "inconclusive"))
        lines.append(f"| {row['text']} | {row['source']} | {row['comparison']} | **{row['verdict']}** | "
                     f"{row['verdict_basis']} | {counts} of {int(row['games'])} | {row['seeds']} | "
                     f"{side(row, 'left')} | {side(row, 'right')} | {power(row)} |")
    lines += ["", "Per game (raw scores, mean [95% t-interval over seeds]; a reference has no interval):", "",
              "| claim | game | left | right | verdict | power: observed / detectable difference (seeds to decide) |",
              "|---|---|---|---|---|---|"]

    def raw(row, name):
        mean, low, high = row[f"{name}_mean"], row[f"{name}_ci95_low"], row[f"{name}_ci95_high"]
        text = f"{mean:.1f}" if low == high or pd.isna(low) else f"{mean:.1f} [{low:.1f}, {high:.1f}]"
        return text + (f" (n={int(row[f'{name}_seeds'])})" if not pd.isna(row.get(f"{name}_seeds", np.nan)) else "")

    for row in details.to_dict("records"):
        lines.append(f"| {row['claim']} | {row['game']} | {raw(row, 'left')} | {raw(row, 'right')} | {row['verdict']} "
                     f"| {power(row, digits=1)} |")
    lines += ["", "Verdicts compare 95% intervals: supported when the left side's lies wholly above the right side's, "
              "contradicted when wholly below, inconclusive when they overlap or a side has one seed. Across games: "
              "each side's demonstrator-normalised per-game mean, (score − random)/(demonstrator − random), averaged "
              "over the games both sides ran, with a stratified bootstrap interval (seeds resampled within each game). "
              f"The verdict is the across-game one when every method side has {MIN_BOOTSTRAP_SEEDS} or more seeds per "
              "game; with fewer, a bootstrap interval is far too narrow, and the verdict is the per-game one when "
              "every game agrees, else inconclusive. Power: the observed difference (left − right; normalised across "
              "games, raw per game) beside the smallest difference the comparison could call at its seed count given "
              "the spread it observed (the facing half-widths of the two intervals, added); an inconclusive verdict "
              "whose observed difference is below that is under-powered. Seeds to decide: roughly how many seeds per "
              "side would call a difference of the observed size (t-intervals per game, the worst game when every "
              "game must agree; across games the bootstrap interval scaled as 1/√seeds, and never fewer than "
              f"{MIN_BOOTSTRAP_SEEDS}, the fewest an across-game verdict uses)."]
    return "\n".join(lines) + "\n"
