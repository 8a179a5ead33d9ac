"""Execute proof notebooks: jupytext text -> nbformat -> nbclient, with a kernel of *this* interpreter.

The kernel runs ``sys.executable -m ipykernel_launcher``, whatever kernelspecs the user has installed (a
``python3`` spec in the user's Jupyter directories may point at another Python that lacks quorumsgd), so no
kernelspec setup is ever needed. Several notebooks run concurrently, each in its own kernel (a notebook's
state never leaks into another's).

A failed cell becomes a one-line error naming the notebook and, for a failed proof step
(:class:`quorumsgd.proofsite.kit.ProofStepFailed`), the step.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quorumsgd.proofsite.kit import QUICK_ENV, summary_of
from quorumsgd.proofsite.registry import ProofNotebook

KERNEL_NAME = "quorumsgd-proofs"
"""Name of the kernel the renderer starts (served by :class:`_ThisInterpreter`, never looked up on disk)."""

DOWNLOAD_KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
"""Kernelspec written into the executed ``.ipynb`` files, so that Jupyter opens them with a standard kernel."""

_STEP = re.compile(r"proof step '(?P<step>.*)' failed")


@dataclass
class Execution:
    """One executed notebook.

    Attributes:
        notebook: which result.
        nb: the executed notebook (partially executed when a cell failed).
        elapsed_s: wall time of the execution, kernel start included.
        summary: the notebook's proof summary (:meth:`quorumsgd.proofsite.kit.Proof.summary`), if it got there.
        error: one line naming the notebook and what failed, or None.
        step: the proof step that failed, if a proof step failed.
    """

    notebook: ProofNotebook
    nb: Any
    elapsed_s: float
    summary: dict[str, Any] | None = None
    error: str | None = None
    step: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def read_notebook(path: Path) -> Any:
    """Read a jupytext percent file into an nbformat v4 notebook with a standard kernelspec."""
    import jupytext

    nb = jupytext.read(path)
    nb.metadata["kernelspec"] = dict(DOWNLOAD_KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def _kernel_manager() -> Any:
    """A kernel manager whose only kernel is an ipykernel of the running interpreter."""
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class _ThisInterpreter(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(
                argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (quorumsgd)",
                language="python",
                metadata={},
                env={},
            )

        def find_kernel_specs(self) -> dict[str, str]:
            return {KERNEL_NAME: str(Path(sys.executable).parent)}

    return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=_ThisInterpreter())


def kernel_env(quick: bool, threads: int | None) -> dict[str, str]:
    """The kernel's environment: quick mode, inline figures, and (when notebooks run side by side) thread caps."""
    env = dict(os.environ)
    env[QUICK_ENV] = "1" if quick else "0"
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"  # quiet the debugger's frozen-modules warning on stderr
    if threads is not None:  # concurrent kernels must not each spawn a thread per core
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env


def _failure(notebook: ProofNotebook, nb: Any, err: BaseException) -> tuple[str, str | None]:
    """One line naming the notebook, the cell and the failed proof step (or the exception)."""
    ename = getattr(err, "ename", type(err).__name__)
    evalue = str(getattr(err, "evalue", err)).strip().splitlines()
    first = evalue[0] if evalue else ""
    cell = next(
        (i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))),
        None,
    )
    where = f" (cell {cell})" if cell is not None else ""
    match = _STEP.search(first)
    if match:
        return f"{notebook.name}: {first}{where}", match.group("step")
    if ename == "CellTimeoutError" or "timed out" in first.lower():
        return f"{notebook.name}: a cell timed out{where}: {first}", None
    return f"{notebook.name}: {ename}: {first}{where}", None


async def execute_notebook(notebook: ProofNotebook, path: Path, *, quick: bool, workdir: Path,
                           timeout: float = 900.0, threads: int | None = None) -> Execution:
    """Execute one notebook in a fresh kernel; never raises for a failing cell (see :attr:`Execution.error`)."""
    from nbclient import NotebookClient

    nb = read_notebook(path)
    client = NotebookClient(
        nb, timeout=math.ceil(timeout), km=_kernel_manager(),  # nbclient takes whole seconds allow_errors=False, record_timing=False,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    error = step = None
    log = workdir / f"{notebook.stem}.kernel.log"
    # The kernel's own stderr (startup warnings, a crash) goes to a log file, not over the progress display.
    with open(log, "wb") as stderr:
        try:
            await client.async_execute(env=kernel_env(quick, threads), stderr=stderr)
        except Exception as err:  # a failed cell, a timeout or a dead kernel: reported, never a traceback
            error, step = _failure(notebook, nb, err)
    elapsed = time.perf_counter() - start
    summary = None
    for cell in nb.cells:
        if cell.cell_type == "code":
            summary = summary_of(cell.get("outputs", [])) or summary
    if error is None and summary is None:
        error = f"{notebook.name}: the notebook did not display its proof summary (Proof.summary)"
    return Execution(notebook, nb, elapsed, summary, error, step)


def execute_all(items: Sequence[tuple[ProofNotebook, Path]], *, quick: bool, workdir: Path, jobs: int = 1,
                timeout: float = 900.0, on_start: Callable[[ProofNotebook], None] | None = None,
                on_done: Callable[[Execution], None] | None = None) -> list[Execution]:
    """Execute notebooks, ``jobs`` at a time, each in its own kernel; results in the order of ``items``."""
    jobs = max(1, int(jobs))
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None

    async def run() -> list[Execution]:
        gate = asyncio.Semaphore(jobs)

        async def one(notebook: ProofNotebook, path: Path) -> Execution:
            async with gate:
                if on_start:
                    on_start(notebook)
                result = await execute_notebook(notebook, path, quick=quick, workdir=workdir, timeout=timeout,
                                                threads=threads)
                if on_done:
                    on_done(result)
                return result

        return list(await asyncio.gather(*(one(nb, p) for nb, p in items)))

    return asyncio.run(run())
