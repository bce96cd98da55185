rule collect:
    input:
        summaries=expand(f"{RUN_DIR}/summary.json", game=GAMES, method=METHODS, seed=SEEDS),
        demo_stats=expand(f"{RESULTS}/demos/{{game}}.stats.csv", game=DEMO_GAMES),
        random=expand(f"{RESULTS}/baselines/{{game}}.random.csv", game=GAMES),
    output:
        runs=f"{RESULTS}/tables/runs.csv",
        episodes=f"{RESULTS}/tables/episodes.csv",
        demonstrators=f"{RESULTS}/tables/demonstrators.csv",
        random=f"{RESULTS}/tables/random.csv",
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/collect.log",
    shell:
        "python -m analysis collect --summaries {input.summaries} --demo-stats {input.demo_stats}"
        " --random-scores {input.random} --runs {output.runs} --episodes {output.episodes}"
        " --demonstrators {output.demonstrators} --random {output.random} > {log} 2>&1"


rule scores_table:
    input:
        runs=rules.collect.output.runs,
        episodes=rules.collect.output.episodes,
        demonstrators=rules.collect.output.demonstrators,
        random=rules.collect.output.random,
    output:
        csv=f"{RESULTS}/tables/scores.csv",
        markdown=f"{RESULTS}/tables/scores.md",
    params:
        early_fraction=config["early_fraction"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/scores_table.log",
    shell:
        "python -m analysis table --runs {input.runs} --episodes {input.episodes}"
        " --demonstrators {input.demonstrators} --random {input.random} --early-fraction {params.early_fraction}"
        " --csv {output.csv} --markdown {output.markdown} > {log} 2>&1"


rule curves:
    input:
        episodes=rules.collect.output.episodes,
        runs=rules.collect.output.runs,
        demonstrators=rules.collect.output.demonstrators,
        random=rules.collect.output.random,
    output:
        f"{RESULTS}/figures/curves_{{game}}.png",
    params:
        methods=",".join(METHODS),
        bins=config["curve_bins"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/curves_{{game}}.log",
    shell:
        "python -m analysis curves --game {wildcards.game} --episodes {input.episodes} --runs {input.runs}"
        " --demonstrators {input.demonstrators} --random {input.random} --methods {params.methods}"
        " --bins {params.bins} --out {output}"
        " > {log} 2>&1"
