"""``quorumsgd train study``: the whole Sec. 6 study (Figs 7-12, Table 1, claims C13-C18) in one command.

    quorumsgd train study --out runs/study                                  # offline digits regime
    quorumsgd train study --dataset cifar10 --data-root data --device cuda --out runs/cifar
    quorumsgd train study --only fig9,table1 --out runs/study               # a subset
    quorumsgd train study --out runs/study                                  # again, after Ctrl-C: resumes

It prints the planned work and a time estimate, trains what is missing (finished runs are reused, an
interrupted run resumes from its last epoch), and writes ``fig7.png`` ... ``fig12.png``, ``table1.md`` and
``table1/table1.json``, ``claims.md`` and ``claims.json``, and ``study.json`` (every choice for the paper's
unknown hyperparameters, also recorded in each run's ``results.json``).
"""

from __future__ import annotations

from pathlib import Path

import typer

from quorumsgd.clikit import Interrupted
from quorumsgd.errors import InvalidParameter
from quorumsgd.training.signals import terminate_as_interrupt


def study_command(
    out: Path = typer.Option(..., "--out", help="study directory (rerun the same command to resume)"),
    dataset: str = typer.Option("digits", "--dataset", help="digits (offline regime) or cifar10"),
    data_root: str | None = typer.Option(None, "--data-root", help="CIFAR-10 directory"),
    download: bool = typer.Option(False, "--download", help="download CIFAR-10 into --data-root"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N"),
    only: str | None = typer.Option(None, "--only", help="comma-separated subset of fig7..fig12, table1"),
    preset: str | None = typer.Option(None, "--preset", help="digits, cifar10 or tiny (default: the dataset's)"),
    epochs: int | None = typer.Option(None, "--epochs", help="override the preset's epochs per run"),
    seeds: int | None = typer.Option(None, "--seeds", help="override the preset's seeds per variant"),
    threads: int | None = typer.Option(None, "--threads", help="torch CPU threads (1 on a shared machine)"),
    precision: str = typer.Option("strict", "--precision",
                                  help="strict (fp32, deterministic: the claims' mode) or fast (TF32 on a GPU)"),
    estimate: bool = typer.Option(True, "--estimate/--no-estimate", help="time a short probe first"),
    plan_only: bool = typer.Option(False, "--plan", help="print the planned work and the estimate, then stop"),
) -> None:
    """Every experiment of Sec. 6 with the documented choices; figures, Table 1 and claim verdicts."""
    from quorumsgd.training.data import DATASETS
    from quorumsgd.training.study import Study, StudyChoices, estimate_seconds, study_data

    if threads is not None:
        if threads < 1:
            raise InvalidParameter("threads", "threads >= 1", threads)
        import torch

        torch.set_num_threads(threads)
    if dataset not in DATASETS:
        raise InvalidParameter("dataset", f"one of {', '.join(DATASETS)}", dataset)
    changes = {k: v for k, v in (("epochs", epochs), ("n_seeds", seeds)) if v is not None}
    choices = StudyChoices.preset(preset or dataset, **changes)
    if choices.dataset != dataset:  # e.g. the tiny preset on CIFAR-10, whose images are always 32 x 32
        choices = StudyChoices.preset(preset or dataset, dataset=dataset, **changes,
                                      **({"image_size": 32} if dataset == "cifar10" else {}))
    study = Study(choices, out, data_root=data_root, download=download, device=device,
                  only=None if only is None else [v.strip() for v in only.split(",") if v.strip()],
                  echo=lambda line: typer.echo(line, err=True), precision=precision)
    if plan_only:
        data = study_data(choices, data_root, download, device)
        typer.echo(study.describe(estimate_seconds(choices, study.runs, data, device) if estimate else None))
        return
    try:
        with terminate_as_interrupt():  # SIGTERM (timeout, kill, a scheduler) ends the study like Ctrl-C
            result = study.run(estimate=estimate)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted: every finished epoch is saved under {out}; rerun the same command to "
                          "continue") from None
    typer.echo(f"study written to {out}: " + ", ".join(f"{c['claim']} {c['verdict']}" for c in result["claims"]))
