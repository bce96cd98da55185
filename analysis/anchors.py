"""Published scores of data-efficient agents at the Atari 100k budget (100,000 agent steps, 400,000 frames), shown as
context beside the suite's own: a table of them under the score table, and a thin labelled line for each on its
game's learning-curve panels. They are never a verdict of the claims ledger: each paper evaluates under its own
protocol, which is not the suite's (docs/atari100k_anchors.md says how they differ).

The workflow reads them from the CSV its `anchors` key names (config/atari100k_anchors.csv holds the transcribed
ones), with the columns COLUMNS: one score per game and agent, what the number is (statistic), the paper's evaluation
protocol, where it comes from (source), and whether it was read in the paper's own table (status: verified) or rests
on something else (unverified, saying on what). Where a number is a mean over released runs, the optional columns
UNCERTAINTY give their spread and count, and the table prints the mean's 95% t-interval beside it: a reference
carries its own uncertainty, as the demonstrator does in the ledger.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from .stats import t_interval

COLUMNS = ["game", "agent", "score", "statistic", "protocol", "source", "status"]
# The sample standard deviation of the per-run scores behind a mean, and how many runs; both empty where the source
# gives one number (a paper's table, the random and human references).
UNCERTAINTY = ["spread", "runs"]
CONFIDENCE = 0.95
STATUS = re.compile(r"(verified|unverified)\b")  # the word a status starts with; what follows says on what it rests
GAME = re.compile(r"[A-Za-z0-9]+")  # as the workflow names games
EXAMPLE = "config/atari100k_anchors.csv"
CONTEXT = ("Atari 100k anchors: published scores of data-efficient agents after 100,000 agent steps (400,000 frames), "
           "as context, never as a verdict: each paper evaluates under its own protocol, which differs from this "
           "suite's (sticky actions, action set, life loss, no-op starts, evaluation episodes, episode cap: "
           "docs/atari100k_anchors.md), and at a budget the rows above need not share. In brackets, the 95% t-interval of "
           "a mean over released runs (none where the source gives one number). * marks a number not read in its "
           "paper's own table; the anchors file gives each number's statistic, protocol, source and status.")


class AnchorsError(ValueError):
    """An anchors table that cannot be read: the message says what is wrong in one line, without the file's name,
    which the caller puts before it."""


def read_anchors(path) -> pd.DataFrame:
    """The anchors in `path`, checked: every column of COLUMNS, a game name as the workflow writes one, an agent, a
    finite score, a status that starts with verified or unverified, the text columns filled, one score per game and
    agent, and where the UNCERTAINTY columns are there, a spread and a count of runs given together or not at all.
    Rows keep the file's order (the agents' order in the table and on the panels); `low` and `high` are the ends of
    the score's interval (NaN without a spread)."""
    path = Path(path)
    if not path.is_file():
        raise AnchorsError(f"is not a file; point it at a table of published Atari 100k scores such as {EXAMPLE}")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise AnchorsError(f"is empty; an anchors table has a header {','.join(COLUMNS)} and a row per game and "
                           "agent") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise AnchorsError(f"is not a CSV table ({reason}); write it with the header {','.join(COLUMNS)}") from None
    table.columns = [str(column).strip() for column in table.columns]
    missing = [column for column in COLUMNS if column not in table.columns]
    if missing:
        raise AnchorsError(f"lacks the column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; an anchors table "
                           f"has the columns {','.join(COLUMNS)} (as {EXAMPLE})")
    if table.empty:
        raise AnchorsError(f"has a header and no rows; give a row per game and agent (as {EXAMPLE}), or leave the "
                           "anchors key empty")
    optional = [column for column in UNCERTAINTY if column in table.columns]
    if optional and optional != UNCERTAINTY:
        absent = next(column for column in UNCERTAINTY if column not in optional)
        raise AnchorsError(f"has the column {optional[0]} without {absent}; a mean's uncertainty needs both "
                           f"({', '.join(UNCERTAINTY)}), or leave both out")
    table = table[COLUMNS + optional].apply(lambda column: column.str.strip())
    scores, intervals = [], []
    for line, row in zip(range(2, len(table) + 2), table.to_dict("records")):
        where = f"line {line}"
        if not GAME.fullmatch(row["game"]):
            raise AnchorsError(f"{where}: game {row['game']!r} is not a game name (letters and digits, as Pong or "
                               "MsPacman)")
        if not row["agent"]:
            raise AnchorsError(f"{where}: the agent of {row['game']} is empty")
        try:
            score = float(row["score"])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise AnchorsError(f"{where}: score {row['score']!r} of {row['game']}, {row['agent']} is not a finite "
                               "number")
        if not STATUS.match(row["status"]):
            raise AnchorsError(f"{where}: status {row['status']!r} of {row['game']}, {row['agent']} does not start "
                               "with verified (read in the paper's own table) or unverified (then say on what it rests)")
        empty = [column for column in ("statistic", "protocol", "source") if not row[column]]
        if empty:
            raise AnchorsError(f"{where}: {row['game']}, {row['agent']} has no {' and no '.join(empty)}; every anchor "
                               "says what the number is, the protocol it was measured under and where it comes from")
        scores.append(score)
        intervals.append(interval(score, *uncertainty(row, where)) if optional else (math.nan, math.nan))
    twice = table[table.duplicated(["game", "agent"])]
    if len(twice):
        first = twice.iloc[0]
        raise AnchorsError(f"gives {first['game']}, {first['agent']} twice; keep one score per game and agent")
    low, high = zip(*intervals)
    return table[COLUMNS].assign(score=scores, low=list(low), high=list(high))


