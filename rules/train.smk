def demo_input(wildcards):
    return [f"{RESULTS}/demos/{wildcards.game}.npz"] if USES_DEMOS[wildcards.method] else []


rule train:
    input:
        demos=demo_input,
    output:
        summary=f"{RUN_DIR}/summary.json",
        progress=f"{RUN_DIR}/progress.csv",
        evaluation=f"{RUN_DIR}/eval.csv",
        config=f"{RUN_DIR}/config.yaml",
        provenance=f"{RUN_DIR}/provenance.json",
        model=f"{RUN_DIR}/model.pt",
    params:
        profile=lambda wildcards: json.dumps(cell_profile(wildcards.method), sort_keys=True),
        demos=lambda wildcards, input: f"--demos {input.demos}" if input.demos else "",
        run_dir=RUN_DIR,
        # Not an output: Snakemake leaves it alone when a job dies, so the rerun resumes from it.
        checkpoint_dir=f"{RESULTS}/checkpoints/{{game}}/{{method}}/seed_{{seed}}",
    log:
        f"{RESULTS}/logs/train/{{game}}_{{method}}_seed_{{seed}}.log",
    threads: config["threads_per_run"]
    resources:
        mem_mb=config["train_mem_mb"],
    shell:
        "python -m agents train --game {wildcards.game} --method {wildcards.method} --seed {wildcards.seed}"
        " {params.demos} --out {params.run_dir} --threads {threads} --checkpoint-dir {params.checkpoint_dir}"
        " --profile-json {params.profile:q} > {log} 2>&1"
