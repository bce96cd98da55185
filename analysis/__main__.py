"""`python -m analysis {collect,table,curves}`: the workflow's aggregation steps, each reading stored run outputs."""
from __future__ import annotations

import argparse
import sys

import pandas as pd

from agents.io import write_csv, write_text


def optional_csv(path):
    return pd.read_csv(path) if path else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    collect = commands.add_parser("collect", help="run folders → tidy tables")
    collect.add_argument("--summaries", nargs="+", required=True)
    collect.add_argument("--demo-stats", nargs="*", default=[])
    collect.add_argument("--runs", required=True)
    collect.add_argument("--episodes", required=True)
    collect.add_argument("--demonstrators", required=True)
    collect.add_argument("--random-scores", nargs="*", default=[], help="per-game random-play score tables")
    collect.add_argument("--random", help="all random-play scores, one table")
    table = commands.add_parser("table", help="game × method score table (CSV and Markdown)")
    table.add_argument("--runs", required=True)
    table.add_argument("--demonstrators", required=True)
    table.add_argument("--episodes", help="interaction episodes, for the early-interaction score")
    table.add_argument("--random", help="random-play scores")
    table.add_argument("--early-fraction", type=float, default=0.5,
                       help="the early-interaction window, as a fraction of each run's agent steps")
    table.add_argument("--csv", required=True)
    table.add_argument("--markdown", required=True)
    curves = commands.add_parser("curves", help="learning curves of one game (PNG)")
    curves.add_argument("--game", required=True)
    curves.add_argument("--episodes", required=True)
    curves.add_argument("--runs", required=True)
    curves.add_argument("--demonstrators", required=True)
    curves.add_argument("--random", help="random-play scores")
    curves.add_argument("--methods", required=True, help="comma-separated, in legend and colour order")
    curves.add_argument("--bins", type=int, default=20)
    curves.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    if args.command == "collect":
        from .collect import collect as gather, read_tables

        runs, episodes, demonstrators = gather(args.summaries, args.demo_stats)
        if args.random:
            write_csv(args.random, read_tables(args.random_scores, ["game", "episode", "score", "length"]))
        write_csv(args.runs, runs)
        write_csv(args.episodes, episodes)
        write_csv(args.demonstrators, demonstrators)
        print(f"{len(runs)} runs, {len(episodes)} interaction episodes, {len(demonstrators)} demo episodes")
    elif args.command == "table":
        from .tables import scores_table, to_markdown

        result = scores_table(pd.read_csv(args.runs), pd.read_csv(args.demonstrators),
                              episodes=optional_csv(args.episodes), random=optional_csv(args.random),
                              early_fraction=args.early_fraction)
        write_csv(args.csv, result)
        write_text(args.markdown, to_markdown(result, args.early_fraction))
    elif args.command == "curves":
        from .curves import plot_game

        plot_game(args.game, pd.read_csv(args.episodes), pd.read_csv(args.runs), pd.read_csv(args.demonstrators),
                  args.methods.split(","), args.bins, args.out, random=optional_csv(args.random))
    return 0


if __name__ == "__main__":
    sys.exit(main())
