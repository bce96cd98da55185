# One demo set of one game: recorded from the scripted demonstrator with the set's action noise, or cut from a demo
# file of another source. Sets of the same source and noise share the seed, so a smaller set is the first episodes of
# a larger one: quantity varies alone. The set's values (source, noise, episodes) come from demo_sets() in
# agents/matrix.py by the set's name, never parsed back from the name; the demo file and its stats record them.
rule demos:
    input:
        source_file=lambda wildcards: demo_source_file(wildcards.game, wildcards.demos) or [],
    output:
        demos=f"{RESULTS}/demos/{{game}}/{{demos}}.npz",
        stats=f"{RESULTS}/demos/{{game}}/{{demos}}.stats.csv",
    params:
        config=lambda wildcards: json.dumps(demo_config(), sort_keys=True),
        episodes=lambda wildcards: DEMO_SETS[wildcards.demos]["episodes"],
        noise=lambda wildcards: DEMO_SETS[wildcards.demos]["noise"],
        from_file=lambda wildcards, input: f"--from {shlex.quote(str(input.source_file))}" if input.source_file else "",
        seed=config["demos"]["seed"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/demos/{{game}}_{{demos}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,  # minutes; 5 DemonAttack episodes, the longest, take about one here
    shell:
        "python -m agents demos --game {wildcards.game} --episodes {params.episodes} --seed {params.seed}"
        " --noise {params.noise} {params.from_file} --out {output.demos:q} --stats {output.stats:q}"
        " --config-json {params.config:q} > {log:q} 2>&1"


rule random_play:
    output:
        f"{RESULTS}/baselines/{{game}}.random.csv",
    params:
        config=lambda wildcards: json.dumps(demo_config(), sort_keys=True),
        episodes=config["random_episodes"],
        seed=config["demos"]["seed"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/baselines/{{game}}.log",
    threads: 1
    resources:
        mem_mb=2000,  # the emulator and the score table; a cluster job without a request may get a whole node
        runtime=60,
    shell:
        "python -m agents random --game {wildcards.game} --episodes {params.episodes} --seed {params.seed}"
        " --out {output:q} --config-json {params.config:q} > {log:q} 2>&1"
