"""The claims ledger: each claim of the DQfD and soft-Q papers, checked on our runs.

A claim says that one side scores higher than the other. A side is a method's score over seeds (initial, final,
greedy early evaluation, or the change across the end of its demonstration phase) or the demonstrator, as the sample
of its recorded episodes: a reference is never one number taken as exact, and never a single best or worst episode.

Each claim is decided from the interval of the difference, left − right: per game in raw scores (Welch: seeds are
independent across methods), and across games as the average over games of the demonstrator-normalised per-game
difference (a stratified Welch interval, analysis/stats.py). The claim's verdict is its across-game one; the per-game
rows say where the average comes from, the breakdown of that verdict, not verdicts of their own. Every verdict the
ledger prints belongs to one family with one error rate (the chance that any of them calls a difference that is not
there): Holm's step-down procedure over their two-sided p-values. Supported: the difference is decided and positive;
contradicted: decided and negative; inconclusive: not decided at the family's error rate.

Power is stated at 80%: the smallest true difference the row's test would decide 80% of the time at its seed count,
and how many seeds per side would decide the observed difference 80% of the time, both with the spreads observed and
at the Bonferroni level α/m (Holm decides at least what Bonferroni does, so the figures are at worst conservative).

The published scores are the paper's own metric (its best window of millions of steps), at budgets thousands of times
ours: shown as context beside ours, never in a verdict.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .scores import CHANGES, span
from .stats import MAX_SEEDS, POWER, Design, Estimate, clean, holm, linear, verdict

DEMONSTRATOR = "demonstrator"
PUBLISHED = "published"
# How a score is put on a common scale across games. A score level: (x − random)/(demonstrator − random). A change
# between two scores (scores.CHANGES): only its unit, x/(demonstrator − random). A share of steps in [0, 1] is its own
# unit on every game, so it is averaged as it is.
SHARES = {"expert_agreement"}


@dataclass(frozen=True)
class Side:
    method: str | None = None  # a method's runs, or None for a reference of the game
    score: str = "final"  # a run score column, or for a reference: demonstrator or published

    def label(self) -> str:
        names = {"transition_change": "change across the end of pretraining",
                 "initial_greedy": "greedy evaluation early in interaction",
                 DEMONSTRATOR: "demonstrator (mean of its episodes)", PUBLISHED: "published score"}
        name = names.get(self.score, f"{self.score} score")
        return f"{self.method} {name}" if self.method else name

    def scaling(self) -> str:
        """How this side is put on the common scale across games: "share", "change" or "level" (see SHARES)."""
        return "share" if self.score in SHARES else "change" if self.score in CHANGES else "level"


@dataclass(frozen=True)
class Claim:
    key: str
    source: str
    text: str
    left: Side
    right: Side
    caveat: str = ""  # what the reader must know to read the verdict


CONFOUND = ("online learning episodes: pdd_dqn explores in this window (ε decays from 1) while dqfd acts at ε = 0.01 "
            "after pretraining, so the rows compare exploration as well as learning; the greedy row does not")
CLAIMS = [
    Claim("dqfd_beats_pdd_dqn_early", "DQfD claim 1", "DQfD beats PDD DQN early in interaction",
          Side("dqfd", "initial"), Side("pdd_dqn", "initial"), CONFOUND),
    Claim("dqfd_beats_pdd_dqn_early_greedy", "DQfD claim 1",
          "DQfD beats PDD DQN early in interaction, both evaluated greedily",
          Side("dqfd", "initial_greedy"), Side("pdd_dqn", "initial_greedy")),
    Claim("dqfd_initial_beats_imitation", "DQfD claim 2", "DQfD's initial performance beats pure imitation",
          Side("dqfd", "initial"), Side("bc", "final")),
    Claim("dqfd_beats_imitation", "DQfD claim 2", "DQfD's score beats pure imitation",
          Side("dqfd", "final"), Side("bc", "final")),
    Claim("dqfd_beats_demonstrator", "DQfD claim 3", "DQfD beats its demonstrator",
          Side("dqfd", "final"), Side(None, DEMONSTRATOR),
          "the paper counts games where DQfD beats the best (or worst) demonstration episode; one extreme episode of "
          "a few has no interval, so the ledger compares with the demonstrator's mean and its interval"),
    Claim("imitation_below_demonstrator", "DQfD claim 3", "Imitation stays below its demonstrator",
          Side(None, DEMONSTRATOR), Side("bc", "final"),
          "the paper says imitation never beats the demonstrator; tested against the demonstrator's mean"),
    Claim("no_supervised_loss_lowers_early", "DQfD claim 4", "Removing the supervised loss lowers early performance",
          Side("dqfd", "initial"), Side("dqfd_no_supervised", "initial")),
    Claim("no_n_step_lowers_early", "DQfD claim 4", "Removing the n-step loss lowers early performance",
          Side("dqfd", "initial"), Side("dqfd_no_n_step", "initial")),
    Claim("dqfd_reaches_published", "DQfD claim 5", "DQfD reaches its published score (context, not tested)",
          Side("dqfd", "final"), Side(None, PUBLISHED),
          "the paper's number is its best window of 3M agent steps, a different metric at a budget far beyond ours"),
    Claim("soft_q_pretrain_beats_demonstrator", "soft-Q paper",
          "Soft-Q pretraining exceeds its imperfect demonstrator",
          Side("soft_q_pretrain", "final"), Side(None, DEMONSTRATOR)),
    Claim("soft_q_pretrain_smooth_transition", "soft-Q paper",
          "Soft-Q pretraining passes the end of pretraining more smoothly than BC pretraining, which drops",
          Side("soft_q_pretrain", "transition_change"), Side("soft_q_bc", "transition_change")),
    # The rest of the lecture's map of combining demonstrations and RL (../shared/seeds/003_…).
    Claim("bc_finetune_drops_below_pretrained", "lecture: pretrain & finetune",
          "Pretrain & finetune drops below its own pretrained policy early in finetuning",
          Side("bc_finetune", "pretrained"), Side("bc_finetune", "initial_greedy"),
          "both sides are the same runs (the greedy evaluation at the end of pretraining, and those early in "
          "finetuning), tested as independent samples, which is conservative where a run's two scores go together; "
          "needs pretrain_eval_updates to end at pretrain_updates and interaction_eval_every > 0"),
    Claim("dqfd_beats_bc_finetune_early", "lecture: demonstrations kept, not forgotten",
          "DQfD beats pretrain & finetune early in interaction",
          Side("dqfd", "initial"), Side("bc_finetune", "initial"),
          "online learning episodes; both act at ε = 0.01 after pretraining on the same demonstrations, so the rows "
          "compare what each goes on learning from (DQfD keeps the demonstrations and its supervised loss, finetuning "
          "drops both), not exploration"),
    Claim("dagger_beats_bc_agreement", "lecture; Ross et al. 2011",
          "DAgger agrees with its demonstrator on its own states more than behaviour cloning",
          Side("dagger", "expert_agreement"), Side("bc", "expert_agreement"),
          "agreement is the share of the final evaluation's steps on which the agent acts as the demonstrator would "
          "in the agent's own states; a share has its own unit, so across games the ledger averages the differences "
          "as they are, in share points (not divided by a score span)"),
    Claim("dagger_beats_bc", "lecture; Ross et al. 2011", "DAgger scores higher than behaviour cloning",
          Side("dagger", "final"), Side("bc", "final"),
          "DAgger also makes its iterations' updates beyond behaviour cloning's: the rows compare the methods as "
          "defined, at the config's budgets"),
    Claim("dqfd_beats_rbs_early_greedy", "lecture: demonstrations as off-policy data alone don't always help",
          "DQfD beats replay buffer spiking early in interaction, both evaluated greedily",
          Side("dqfd", "initial_greedy"), Side("rbs", "initial_greedy"),
          "RBS is PDD-DQN with the demonstrations dropped into its replay, without pretraining or supervised loss: the "
          "rows compare the hybrid objective, pretraining included, with off-policy demonstrations alone"),
]
CONTEXT = "context: not tested"
TOO_FEW = "too few seeds"
NO_UNIT = "no normalisation unit"
NO_SPREAD = "no spread"  # every value of every sample the same: a t-test has no standard error to divide by


class Ledger:
    def __init__(self, scores: pd.DataFrame, published: pd.DataFrame, demonstrators: pd.DataFrame,
                 error_rate: float = 0.05):
        self.scores, self.published, self.error_rate = scores, published, error_rate
        self.baselines = scores.groupby("game")[["demonstrator_mean", "random_mean"]].first()
        self.episodes = {game: group["score"].to_numpy(dtype=float) for game, group in demonstrators.groupby("game")}

    # ------------------------------------------------------------------------------------------------ samples
    def sample(self, side: Side, game: str) -> np.ndarray:
        """The side's values on one game, raw: the method's runs, or the demonstrator's episodes."""
        if side.method is None:
            return self.episodes.get(game, np.array([]))
        if side.score not in self.scores:
            return np.array([])
        runs = self.scores[(self.scores["game"] == game) & (self.scores["method"] == side.method)][side.score]
        return runs.to_numpy(dtype=float)

    def published_score(self, claim: Claim, game: str) -> float:
        method = claim.left.method or claim.right.method
        row = self.published[(self.published["game"] == game) & (self.published["method"] == method)] \
            if len(self.published) else self.published
        return float(row["published"].iloc[0]) if len(row) else np.nan

    def games(self, claim: Claim) -> list[str]:
        """The games where both sides have a value: each method ran with that score, each reference exists."""
        games = set(self.baselines.index)
        for side in (claim.left, claim.right):
            if side.score == PUBLISHED:
                games = {game for game in games if np.isfinite(self.published_score(claim, game))}
            else:
                games = {game for game in games if np.isfinite(self.sample(side, game)).any()}
        return sorted(games)

    def not_run(self, claim: Claim) -> str:
        methods = set(self.scores["method"])
        missing = list(dict.fromkeys(side.method for side in (claim.left, claim.right)
                                     if side.method and side.method not in methods))  # each named once
        if missing:
            return f"needs {', '.join(missing)} in the matrix"
        if any(side.score == "initial_greedy" for side in (claim.left, claim.right)):
            return "needs greedy evaluation along interaction (the run setting interaction_eval_every > 0)"
        if any(side.score == DEMONSTRATOR for side in (claim.left, claim.right)) and not self.episodes:
            return "no demonstrator episodes recorded (no method of the matrix uses demonstrations)"
        return "no game has scores on both sides"

    # ------------------------------------------------------------------------------------------------ estimates
    def scale(self, side: Side, games: list[str], normalised: bool) -> tuple[np.ndarray, np.ndarray]:
        """Per game, the unit a side's values are divided by and the offset taken off first: across games a score
        level becomes (x − random)/span, a change between scores x/span, a share stays as it is; per game (not
        normalised) every value stays raw."""
        ones, zeros = np.ones(len(games)), np.zeros(len(games))
        if not normalised or side.scaling() == "share":
            return ones, zeros
        random = self.baselines.reindex(games)["random_mean"].to_numpy(dtype=float)
        return span(self.baselines, games), zeros if side.scaling() == "change" else random

    def terms(self, claim: Claim, games: list[str], normalised: bool) -> list[tuple[float, np.ndarray, bool]]:
        """(coefficient, sample, whether its size is a method's seeds) whose Σ c·mean is left − right: per game in
        raw values, or across games each game's difference on the common scale weighted 1/G."""
        terms = []
        units = {side: self.scale(side, games, normalised)[0] for side in (claim.left, claim.right)}
        for index, game in enumerate(games):
            for sign, side in ((1.0, claim.left), (-1.0, claim.right)):
                terms.append((sign / (units[side][index] * len(games)), self.sample(side, game),
                              side.method is not None))
        return terms

    def side(self, side: Side, games: list[str], normalised: bool) -> Estimate:
        unit, offset = self.scale(side, games, normalised)
        estimate = linear([(1.0 / (width * len(games)), self.sample(side, game))
                           for game, width in zip(games, unit)])
        # (x − offset)/unit averaged over games: the offsets shift the mean, not its spread. (Levels on both sides
        # of a claim: the offsets cancel in the difference, which `terms` leaves out.)
        return Estimate(estimate.value - float(np.mean(offset / unit)), estimate.standard_error, estimate.df)

    def compare(self, claim: Claim, games: list[str], normalised: bool) -> dict:
        terms = self.terms(claim, games, normalised)
        estimate, design = linear([(c, x) for c, x, _ in terms]), Design.of(terms)
        row = {"difference": estimate.value, "p_value": estimate.p_value(), "_estimate": estimate,
               "_design": design}
        for name, side in (("left", claim.left), ("right", claim.right)):
            value = self.side(side, games, normalised)
            row[f"{name}_mean"] = value.value
            row[f"{name}_ci95_low"], row[f"{name}_ci95_high"] = value.interval(0.95)
            row[f"{name}_n"] = ",".join(str(int(np.isfinite(self.sample(side, game)).sum())) for game in games)
        row["seeds"] = min(int(np.isfinite(self.sample(side, game)).sum())
                           for side in (claim.left, claim.right) if side.method for game in games)
        if not np.isfinite(estimate.value):
            row["note"] = NO_UNIT
        elif not design.usable():
            row["note"] = TOO_FEW
        elif estimate.standard_error == 0:  # its p-value would be 0 or 1 whatever the seed count: no test
            row["note"], row["p_value"] = NO_SPREAD, np.nan
        return row

    def context(self, claim: Claim, games: list[str]) -> dict:
        """The published comparison: our side's normalised mean beside the paper's number, normalised alike."""
        ours = self.side(claim.left, games, normalised=True)
        theirs = np.array([self.published_score(claim, game) for game in games])
        random = self.baselines.reindex(games)["random_mean"].to_numpy(dtype=float)
        published = float(np.mean((theirs - random) / span(self.baselines, games)))
        low, high = ours.interval(0.95)
        return {"left_mean": ours.value, "left_ci95_low": low, "left_ci95_high": high, "right_mean": published,
                "right_ci95_low": published, "right_ci95_high": published, "difference": ours.value - published,
                "verdict": CONTEXT}

    # ------------------------------------------------------------------------------------------------ the ledger
    def evaluate(self, claims=CLAIMS) -> tuple[pd.DataFrame, pd.DataFrame]:
        summary, details, tests = [], [], {}
        for claim in claims:
            games = self.games(claim)
            row = {"claim": claim.key, "source": claim.source, "text": claim.text, "caveat": claim.caveat,
                   "comparison": f"{claim.left.label()} > {claim.right.label()}", "games": len(games)}
            if not games:
                summary.append({**row, "verdict": "not run", "note": self.not_run(claim)})
                continue
            if PUBLISHED in (claim.left.score, claim.right.score):
                summary.append({**row, **self.context(claim, games)})
                continue
            per_game = [{"claim": claim.key, "game": game, **self.compare(claim, [game], normalised=False)}
                        for game in games]
            for item in per_game:  # a breakdown, not a verdict: its 95% interval, uncorrected
                item["difference_low"], item["difference_high"] = item["_estimate"].interval(0.95)
            row.update(self.compare(claim, games, normalised=True))
            unit = self.scale(claim.left, games, normalised=True)[0]
            row["per_game"] = ", ".join(f"{game} {item['difference'] / width:+.2f}"
                                        for game, item, width in zip(games, per_game, unit))
            if "note" not in row:
                row["note"] = heterogeneity(per_game, unit)
            # Two claims that compare the same numbers are one test: a method that never interacts has one score
            # for initial and final, so "initial beats imitation" is "beats imitation" there. Counted once.
            same = tests.setdefault(self.signature(claim, games), claim.key)
            if same != claim.key:
                row["_same_as"] = same
                row["note"] = f"the same numbers as {same}: one test, counted once"
            summary.append(row)
            details += per_game
        self.decide(summary)
        strip = lambda rows: pd.DataFrame([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])  # noqa: E731
        return strip(summary), strip(details)

    def signature(self, claim: Claim, games: list[str]) -> tuple:
        # Rounded, and with missing seeds left out (NaN ≠ NaN would keep two claims on the same numbers apart).
        return tuple((game, tuple(np.round(clean(self.sample(side, game)), 9)))
                     for game in games for side in (claim.left, claim.right))

    def decide(self, summary: list[dict]) -> None:
        """One Holm family over the claims' verdicts, then each row's interval, verdict and power."""
        rows = [row for row in summary if "_estimate" in row and "_same_as" not in row]
        family = [row for row in rows if np.isfinite(row["p_value"])]
        rejected, levels = holm([row["p_value"] for row in family], self.error_rate)
        bonferroni = 1 - self.error_rate / max(len(family), 1)
        for row in rows:  # no test possible: the row says why
            row.update(verdict=row.get("note") or "inconclusive", level=np.nan, difference_low=np.nan,
                       difference_high=np.nan, detectable_80=np.nan, seeds_for_80=np.nan)
        for row, decided, level in zip(family, rejected, levels):
            estimate, design = row["_estimate"], row["_design"]
            row["level"] = level
            row["difference_low"], row["difference_high"] = estimate.interval(level)
            row["verdict"] = verdict(estimate, decided)
            row["detectable_80"] = design.detectable(row["seeds"], bonferroni)
            row["seeds_for_80"] = design.seeds_needed(row["difference"], bonferroni)
        by_claim = {row["claim"]: row for row in summary}
        for row in summary:
            if "_same_as" in row:
                first = by_claim[row["_same_as"]]
                row.update({key: first[key] for key in ("verdict", "level", "difference_low", "difference_high",
                                                        "detectable_80", "seeds_for_80")})
            row["family_size"] = len(family)


