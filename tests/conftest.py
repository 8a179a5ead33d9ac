"""Shared test configuration: deterministic hypothesis profiles and the GPU marker."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# Deterministic by default: same examples on every run (CI must never be flaky).
settings.register_profile("default", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough",
    deadline=None,
    derandomize=True,
    max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("QUORUMSGD_HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(autouse=True, scope="session")
def _private_theorem_cache(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The disk cache of compiled theorems (quorumsgd.theorem_cache) goes to a temporary folder, not ~/.cache.

    One folder for the whole run, shared by the xdist workers (the session's base temp folder's parent): what one
    worker derives or solves (compiled theorems, the SDP and bracket tables of verify's report) the other reads.
    """
    previous = os.environ.get("QUORUMSGD_CACHE_DIR")
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # popen-gwN's parent: common to the workers of this run
    folder = root / "theorem-cache"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.environ["QUORUMSGD_CACHE_DIR"] = str(folder)
    yield
    if previous is None:
        os.environ.pop("QUORUMSGD_CACHE_DIR", None)
    else:
        os.environ["QUORUMSGD_CACHE_DIR"] = previous


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread_for_training(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Training tests use tiny tensors: OpenMP wake-ups cost more than the work, and xdist runs a worker
    per core, so they run torch single-threaded."""
    if not request.module.__name__.split(".")[-1].startswith("test_training"):
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run ``quorumsgd ARGS...`` in-process; returns (exit code, stdout, stderr)."""
    from quorumsgd.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            main(list(argv))
            code = 0
        except SystemExit as stop:
            code = int(stop.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a declared dependency
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cuda_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (run on a GPU machine with -m gpu)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)
