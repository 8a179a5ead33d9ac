"""``quorumsgd train``: N-agent CNN training runs and the Table 1 grid.

    quorumsgd train --algorithm easgd --n-agents 4 --coupling 0.5 --epochs 20 --dataset digits --out runs/easgd
    quorumsgd train --algorithm easgd ... --out runs/easgd --resume          # after an interrupt
    quorumsgd train table1 --dataset digits --epochs 10 --out runs/table1
    torchrun --standalone --nproc-per-node 2 -m quorumsgd.training.cli --algorithm qsgd --n-agents 4 --out runs/q

Bad input raises :class:`quorumsgd.errors.InvalidParameter`; the root ``quorumsgd`` command (and
``python -m quorumsgd.training.cli``) prints it as one line and exits with code 2.
"""

import json
import sys

import typer

from quorumsgd.clikit import Interrupted, make_app, output_dir, run
from quorumsgd.errors import InvalidParameter
from quorumsgd.training.config import TrainConfig
from quorumsgd.training.recipes import ALGORITHMS
from quorumsgd.training.signals import terminate_as_interrupt
from quorumsgd.training.table1 import DEFAULT_LRS, DEFAULT_MOMENTA, format_table1, run_table1

app = make_app(
    "Train N agents of the paper's CNN (Sec. 6) with MSGD, EASGD, EASGD-WM, QSGD or SD-QSGD; "
    "'table1' runs the Table 1 grid."
)


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    """``"0.1,0.2"`` -> ``(0.1, 0.2)``; anything else is an InvalidParameter."""
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise InvalidParameter(name, "be comma-separated numbers", text) from None
    if not values:
        raise InvalidParameter(name, "be at least one number", text)
    return values


def parse_widths(text: str) -> tuple[int, int, int]:
    try:
        widths = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise InvalidParameter("widths", "be three comma-separated integers, e.g. 64,128,64", text) from None
    if len(widths) != 3:
        raise InvalidParameter("widths", "be three comma-separated integers, e.g. 64,128,64", text)
    return widths  # type: ignore[return-value]


def _progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