def heterogeneity(per_game: list[dict], units: np.ndarray) -> str:
    """Whether the across-game average hides games that go opposite ways: per-game 95% intervals on opposite sides
    of 0, or (weaker) per-game differences of opposite sign as printed (two decimals, so ±0.00 takes no side)."""
    above = [item["game"] for item in per_game if item["difference_low"] > 0]
    below = [item["game"] for item in per_game if item["difference_high"] < 0]
    if above and below:
        return (f"games disagree: above 0 on {', '.join(above)}, below on {', '.join(below)} "
                "(per-game 95% intervals)")
    signs = {np.sign(value) for value in (item["difference"] / unit for item, unit in zip(per_game, units))
             if np.isfinite(value) and abs(value) >= 0.005}
    return "the games' differences differ in sign: the average hides opposite effects" if len(signs) > 1 else ""


def to_markdown(summary: pd.DataFrame, details: pd.DataFrame, error_rate: float) -> str:
    def number(value, digits=2):
        return "–" if pd.isna(value) else f"{value:.{digits}f}"

    def side(row, name, digits=2):
        mean, low, high = row[f"{name}_mean"], row[f"{name}_ci95_low"], row[f"{name}_ci95_high"]
        text = number(mean, digits) if pd.isna(low) or low == high \
            else f"{number(mean, digits)} [{number(low, digits)}, {number(high, digits)}]"
        return text + (f" (n={row[f'{name}_n']})" if digits == 1 else "")

    def difference(row, digits=2, level=None):
        level = row.get("level") if level is None else level
        if pd.isna(row.get("difference")):
            return "–"
        if pd.isna(row.get("difference_low")):
            return f"{row['difference']:+.{digits}f}"
        return (f"{row['difference']:+.{digits}f} [{number(row['difference_low'], digits)}, "
                f"{number(row['difference_high'], digits)}]" + ("" if pd.isna(level) else f" at {100 * level:.2f}%"))

    def power(row):
        if pd.isna(row.get("detectable_80")):
            return "–"
        seeds = row["seeds_for_80"]
        needed = ("–" if pd.isna(seeds) else "no number of" if np.isinf(seeds) else f"> {MAX_SEEDS}"
                  if seeds > MAX_SEEDS else f"{int(seeds)}")
        return f"{row['detectable_80']:.2f} at {int(row['seeds'])} seeds; {needed} seeds"

    def p(row):
        return "–" if pd.isna(row.get("p_value")) else f"{row['p_value']:.2g}"

    def note(row):
        return "; ".join(text for text in (row.get("note"), row.get("caveat"))
                         if isinstance(text, str) and text and text != row["verdict"])

    family = int(summary["family_size"].max()) if "family_size" in summary and len(summary) else 0
    lines = ["| claim | source | comparison (left > right) | verdict | games | left, across games | right, across "
             "games | difference, left − right [interval at the row's Holm level] | p | 80% power: detectable "
             "difference; seeds per side for the observed one | per game | note |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in summary.to_dict("records"):
        if row["verdict"] == "not run":
            lines.append(f"| {row['text']} | {row['source']} | {row['comparison']} | not run | | | | | | | | "
                         f"{row['note']} |")
            continue
        per_game = row.get("per_game") if isinstance(row.get("per_game"), str) else ""
        lines.append(f"| {row['text']} | {row['source']} | {row['comparison']} | **{row['verdict']}** | "
                     f"{int(row['games'])} | {side(row, 'left')} | {side(row, 'right')} | {difference(row)} | "
                     f"{p(row)} | {power(row)} | {per_game} | {note(row)} |")
    lines += ["", "Per game, a breakdown of each verdict, not a verdict of its own (raw scores; each side's mean "
              "[95% t-interval] over n seeds, or the demonstrator's n episodes; the difference with its 95% interval "
              "and p-value, neither corrected for the number of games):", "",
              "| claim | game | left | right | difference [95% interval] | p, uncorrected |", "|---|---|---|---|---|---|"]
    for row in details.to_dict("records"):
        lines.append(f"| {row['claim']} | {row['game']} | {side(row, 'left', 1)} | {side(row, 'right', 1)} | "
                     f"{difference(row, 1, level=np.nan)} | {p(row)} |")
    lines += ["", f"**Error rate.** The ledger's {family} verdicts are one family, decided by Holm's step-down "
              f"procedure at a familywise error rate of {error_rate:g}: the chance that any of them calls a difference "
              "that is not there is at most that (measured, not only assumed: `python -m analysis calibrate`). Holm "
              "rather than an FDR procedure because each verdict is read as a claim on its own; rather than "
              "Bonferroni because it decides at least as much at the same rate. Supported: decided and "
              "left − right > 0; contradicted: decided and < 0; inconclusive: not decided; too few seeds: a side "
              "with fewer than 2 values in a game (no spread, no test). Context rows are not tested.",
              "",
              "**Intervals.** A verdict is decided from the interval of the difference left − right across games: "
              "the mean over games of each game's demonstrator-normalised difference, (score − random)/(demonstrator "
              "− random), with a stratified Welch t-interval (seeds are independent across methods, so never "
              "paired; degrees of freedom halfway between Welch–Satterthwaite's and the fewest of any sample, see "
              "analysis/stats.py). Its level is that of the Holm step that decided the row (a row not decided: the "
              "step where the procedure stopped), so it excludes 0 exactly when the row is decided. The demonstrator "
              "is the sample of its recorded episodes, with its own spread; no row compares with a single episode. "
              "Sides are shown with 95% intervals. With one game the verdict is that game's.",
              "",
              f"**Power.** At {int(POWER * 100)}% power and the Bonferroni level {error_rate:g}/{family} (a lower "
              "bound on Holm's power), with the spreads observed: the smallest true difference the row's test "
              "decides at its seed count, and the seeds per side that decide the observed difference (the "
              "demonstrator's episodes do not grow with seeds: \"no number of seeds\" when they alone leave the "
              "difference undecided). An inconclusive row whose observed difference is below its detectable one is "
              "under-powered, not evidence of no difference."]
    return "\n".join(lines) + "\n"
