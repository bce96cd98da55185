"""`python -m analysis COMMAND`: the workflow's aggregation steps, each reading stored run outputs.

collect → scores (the tidy run table) → table, aggregate, claims, curves, transition, greedy-curves;
collect → transfer.
publish copies a results folder's records into reference/; migrate brings records written under old names to today's;
verify reruns a sample of a reference's cells on this machine and compares them with their records.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import pandas as pd

from agents.io import write_csv, write_text


REFERENCE = Path(__file__).resolve().parents[1] / "reference"
REFERENCES = ("default", "claims", "transfer")


def optional_csv(path, columns=()):
    return pd.read_csv(path) if path and Path(path).is_file() else pd.DataFrame(columns=list(columns))


FIGURE = ("the figure's double-column PNG; its PDF and the single-column pair (NAME_column.png, NAME_column.pdf) are "
          "written beside it")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m analysis", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)
    collect = commands.add_parser("collect", help="run folders → tidy tables; cells without a complete run listed")
    collect.add_argument("--results", required=True, help="the results folder (for the logs of missing runs)")
    collect.add_argument("--cells", nargs="+", required=True, help="the matrix, as GAME/METHOD/DEMO_SET/SEED")
    collect.add_argument("--demo-stats", nargs="*", default=[], help="demos/<game>/<demo set>.stats.csv files")
    collect.add_argument("--reference-demos", required=True, help="the demo set of the main comparison")
    collect.add_argument("--random-scores", nargs="*", default=[], help="per-game random-play score tables")
    for name in ("runs", "episodes", "demonstrators", "demo-sets", "sweep-runs", "random", "missing-csv",
                 "missing-markdown"):
        collect.add_argument(f"--{name}", required=True)
    collect.add_argument("--interaction-evals", help="every episode of the runs' greedy evaluations along interaction "
                                                     "(interaction_eval.csv), one table")

    scores = commands.add_parser("scores", help="the tidy run table: initial, last-window and final scores")
    for name in ("runs", "episodes", "demonstrators", "random", "out"):
        scores.add_argument(f"--{name}", required=True)
    scores.add_argument("--window-fraction", type=float, required=True)
    scores.add_argument("--interaction-evals", help="the greedy evaluations along interaction (collect's table), for "
                                                    "initial_greedy")

    table = commands.add_parser("table", help="game × method score table (CSV, Markdown, LaTeX)")
    for name in ("scores", "csv", "markdown", "latex"):
        table.add_argument(f"--{name}", required=True)
    table.add_argument("--published", help="published scores (game, method, score, metric, source, status)")
    table.add_argument("--missing", help="the cells without a complete run, to mention under the table")
    table.add_argument("--anchors", help="published Atari 100k scores shown as context (the workflow's anchors: "
                                         "game, agent, score, statistic, protocol, source, status)")
    table.add_argument("--window-fraction", type=float, required=True)

    aggregate = commands.add_parser("aggregate", help="IQM, performance profiles, probability of improvement")
    for name in ("scores", "csv", "markdown", "profiles", "improvement"):
        aggregate.add_argument(f"--{name}", required=True)
    for name in ("intervals-figure", "profiles-figure", "improvement-figure"):
        aggregate.add_argument(f"--{name}", required=True, help=FIGURE)
    aggregate.add_argument("--methods", required=True, help="comma-separated; the first is compared with the rest")

    claims = commands.add_parser("claims", help="the claims ledger")
    for name in ("scores", "csv", "details", "markdown"):
        claims.add_argument(f"--{name}", required=True)
    claims.add_argument("--demonstrators", help="the demonstrator's episodes (tables/demonstrators.csv)")
    claims.add_argument("--published")
    claims.add_argument("--error-rate", type=float, default=0.05,
                        help="the ledger's familywise error rate (the workflow's error_rate)")

    calibrate = commands.add_parser(
        "calibrate", help="the ledger's coverage, error rate and power, measured by simulation on committed spreads")
    calibrate.add_argument("--results", nargs="+", default=[str(REFERENCE / name) for name in REFERENCES],
                           help="results folders whose tables/run_scores.csv and tables/demonstrators.csv give the "
                                "scenarios (default: the committed reference results)")
    calibrate.add_argument("--error-rate", type=float, default=0.05, help="the ledger's familywise error rate")
    calibrate.add_argument("--studies", type=int, default=2000, help="simulated studies per cell")
    calibrate.add_argument("--seed", type=int, default=0, help="the simulation's random seed")
    calibrate.add_argument("--no-bootstrap", action="store_true",
                           help="skip the (slow) coverage of the bootstrap intervals the suite does not print")
    calibrate.add_argument("--markdown", help="also write the tables here")

    spans = commands.add_parser(
        "spans", help="how much the normalisation's own uncertainty (demonstrator and random means) moves the "
                      "ledger's across-game differences, by simulation on a results folder's records")
    spans.add_argument("--results", nargs="+", default=[str(REFERENCE / name) for name in REFERENCES],
                       help="results folders whose tables/run_scores.csv, demonstrators.csv and random.csv are read "
                            "(default: the committed reference results)")
    spans.add_argument("--draws", type=int, default=20_000, help="simulated draws, the same for every claim")
    spans.add_argument("--seed", type=int, default=0, help="the simulation's random seed")
    spans.add_argument("--markdown", help="also write the tables here")

    sweep = commands.add_parser("demo-sweep", help="final scores against demo quality and quantity")
    for name in ("runs", "demo-sets", "random", "csv", "markdown"):
        sweep.add_argument(f"--{name}", required=True)
    sweep.add_argument("--out", required=True, help=FIGURE)
    sweep.add_argument("--methods", required=True, help="comma-separated, in legend order")
    sweep.add_argument("--reference-demos", required=True)

    transfer = commands.add_parser("transfer", help="scores and agreement with the demonstrator along pretraining")
    for name in ("runs", "demonstrators", "random", "csv", "rungs", "markdown"):
        transfer.add_argument(f"--{name}", required=True)
    transfer.add_argument("--out", required=True, help=FIGURE)
    transfer.add_argument("--methods", required=True, help="comma-separated, in legend order")

    publish = commands.add_parser("publish", help="copy a results folder's run records, tables and figures into a "
                                                  "reference folder (reference/<config>), without weights, under "
                                                  "today's names")
    publish.add_argument("--results", required=True, help="the working results folder, e.g. results/default")
    publish.add_argument("--reference", required=True, help="the reference folder, e.g. reference/default")

    verify = commands.add_parser("verify", help="rerun a sample of a reference's cells on this machine, compare them "
                                                "with their records and say which claims ledger verdicts hold")
    verify.add_argument("--reference", required=True, help="a reference folder, e.g. reference/default")
    verify.add_argument("--cells", nargs="+", required=True,
                        help="how many cells, the cheapest first by recorded wall time, or the cells as GAME/METHOD/SEED "
                             "(GAME/METHOD/DEMO_SET/SEED where a method ran on several demo sets)")
    verify.add_argument("--out", help="scratch folder of the reruns and report.md (default: "
                                      "results/<reference name>/verify; never inside reference/)")
    verify.add_argument("--config", help="the workflow config that made the reference (default: the config/*.yaml "
                                         "whose results_dir has the reference's name)")
    verify.add_argument("--code", choices=("checkout", "recorded"), default="checkout",
                        help="train with this checkout's agents package, or with the commit each run records "
                             "(extracted from git): tells a difference the code made from one the machine made")

    migrate = commands.add_parser("migrate", help="rewrite, in place, a results or reference folder written under "
                                                  "the suite's old names (set names scripted_eps…, demos.epsilon, "
                                                  "priority_eps_*, mixed_precision false/true) under today's, and the "
                                                  "demo file its runs name by "
                                                  "an absolute path relative to the run folder; a second run changes "
                                                  "nothing")
    migrate.add_argument("--results", required=True, help="the folder, e.g. results/default or reference/transfer")

    for name, text, played in (("curves", "learning curves, one panel per game", "episodes"),
                               ("transition", "scores around the end of the demonstration phase (N_p)", "episodes"),
                               ("greedy-curves", "greedy evaluations along interaction, one panel per game",
                                "interaction-evals")):
        curves = commands.add_parser(name, help=text)
        for option in (played, "runs", "scores"):
            curves.add_argument(f"--{option}", required=True)
        curves.add_argument("--out", required=True, help=FIGURE)
        curves.add_argument("--methods", required=True, help="comma-separated, in legend order")
        curves.add_argument("--bins", type=int, default=20)
        curves.add_argument("--anchors", help="published Atari 100k scores drawn as labelled lines on their games' "
                                              "panels (the workflow's anchors)")
    return main


def anchors_or_exit(path):
    """The anchors table at `path` (None without one), or the run ends with one line saying what is wrong in it."""
    if not path:
        return None
    from .anchors import AnchorsError, read_anchors

    try:
        return read_anchors(path)
    except AnchorsError as error:
        sys.exit(f"error: --anchors {path} {error}")


def _collect(args) -> None:
    from .collect import collect, interaction_evaluations, read_tables
    from .failures import failed_cells, to_markdown

    cells = [tuple(cell.split("/")) for cell in args.cells]
    cells = [(game, method, demos, int(seed)) for game, method, demos, seed in cells]
    runs, episodes, demonstrators, demo_sets, sweep = collect(args.results, cells, args.demo_stats,
                                                              args.reference_demos)
    missing = failed_cells(args.results, cells)
    write_csv(args.random, read_tables(args.random_scores, ["game", "episode", "score", "length"]))
    write_csv(args.runs, runs)
    write_csv(args.episodes, episodes)
    write_csv(args.demonstrators, demonstrators)
    write_csv(args.demo_sets, demo_sets)
    write_csv(args.sweep_runs, sweep)
    write_csv(args.missing_csv, missing)
    if args.interaction_evals:
        write_csv(args.interaction_evals, interaction_evaluations(args.results, cells, args.reference_demos))
    write_text(args.missing_markdown, to_markdown(missing, len(cells)))
    print(f"{len(runs)} of {len(cells)} runs complete, {len(episodes)} interaction episodes, "
          f"{len(demonstrators)} demo episodes")


def _scores(args) -> None:
    from .scores import score_runs

    write_csv(args.out, score_runs(pd.read_csv(args.runs), pd.read_csv(args.episodes),
                                   pd.read_csv(args.demonstrators), pd.read_csv(args.random),
                                   args.window_fraction, optional_csv(args.interaction_evals)))


def _table(args) -> None:
    from .tables import scores_table, to_latex, to_markdown

    anchors = anchors_or_exit(args.anchors)
    result = scores_table(pd.read_csv(args.scores), optional_csv(args.published), anchors)
    missing = len(optional_csv(args.missing))
    write_csv(args.csv, result)
    note = (f"\n{missing} cells of the matrix have no complete run and are not in this table: see "
            f"{Path(args.missing).with_suffix('.md').name}.\n") if missing else ""
    write_text(args.markdown, to_markdown(result, args.window_fraction, anchors, note))
    write_text(args.latex, to_latex(result, args.window_fraction, anchors))


def _aggregate(args) -> None:
    from .aggregate import aggregate_table, improvement_table, performance_profile
    from .aggregate_plots import plot_improvement, plot_intervals, plot_profiles, thresholds

    scores, methods = pd.read_csv(args.scores), args.methods.split(",")
    columns = ["initial_normalised", "final_normalised"]
    aggregates = aggregate_table(scores, methods, columns)
    levels = thresholds(scores)
    normalised = [method for method in methods
                  if scores.loc[scores["method"] == method, "final_normalised"].notna().any()]
    profiles = [performance_profile(scores, method, "final_normalised", levels).assign(method=method)
                for method in normalised]
    profiles = pd.concat(profiles, ignore_index=True) if profiles else pd.DataFrame(
        columns=["threshold", "share", "method"])
    pairs = [(methods[0], other) for other in methods[1:]]
    improvement = pd.concat([improvement_table(scores, pairs, column) for column in columns],
                            ignore_index=True)
    write_csv(args.csv, aggregates)
    unnormalised = [method for method in methods if method not in normalised and (scores["method"] == method).any()]
    write_text(args.markdown, aggregates_markdown(aggregates, improvement, unnormalised))
    write_csv(args.profiles, profiles)
    write_csv(args.improvement, improvement)
    plot_intervals(aggregates, methods, args.intervals_figure)
    plot_profiles(profiles, methods, args.profiles_figure)
    plot_improvement(improvement, args.improvement_figure)


def _claims(args) -> None:
    from .claims import Ledger, to_markdown
    from .tables import published_scores

    published = optional_csv(args.published, ["game", "method", "score", "metric", "status"])
    demonstrators = optional_csv(args.demonstrators, ["game", "score"])
    summary, details = Ledger(pd.read_csv(args.scores), published_scores(published), demonstrators,
                              args.error_rate).evaluate()
    write_csv(args.csv, summary)
    write_csv(args.details, details)
    write_text(args.markdown, to_markdown(summary, details, args.error_rate))


def _per_results(args, needed: tuple[str, ...], analysed: str, heading: str, section) -> None:
    """For each folder of --results: its `needed` tables checked (one line naming the first missing; `analysed` says
    what analysis makes them), then `section(tables)` under the folder's name, printed, and with --markdown written
    together."""
    sections = []
    for folder in args.results:
        tables = Path(folder) / "tables"
        absent = next((tables / name for name in needed if not (tables / name).is_file()), None)
        if absent is not None:
            sys.exit(f"error: {absent} not found: give --results a results folder whose analysis has run{analysed} "
                     "(snakemake --cores N), or run from a clone that has reference/")
        # Named as the repository names it, never by a machine's absolute path.
        name = os.path.relpath(folder, REFERENCE.parent) if Path(folder).is_absolute() else folder
        sections.append(f"{heading} {name}\n\n" + section(tables))
        print(sections[-1], flush=True)
    if args.markdown:
        write_text(args.markdown, "\n".join(sections))


def _calibrate(args) -> None:
    from .calibrate import calibrate, to_markdown
    from .claims import Ledger

    def section(tables: Path) -> str:
        ledger = Ledger(pd.read_csv(tables / "run_scores.csv"), pd.DataFrame(columns=["game", "method", "published"]),
                        optional_csv(tables / "demonstrators.csv", ["game", "score"]), args.error_rate)
        result = calibrate(ledger, studies=args.studies, seed=args.seed, bootstrap=not args.no_bootstrap)
        return to_markdown(result, args.error_rate, args.studies)

    _per_results(args, ("run_scores.csv",), "", "##", section)


def _spans(args) -> None:
    from .claims import Ledger
    from .spans import sensitivity, to_markdown

    # The columns the ledger and the simulation read, checked before any draw: a table from another tool or an older
    # suite is refused by name, and an error inside the simulation is not mistaken for one.
    needed = {"run_scores.csv": ("game", "method", "demonstrator_mean", "random_mean"),
              "demonstrators.csv": ("game", "score"), "random.csv": ("game", "score")}

    def section(tables: Path) -> str:
        read = {name: pd.read_csv(tables / name) for name in needed}
        for name, columns in needed.items():
            missing = [column for column in columns if column not in read[name]]
            if missing:
                sys.exit(f"error: {tables / name} lacks the column{'s' if len(missing) > 1 else ''} "
                         f"{', '.join(missing)}; rebuild the tables with `snakemake figures` (the workflow's analysis)")
        ledger = Ledger(read["run_scores.csv"], pd.DataFrame(columns=["game", "method", "published"]),
                        read["demonstrators.csv"])
        return to_markdown(sensitivity(ledger, read["random.csv"], args.draws, args.seed), args.draws)

    _per_results(args, tuple(needed), " with demonstrations", "###", section)


def _demo_sweep(args) -> None:
    from .demo_sweep import plot_sweep, sweep_table, to_markdown

    table = sweep_table(pd.read_csv(args.runs), pd.read_csv(args.demo_sets), pd.read_csv(args.random))
    write_csv(args.csv, table)
    write_text(args.markdown, to_markdown(table))
    plot_sweep(table, args.methods.split(","), args.reference_demos, args.out)


def _transfer(args) -> None:
    from .scores import baselines
    from .transfer import plot_transfer, rung_rows, to_markdown, transfer_table

    methods = args.methods.split(",")
    runs = pd.read_csv(args.runs)
    rungs = rung_rows(runs[runs["method"].isin(methods)])
    table = transfer_table(rungs, baselines(pd.read_csv(args.demonstrators), pd.read_csv(args.random)))
    write_csv(args.rungs, rungs)
    write_csv(args.csv, table)
    write_text(args.markdown, to_markdown(table))
    plot_transfer(rungs, table, methods, args.out)


def _publish(args) -> int:
    from .publish import publish

    copied, changes = publish(args.results, args.reference)
    runs = sum(path.name == "summary.json" for path in copied)
    print(f"{len(copied)} files of {runs} complete runs and their tables and figures → {args.reference}")
    return report_migration(changes, args.reference, quiet=True)


def _migrate(args) -> int:
    from agents.renames import migrate

    if not Path(args.results).is_dir():
        print(f"error: {args.results} is not a folder; pass a results folder such as results/default",
              file=sys.stderr)
        return 2
    return report_migration(migrate(args.results), args.results)


def _verify(args) -> int:
    from agents.errors import ConfigError, OutputError

    from .verify import verify

    try:
        print(verify(args.reference, args.cells, args.out, args.config, args.code))
    except (ConfigError, OutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _curves(args) -> None:
    """curves, transition and greedy-curves: the learning curves, the scores around the end of the demonstration
    phase, or the greedy evaluations along interaction."""
    from .curves import plot_greedy_curves, plot_learning_curves, plot_transition
    from .scores import per_game

    plot = {"curves": plot_learning_curves, "transition": plot_transition,
            "greedy-curves": plot_greedy_curves}[args.command]
    played = args.interaction_evals if args.command == "greedy-curves" else args.episodes
    plot(pd.read_csv(played), pd.read_csv(args.runs), per_game(pd.read_csv(args.scores)),
         args.methods.split(","), args.bins, args.out, anchors_or_exit(args.anchors))


# What each command of the parser runs: None when it has written its outputs, or the exit status it reports.
COMMANDS = {"collect": _collect, "scores": _scores, "table": _table, "aggregate": _aggregate, "claims": _claims,
            "calibrate": _calibrate, "spans": _spans, "demo-sweep": _demo_sweep, "transfer": _transfer,
            "publish": _publish, "migrate": _migrate, "verify": _verify, "curves": _curves, "transition": _curves,
            "greedy-curves": _curves}


def main(argv=None) -> int:
    commands = parser()
    args = commands.parse_args(argv)
    if args.command not in COMMANDS:  # a command the parser offers but nothing here runs
        commands.error(f"command {args.command!r} is not implemented; implemented: {', '.join(COMMANDS)}")
    if "error_rate" in args and not 0 < args.error_rate <= 0.5:
        sys.exit(f"error: --error-rate={args.error_rate:g} is not a familywise error rate in (0, 0.5]; the ledger's "
                 "is 0.05 unless the workflow config's error_rate says otherwise")
    if "studies" in args and args.studies < 100:
        sys.exit(f"error: --studies={args.studies} is too few to measure a coverage (±{50 / max(args.studies, 1) ** 0.5:.0f}"
                 " points or worse); give at least 100, and 2,000 for the figures docs/ledger.md quotes")
    if "draws" in args and args.draws < 100:
        sys.exit(f"error: --draws={args.draws} is too few for a spread's 95% range; give at least 100 (20,000, the "
                 "default, for the figures docs/statistics.md quotes)")
    return COMMANDS[args.command](args) or 0


def report_migration(changes, folder, quiet: bool = False) -> int:
    """Print what a migration changed, a file a line; 1 when a file had to be left as it was."""
    for change in changes:
        print(change)
    left = sum(change.note.startswith("left") for change in changes)
    kept = sum(change.note.startswith("kept") for change in changes)
    done = len(changes) - left - kept
    if done:
        print(f"{folder}: {done} files brought to today's names and paths; rebuild its tables and figures from them "
              f"with `snakemake figures --forceall --configfile config/<config>.yaml --config results_dir={folder}`")
    elif not quiet and not left:
        print(f"{folder}: nothing to migrate, every record has today's names and paths")
    if kept:
        print(f"{folder}: {kept} records still name their demo file by an absolute path (above), which only the "
              "machine that ran them can follow; they are kept as recorded")
    if left:
        print(f"{folder}: {left} files left as they were (above); move or remove them, then migrate again")
    return 1 if left else 0


def aggregates_markdown(aggregates: pd.DataFrame, improvement: pd.DataFrame, unnormalised: list[str] = ()) -> str:
    lines = ["| method | score | games | runs | mean over games [95% interval] | IQM | median |",
             "|---|---|---|---|---|---|---|"]
    for row in aggregates.to_dict("records"):
        interval = "" if pd.isna(row["mean_ci95_low"]) else \
            f" [{row['mean_ci95_low']:.2f}, {row['mean_ci95_high']:.2f}]"
        lines.append(f"| {row['method']} | {row['score'].replace('_normalised', '')} | {row['games']} | {row['runs']} | "
                     f"{row['mean']:.2f}{interval} | {row['iqm']:.2f} | {row['median']:.2f} |")
    lines += ["", "| comparison | score | games | probability of improvement |", "|---|---|---|---|"]
    lines += [f"| P({row['x']} > {row['y']}) | {row['score'].replace('_normalised', '')} | {row['games']} | "
              f"{row['probability']:.2f} |" for row in improvement.to_dict("records")]
    lines += ["", "Demonstrator-normalised scores, (score − random)/(demonstrator mean − random): 0 is random play, 1 "
              "the demonstrator. Mean over games: each game's mean over its runs, averaged with equal weight, with a "
              "95% stratified t-interval (the claims ledger's; a single seed in a game leaves it open). IQM and "
              "median pool every run of every game. Probability of improvement: per game the share of run pairs where "
              "the first method scores higher (ties count half), averaged over games. IQM, median and probability of "
              "improvement have no interval: with this few games and seeds their bootstrap intervals cover far less "
              "than they state (`python -m analysis calibrate` measures it)."]
    if unnormalised:
        from .aggregate import NOT_NORMALISED

        lines += ["", f"Not here: {', '.join(unnormalised)}, whose runs have {NOT_NORMALISED}; their raw scores "
                      "are in scores.md."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
