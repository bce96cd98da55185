# A run also writes interaction_eval.csv (its greedy evaluations along interaction, empty when interaction_eval_every
# is 0). It is not declared below: runs recorded before it existed would count as incomplete and train again; the
# analysis reads it where it is (analysis/collect.py), and summary.json, declared and written last, marks the run done.
rule train:
    input:
        demos=demo_input,
    output:
        summary=f"{RUN_DIR}/summary.json",
        progress=f"{RUN_DIR}/progress.csv",
        evaluation=f"{RUN_DIR}/eval.csv",
        pretrain_evaluation=f"{RUN_DIR}/pretrain_eval.csv",
        config=f"{RUN_DIR}/config.yaml",
        provenance=f"{RUN_DIR}/provenance.json",
        model=f"{RUN_DIR}/model.pt",
    params:
        config=lambda wildcards: json.dumps(cell_config(wildcards.method), sort_keys=True),
        demos=lambda wildcards, input: f"--demos {shlex.quote(str(input.demos))}" if input.demos else "",
        checkpoint_dir=f"{CHECKPOINT_ROOT}/{{game}}/{{method}}/{{demos}}/seed_{{seed}}",
    conda:
        SUITE_ENV
    log:
        f"{RESULTS}/logs/train/{{game}}_{{method}}_{{demos}}_seed_{{seed}}.log",
    threads: config["resources"]["threads_per_run"]
    resources:
        mem_mb=train_mem_mb,
        runtime=train_runtime_min,
        gpu=config["resources"]["gpus_per_run"],  # with a GPU the run uses CUDA (--device auto)
    shell:
        "python -m agents train --game {wildcards.game} --method {wildcards.method} --seed {wildcards.seed}"
        " {params.demos} --out \"$(dirname {output.summary:q})\" --threads {threads}"
        " --checkpoint-dir {params.checkpoint_dir:q} --config-json {params.config:q} > {log:q} 2>&1"
