# From stored run outputs to the tables, figures and claims ledger. Every output marked report() appears, with its
# caption from report/, in the page that `snakemake --report report.html` writes.


localrules:
    verify,
    collect,
    scores,
    scores_table,
    aggregates,
    claims,
    learning_curves,
    transition,
    demo_sweep,
    transfer,


rule collect:
    input:
        summaries=stored([f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/summary.json" for g, m, d, s in CELLS]),
        progress=stored([f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/progress.csv" for g, m, d, s in CELLS]),
        evaluations=stored([f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/eval.csv" for g, m, d, s in CELLS]),
        ladders=stored([f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/pretrain_eval.csv" for g, m, d, s in CELLS]),
        demo_stats=stored(expand(f"{RESULTS}/demos/{{game}}/{{demos}}.stats.csv", game=DEMO_GAMES, demos=DEMO_SETS)),
        random=stored(expand(f"{RESULTS}/baselines/{{game}}.random.csv", game=GAMES)),
        code=[local(path) for path in ANALYSIS_CODE],
    output:
        runs=f"{TABLES}/runs.csv",
        episodes=f"{TABLES}/episodes.csv",
        interaction_evals=f"{TABLES}/interaction_evals.csv",
        demonstrators=f"{TABLES}/demonstrators.csv",
        demo_sets=f"{TABLES}/demo_sets.csv",
        sweep_runs=f"{TABLES}/demo_sweep_runs.csv",
        random=f"{TABLES}/random.csv",
        missing_csv=f"{TABLES}/missing_runs.csv",
        missing_markdown=f"{TABLES}/missing_runs.md",
    params:
        results=lambda wildcards, output: os.path.dirname(os.path.dirname(output.runs)),
        cells=" ".join(CELL_IDS),
        reference=REFERENCE_DEMOS,
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/collect.log",
    shell:
        "python -m analysis collect --results {params.results:q} --cells {params.cells}"
        " --demo-stats {input.demo_stats:q} --reference-demos {params.reference} --random-scores {input.random:q}"
        " --runs {output.runs:q}"
        " --episodes {output.episodes:q} --interaction-evals {output.interaction_evals:q}"
        " --demonstrators {output.demonstrators:q} --demo-sets {output.demo_sets:q}"
        " --sweep-runs {output.sweep_runs:q} --random {output.random:q}"
        " --missing-csv {output.missing_csv:q} --missing-markdown {output.missing_markdown:q} > {log:q} 2>&1"


rule scores:
    input:
        runs=rules.collect.output.runs,
        episodes=rules.collect.output.episodes,
        interaction_evals=rules.collect.output.interaction_evals,
        demonstrators=rules.collect.output.demonstrators,
        random=rules.collect.output.random,
    output:
        report(f"{TABLES}/run_scores.csv", caption="../report/run_scores.rst", category="Tables"),
    params:
        window_fraction=config["window_fraction"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/scores.log",
    shell:
        "python -m analysis scores --runs {input.runs:q} --episodes {input.episodes:q}"
        " --interaction-evals {input.interaction_evals:q} --demonstrators {input.demonstrators:q}"
        " --random {input.random:q} --window-fraction {params.window_fraction}"
        " --out {output:q} > {log:q} 2>&1"


# With `anchors`, the tables and the learning-curve figures show those published scores too (analysis/anchors.py);
# without it, their commands and outputs are what they were before the key existed.
ANCHORS_INPUT = {"anchors": local(ANCHORS)} if ANCHORS else {}
ANCHORS_ARGUMENT = " --anchors {input.anchors:q}" if ANCHORS else ""


rule scores_table:
    input:
        scores=rules.scores.output[0],
        published=local(PUBLISHED),
        missing=rules.collect.output.missing_csv,
        **ANCHORS_INPUT,
    output:
        csv=report(f"{TABLES}/scores.csv", caption="../report/scores.rst", category="Tables"),
        markdown=f"{TABLES}/scores.md",
        latex=f"{TABLES}/scores.tex",
    params:
        window_fraction=config["window_fraction"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/scores_table.log",
    shell:
        "python -m analysis table --scores {input.scores:q} --published {input.published:q} --missing {input.missing:q}"
        " --window-fraction {params.window_fraction} --csv {output.csv:q} --markdown {output.markdown:q}"
        " --latex {output.latex:q}" f"{ANCHORS_ARGUMENT} > {{log:q}} 2>&1"


rule aggregates:
    input:
        rules.scores.output[0],
    output:
        csv=report(f"{TABLES}/aggregates.csv", caption="../report/aggregates_table.rst", category="Tables"),
        markdown=f"{TABLES}/aggregates.md",
        profiles=f"{TABLES}/performance_profiles.csv",
        improvement=f"{TABLES}/improvement.csv",
        **figure_outputs("intervals", f"{FIGURES}/aggregates.png", "../report/aggregates.rst"),
        **figure_outputs("profiles_figure", f"{FIGURES}/performance_profiles.png", "../report/profiles.rst"),
        **figure_outputs("improvement_figure", f"{FIGURES}/improvement.png", "../report/improvement.rst"),
    params:
        methods=",".join(METHODS),
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/aggregates.log",
    shell:
        "python -m analysis aggregate --scores {input:q} --methods {params.methods} --csv {output.csv:q}"
        " --markdown {output.markdown:q} --profiles {output.profiles:q} --improvement {output.improvement:q}"
        " --intervals-figure {output.intervals:q} --profiles-figure {output.profiles_figure:q}"
        " --improvement-figure {output.improvement_figure:q} > {log:q} 2>&1"


rule claims:
    input:
        scores=rules.scores.output[0],
        demonstrators=rules.collect.output.demonstrators,
        published=local(PUBLISHED),
    output:
        csv=report(f"{TABLES}/claims.csv", caption="../report/claims.rst", category="Claims ledger"),
        details=report(f"{TABLES}/claims_per_game.csv", caption="../report/claims_per_game.rst",
                       category="Claims ledger"),
        markdown=f"{TABLES}/claims.md",
    params:
        error_rate=config["error_rate"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/claims.log",
    shell:
        "python -m analysis claims --scores {input.scores:q} --demonstrators {input.demonstrators:q}"
        " --published {input.published:q} --error-rate {params.error_rate} --csv {output.csv:q}"
        " --details {output.details:q} --markdown {output.markdown:q} > {log:q} 2>&1"


rule learning_curves:
    input:
        episodes=rules.collect.output.episodes,
        runs=rules.collect.output.runs,
        scores=rules.scores.output[0],
        **ANCHORS_INPUT,
    output:
        **figure_outputs("figure", f"{FIGURES}/learning_curves.png", "../report/learning_curves.rst"),
    params:
        methods=",".join(METHODS),
        bins=config["curve_bins"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/learning_curves.log",
    shell:
        "python -m analysis curves --episodes {input.episodes:q} --runs {input.runs:q} --scores {input.scores:q}"
        " --methods {params.methods} --bins {params.bins} --out {output.figure:q}"
        f"{ANCHORS_ARGUMENT} > {{log:q}} 2>&1"


# Runs evaluated greedily along interaction (interaction_eval_every > 0) also get their curve of those evaluations, the
# Atari 100k papers' view; the published anchors, greedy evaluations themselves, are drawn there too.
rule greedy_curves:
    input:
        interaction_evals=rules.collect.output.interaction_evals,
        runs=rules.collect.output.runs,
        scores=rules.scores.output[0],
        **ANCHORS_INPUT,
    output:
        **figure_outputs("figure", f"{FIGURES}/greedy_curves.png", "../report/greedy_curves.rst"),
    params:
        methods=",".join(METHODS),
        bins=config["curve_bins"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/greedy_curves.log",
    shell:
        "python -m analysis greedy-curves --interaction-evals {input.interaction_evals:q} --runs {input.runs:q}"
        " --scores {input.scores:q} --methods {params.methods} --bins {params.bins} --out {output.figure:q}"
        f"{ANCHORS_ARGUMENT} > {{log:q}} 2>&1"


rule transition:
    input:
        episodes=rules.collect.output.episodes,
        runs=rules.collect.output.runs,
        scores=rules.scores.output[0],
        **ANCHORS_INPUT,
    output:
        **figure_outputs("figure", f"{FIGURES}/transition.png", "../report/transition.rst"),
    params:
        methods=",".join(PHASED_METHODS),
        bins=config["curve_bins"],
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/transition.log",
    shell:
        "python -m analysis transition --episodes {input.episodes:q} --runs {input.runs:q} --scores {input.scores:q}"
        " --methods {params.methods} --bins {params.bins} --out {output.figure:q}"
        f"{ANCHORS_ARGUMENT} > {{log:q}} 2>&1"


# Scores against demo quality and quantity, when the matrix has more than one demo set.
rule demo_sweep:
    input:
        runs=rules.collect.output.sweep_runs,
        demo_sets=rules.collect.output.demo_sets,
        random=rules.collect.output.random,
    output:
        csv=report(f"{TABLES}/demo_sweep.csv", caption="../report/demo_sweep_table.rst", category="Tables"),
        markdown=f"{TABLES}/demo_sweep.md",
        **figure_outputs("figure", f"{FIGURES}/demo_sweep.png", "../report/demo_sweep.rst"),
    params:
        methods=",".join(METHODS),
        reference=REFERENCE_DEMOS,
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/demo_sweep.log",
    shell:
        "python -m analysis demo-sweep --runs {input.runs:q} --demo-sets {input.demo_sets:q} --random {input.random:q}"
        " --methods {params.methods} --reference-demos {params.reference} --csv {output.csv:q}"
        " --markdown {output.markdown:q} --out {output.figure:q} > {log:q} 2>&1"


# The transfer study: scores and agreement along the pretraining ladder, when a method of the matrix has one.
rule transfer:
    input:
        runs=rules.collect.output.runs,
        demonstrators=rules.collect.output.demonstrators,
        random=rules.collect.output.random,
        ladders=stored([f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/pretrain_eval.csv" for g, m, d, s in CELLS
                        if m in LADDER_METHODS]),
    output:
        csv=report(f"{TABLES}/transfer.csv", caption="../report/transfer_table.rst", category="Tables"),
        rungs=f"{TABLES}/transfer_runs.csv",
        markdown=f"{TABLES}/transfer.md",
        **figure_outputs("figure", f"{FIGURES}/transfer.png", "../report/transfer.rst"),
    params:
        methods=",".join(LADDER_METHODS),
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/analysis/transfer.log",
    shell:
        "python -m analysis transfer --runs {input.runs:q} --demonstrators {input.demonstrators:q}"
        " --random {input.random:q} --methods {params.methods} --csv {output.csv:q} --rungs {output.rungs:q}"
        " --markdown {output.markdown:q} --out {output.figure:q} > {log:q} 2>&1"


ANALYSIS_OUTPUTS = [
    *rules.scores_table.output,
    *rules.aggregates.output,
    *rules.claims.output,
    *(rules.learning_curves.output if INTERACTING_METHODS else []),
    *(rules.greedy_curves.output if GREEDY_METHODS else []),
    *(rules.transition.output if PHASED_METHODS else []),
    *(rules.transfer.output if LADDER_METHODS else []),
    *(rules.demo_sweep.output if len(DEMO_SETS) > 1 and any(USES_DEMOS.values()) else []),
]


# `snakemake figures`: rebuild every table and figure from the runs already stored, without training.
rule figures:
    input:
        ANALYSIS_OUTPUTS,


# `snakemake verify --cores 1`: rerun the cheapest `verify_cells` cells of this config's committed reference results
# (reference/<name of results_dir>) on this machine and compare them with their records (python -m analysis verify):
# the report is RESULTS/verify/report.md. With no output it runs whenever it is asked for, and never otherwise.
rule verify:
    params:
        reference=f"reference/{os.path.basename(os.path.normpath(RESULTS))}",
        cells=config["verify_cells"],
        out=f"{RESULTS}/verify",
    conda:
        SUITE_ENV
    threads: 1  # each rerun trains on the threads its record states, one after the other (the reference's: 1)
    log:
        f"{RESULTS}/logs/analysis/verify.log",
    shell:
        # The report goes to the terminal as well as the log: the user asked for it and waits on it.
        "python -m analysis verify --reference {params.reference:q} --cells {params.cells} --out {params.out:q}"
        " 2>&1 | tee {log:q}"
