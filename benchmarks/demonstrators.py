"""Each scripted demonstrator against uniformly random play, under the suite's default protocol (not a test).

    python benchmarks/demonstrators.py [--episodes 10] [--seed 0] [--out benchmarks/demonstrators.csv]

Both play `--episodes` full episodes from `--seed` (the demonstrator's episodes are exactly what `python -m agents
demos --seed S` records); the table gives mean, worst and best score and episode length of each.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.cell import values  # noqa: E402
from agents.declarations import defaults  # noqa: E402
from agents.demos.files import play, random_scores  # noqa: E402
from agents.demos.scripted import DEMONSTRATORS  # noqa: E402
from agents.envs import make_env  # noqa: E402
from agents.io import write_csv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--protocol", default=defaults()["default_protocol"])
    parser.add_argument("--out", default="benchmarks/demonstrators.csv")
    args = parser.parse_args()
    protocol = values(defaults()["protocols"][args.protocol])
    rows = []
    for game, demonstrator in DEMONSTRATORS.items():
        env = make_env(game, protocol, args.seed)
        played = play(env, demonstrator.policy(env, args.seed), args.episodes, args.seed, label=game)
        env.close()
        scores = pd.Series([sum(episode.rewards) for episode in played])
        lengths = pd.Series([len(episode.actions) for episode in played])
        floor = random_scores(game, protocol, args.episodes, args.seed)["score"]
        rows.append({"game": game, "demonstrator": demonstrator.name, "episodes": args.episodes, "seed": args.seed,
                     "mean": scores.mean(), "worst": scores.min(), "best": scores.max(),
                     "mean_length": lengths.mean(), "random_mean": floor.mean(), "random_worst": floor.min(),
                     "random_best": floor.max()})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    write_csv(args.out, table)
    print(table.to_markdown(index=False, floatfmt=".1f"))


if __name__ == "__main__":
    main()