@app.callback(invoke_without_command=True)
def train(
    ctx: typer.Context,
    algorithm: str | None = typer.Option(None, "--algorithm", help=f"one of {', '.join(ALGORITHMS)}"),
    algo: str | None = typer.Option(None, "--algo", hidden=True, help="old name of --algorithm"),
    n_agents: int = typer.Option(4, "--n-agents", help="number of agents p"),
    lr: float = typer.Option(0.05, "--lr", help="initial learning rate (every agent)"),
    agent_lrs: str | None = typer.Option(None, "--agent-lrs", help="initial rate per agent, comma-separated"),
    momentum: float = typer.Option(0.9, "--momentum", help="Nesterov momentum delta"),
    coupling: float = typer.Option(1.0, "--coupling", help="coupling gain k (EASGD alpha = lr*k)"),
    epochs: int = typer.Option(10, "--epochs"),
    batch_size: int = typer.Option(128, "--batch-size"),
    dataset: str = typer.Option("digits", "--dataset", help="digits (offline) or cifar10"),
    data_root: str | None = typer.Option(None, "--data-root", help="CIFAR-10 directory"),
    download: bool = typer.Option(False, "--download", help="download CIFAR-10 into --data-root"),
    device: str = typer.Option("cpu", "--device", help="cpu, cuda or cuda:N"),
    seed: int = typer.Option(0, "--seed"),
    init: str = typer.Option("distinct", "--init", help="distinct or common initial points"),
    widths: str = typer.Option("64,128,64", "--widths", help="conv channels of the three blocks"),
    dropout: float = typer.Option(0.5, "--dropout"),
    pool_kernel: int = typer.Option(2, "--pool-kernel"),
    padding: str = typer.Option("same", "--padding", help="same or valid"),
    image_size: int = typer.Option(32, "--image-size", help="digits are upsampled to this size"),
    lr_schedule: str = typer.Option("plateau", "--lr-schedule", help="plateau (per agent) or constant"),
    plateau_threshold: float = typer.Option(0.01, "--plateau-threshold"),
    plateau_patience: int = typer.Option(5, "--plateau-patience"),
    ema_epochs: float = typer.Option(0.25, "--ema-epochs", help="QSGD / SD-QSGD quorum EMA horizon (epochs)"),
    magnification: float = typer.Option(5.0, "--magnification", help="SD-QSGD A_mag"),
    spike_divisor: float = typer.Option(10.0, "--spike-divisor", help="SD-QSGD tau = batches/divisor"),
    on_divergence: str = typer.Option("drop", "--on-divergence", help="drop the agent, or stop"),
    batching: str = typer.Option("auto", "--batching", help="auto (fastest, measured), grouped, vmap or loop"),
    precision: str = typer.Option("strict", "--precision",
                                  help="strict (fp32, no TF32, deterministic: for claims) or fast (TF32)"),
    bf16: bool = typer.Option(False, "--bf16", help="with --precision fast: bf16 autocast, fp32 parameters"),
    compile_step: bool = typer.Option(False, "--compile", help="torch.compile the step (CUDA graphs on a GPU)"),
    eval_batch_size: int = typer.Option(500, "--eval-batch-size"),
    max_train: int | None = typer.Option(None, "--max-train", help="cap on training samples"),
    max_eval: int | None = typer.Option(None, "--max-eval", help="cap on validation / test samples"),
    train_eval_size: int | None = typer.Option(None, "--train-eval-size", help="samples for the train loss"),
    out_arg: str | None = typer.Option(None, "--out", help="output directory"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in --out"),
    progress: bool | None = typer.Option(None, "--progress/--no-progress"),
    json_out: bool = typer.Option(False, "--json", help="print the summary as JSON"),
) -> None:
    """Train one configuration (results.json, checkpoint.pt and training.png in --out)."""
    if ctx.invoked_subcommand is not None:
        return
    if algorithm is not None and algo is not None and algorithm != algo:
        raise InvalidParameter("--algorithm", "be given once (--algo is its old name)", f"{algorithm} and {algo}")
    algorithm = algorithm or algo
    if algorithm is None:
        raise InvalidParameter("--algorithm", f"be one of {', '.join(ALGORITHMS)} (pass --algorithm)")
    if out_arg is None:
        raise InvalidParameter("--out", "be an output folder (pass --out DIR)")
    out = output_dir(out_arg)
    config = TrainConfig(
        algo=algorithm, n_agents=n_agents, lr=lr,
        agent_lrs=None if agent_lrs is None else parse_floats(agent_lrs, "agent_lrs"),
        momentum=momentum, coupling=coupling, epochs=epochs, batch_size=batch_size, dataset=dataset,
        data_root=data_root, download=download, device=device, seed=seed, init=init,
        widths=parse_widths(widths), dropout=dropout, pool_kernel=pool_kernel, padding=padding,
        image_size=image_size, lr_schedule=lr_schedule, plateau_threshold=plateau_threshold,
        plateau_patience=plateau_patience, ema_epochs=ema_epochs, magnification=magnification,
        spike_divisor=spike_divisor, on_divergence=on_divergence, batching=batching, precision=precision,
        bf16=bf16, compile=compile_step, eval_batch_size=eval_batch_size, max_train=max_train, max_eval=max_eval,
        train_eval_size=train_eval_size, progress=_progress(progress),
    )
    from quorumsgd.training.distributed import launched_by_torchrun, train_distributed
    from quorumsgd.training.engine import Trainer

    main_rank = True
    try:
        if launched_by_torchrun():
            import os

            main_rank = int(os.environ.get("RANK", "0")) == 0
            results = train_distributed(config, out, resume=resume)
        else:
            with terminate_as_interrupt():  # SIGTERM (timeout, kill) saves and reports like Ctrl-C
                results = Trainer(config, out).run(resume=resume)
    except KeyboardInterrupt:
        if main_rank:
            raise Interrupted(f"interrupted: completed epochs are saved in {out}/results.json; "
                              "continue with the same command and --resume") from None
        raise SystemExit(130) from None  # the main rank says it, once
    if not main_rank:
        return
    summary = results["summary"]
    if json_out:
        typer.echo(json.dumps({"status": results["status"], "out": str(out), **summary}))
    else:
        typer.echo(
            f"{results['status']}: {config.algo} x{config.n_agents} on {config.dataset}, "
            f"{summary['epochs_run']} epochs; quorum min test loss {_fmt(summary['quorum_min_test_loss'])}, "
            f"min test error {_fmt(summary['quorum_min_test_error'])}; "
            f"{len(results['divergence'])} divergence event(s); results in {out}"
        )
    if results["status"] != "completed":
        raise typer.Exit(1)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


@app.command("table1")
def table1(
    dataset: str = typer.Option("digits", "--dataset", help="digits (offline) or cifar10"),
    data_root: str | None = typer.Option(None, "--data-root"),
    download: bool = typer.Option(False, "--download"),
    device: str = typer.Option("cpu", "--device"),
    lrs: str = typer.Option(",".join(f"{v:g}" for v in DEFAULT_LRS), "--lrs", help="column learning rates"),
    momenta: str = typer.Option(",".join(f"{v:g}" for v in DEFAULT_MOMENTA), "--momenta", help="row blocks"),
    seeds: int = typer.Option(3, "--seeds", help="runs averaged per cell"),
    seed: int = typer.Option(0, "--seed", help="first seed"),
    epochs: int = typer.Option(20, "--epochs"),
    n_agents: int = typer.Option(1, "--n-agents", help="agents per run (1: the paper's non-distributed case)"),
    coupling: float = typer.Option(1.0, "--coupling"),
    batch_size: int = typer.Option(128, "--batch-size"),
    widths: str = typer.Option("64,128,64", "--widths"),
    dropout: float = typer.Option(0.5, "--dropout"),
    image_size: int = typer.Option(32, "--image-size"),
    lr_schedule: str = typer.Option("plateau", "--lr-schedule"),
    batching: str = typer.Option("auto", "--batching"),
    precision: str = typer.Option("strict", "--precision", help="strict (for claims) or fast (TF32)"),
    max_train: int | None = typer.Option(None, "--max-train"),
    max_eval: int | None = typer.Option(None, "--max-eval"),
    train_eval_size: int | None = typer.Option(None, "--train-eval-size"),
    out_arg: str | None = typer.Option(None, "--out", help="directory for every run and table1.{json,txt}"),
    progress: bool | None = typer.Option(None, "--progress/--no-progress"),
) -> None:
    """EASGD-WM vs EASGD vs MSGD over learning rates x momenta, averaged over seeds (paper's layout)."""
    if seeds < 1:
        raise InvalidParameter("--seeds", "be an integer >= 1", seeds)
    out = None if out_arg is None else output_dir(out_arg)
    base = TrainConfig(
        algo="msgd", n_agents=n_agents, coupling=coupling, epochs=epochs, batch_size=batch_size,
        dataset=dataset, data_root=data_root, download=download, device=device, seed=seed,
        widths=parse_widths(widths), dropout=dropout, image_size=image_size, lr_schedule=lr_schedule,
        batching=batching, precision=precision, max_train=max_train, max_eval=max_eval,
        train_eval_size=train_eval_size, progress=False,
    )
    lr_values, momentum_values = parse_floats(lrs, "lrs"), parse_floats(momenta, "momenta")
    for value in lr_values:
        base.replace(lr=value)  # validates each rate up front, before hours of training
    for value in momentum_values:
        base.replace(momentum=value)
    show = _progress(progress)
    total = len(lr_values) * (1 + 2 * len(momentum_values)) * seeds
    done = [0]

    def report(cfg: TrainConfig, results: dict) -> None:
        done[0] += 1
        if show:
            typer.echo(f"[{done[0]}/{total}] {cfg.algo} lr={cfg.lr:g} momentum={cfg.momentum:g} "
                       f"seed={cfg.seed}: {results['status']}", err=True)

    table = run_table1(base, lr_values, momentum_values, seeds, out, on_run=report)
    typer.echo(format_table1(table))


from quorumsgd.training.study_cli import study_command  # noqa: E402  (the Sec. 6 study, its own module)

app.command("study")(study_command)


def main(argv: list[str] | None = None) -> None:
    """``python -m quorumsgd.training.cli`` (e.g. under torchrun): this sub-command alone, same error style.

    The root ``quorumsgd`` command is the usual entry point; this one exists so that torchrun can start the
    training command directly (``-m quorumsgd.training.cli``).
    """
    run(app, argv)


if __name__ == "__main__":
    main()
