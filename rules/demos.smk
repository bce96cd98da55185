rule demos:
    output:
        demos=f"{RESULTS}/demos/{{game}}.npz",
        stats=f"{RESULTS}/demos/{{game}}.stats.csv",
    params:
        profile=lambda wildcards: json.dumps(demo_profile(), sort_keys=True),
        episodes=config["demos"]["episodes"],
        seed=config["demos"]["seed"],
        epsilon=config["demos"]["epsilon"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/demos/{{game}}.log",
    threads: 1
    resources:
        mem_mb=4000,
    shell:
        "python -m agents demos --game {wildcards.game} --episodes {params.episodes} --seed {params.seed}"
        " --epsilon {params.epsilon} --out {output.demos} --stats {output.stats} --profile-json {params.profile:q} > {log} 2>&1"


rule random_play:
    output:
        f"{RESULTS}/baselines/{{game}}.random.csv",
    params:
        profile=lambda wildcards: json.dumps(demo_profile(), sort_keys=True),
        episodes=config["random_episodes"],
        seed=config["demos"]["seed"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/baselines/{{game}}.log",
    threads: 1
    shell:
        "python -m agents random --game {wildcards.game} --episodes {params.episodes} --seed {params.seed}"
        " --out {output} --profile-json {params.profile:q} > {log} 2>&1"