def uncertainty(row: dict, where: str) -> tuple[float, int] | tuple[None, None]:
    """A row's spread and count of runs, checked; (None, None) where both are empty."""
    spread, runs = row["spread"], row["runs"]
    if not spread and not runs:
        return None, None
    name = f"{row['game']}, {row['agent']}"
    if not spread or not runs:
        given, empty = ("spread", "runs") if spread else ("runs", "spread")
        raise AnchorsError(f"{where}: {name} gives {given} and no {empty}; give both (the standard deviation over "
                           "the runs behind the mean and how many), or neither")
    try:
        deviation = float(spread)
    except ValueError:
        deviation = math.nan
    if not math.isfinite(deviation) or deviation < 0:
        raise AnchorsError(f"{where}: spread {spread!r} of {name} is not a standard deviation (a finite number, 0 or "
                           "more)")
    if not re.fullmatch(r"[0-9]+", runs) or int(runs) < 2:
        raise AnchorsError(f"{where}: runs {runs!r} of {name} is not a count of 2 runs or more (one run has no "
                           "spread)")
    return deviation, int(runs)


def interval(score: float, spread: float | None, runs: int | None) -> tuple[float, float]:
    """The t-interval of a mean over `runs` runs whose standard deviation is `spread`; NaN ends without one."""
    if spread is None:
        return math.nan, math.nan
    low, high = t_interval(score, spread / math.sqrt(runs), runs - 1, CONFIDENCE)
    return float(low), float(high)


def agents(anchors: pd.DataFrame) -> list[str]:
    """The anchors' agents in the order the file first names them."""
    return list(dict.fromkeys(anchors["agent"]))


def verified(status: str) -> bool:
    return STATUS.match(status).group(1) == "verified"


def anchored(anchors: pd.DataFrame, games) -> list[str]:
    """The games of `games` that have an anchor, in their order, each once."""
    return [game for game in dict.fromkeys(games) if (anchors["game"] == game).any()]


def per_game(anchors: pd.DataFrame, games) -> pd.DataFrame:
    """Game (rows, in the order of `games`, only those with an anchor) × agent (columns, in file order): the score."""
    wide = anchors.pivot(index="game", columns="agent", values="score")
    return wide.reindex(index=anchored(anchors, games), columns=agents(anchors))


def context_columns(table: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    """The score table with a column anchor_<agent> per agent: the game's anchor, beside each of its rows; and for an
    agent with an interval on some game, anchor_<agent>_ci95_low and anchor_<agent>_ci95_high."""
    columns = {}
    for agent in agents(anchors):
        rows = anchors[anchors["agent"] == agent].set_index("game")
        columns[f"anchor_{agent}"] = rows["score"]
        if rows["low"].notna().any():
            columns[f"anchor_{agent}_ci95_low"], columns[f"anchor_{agent}_ci95_high"] = rows["low"], rows["high"]
    wide = pd.DataFrame(columns).reindex(index=anchored(anchors, table["game"]))
    return table.merge(wide, left_on="game", right_index=True, how="left")


def cell(anchors: pd.DataFrame, game: str, agent: str) -> str:
    row = anchors[(anchors["game"] == game) & (anchors["agent"] == agent)]
    if row.empty:
        return "–"
    row = row.iloc[0]
    bracket = "" if math.isnan(row["low"]) else f" [{row['low']:.1f}, {row['high']:.1f}]"
    return f"{row['score']:.1f}{bracket}" + ("" if verified(row["status"]) else "*")


def rows(anchors: pd.DataFrame, games) -> tuple[list[str], list[list[str]]]:
    """The anchors table as its header and rows: a row per game of `games` that has an anchor."""
    shown = per_game(anchors, games)
    header = ["game", *shown.columns]
    return header, [[game, *(cell(anchors, game, agent) for agent in shown.columns)] for game in shown.index]


def to_markdown(anchors: pd.DataFrame, games) -> str:
    """The section under scores.md's table: the context note, then the anchors of the table's games."""
    header, body = rows(anchors, games)
    if not body:
        return f"{CONTEXT}\n\nNone of this table's games ({', '.join(dict.fromkeys(games))}) has an anchor.\n"
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join([CONTEXT, "", *lines]) + "\n"


def latex_escape(text: str) -> str:
    for raw, escaped in [("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                         ("ε", r"$\varepsilon$"), ("–", "--"), ("*", r"$^{*}$")]:
        text = text.replace(raw, escaped)
    return re.sub(r"(?<![\w$])-(?=\d)", "$-$", text)  # a minus sign, not a hyphen


def to_latex(anchors: pd.DataFrame, games) -> str:
    """A second booktabs table, after the score table's, the context note as its caption."""
    header, body = rows(anchors, games)
    if not body:
        return ""
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{l " + "r" * (len(header) - 1) + "}",
             r"\toprule", " & ".join(latex_escape(name) for name in header) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(value) for value in row) + r" \\" for row in body]
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + latex_escape(CONTEXT) + "}",
              r"\label{tab:atari100k_anchors}", r"\end{table}"]
    return "\n".join(lines) + "\n"
