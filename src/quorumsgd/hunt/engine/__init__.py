"""The distributed engine of hunts, now :mod:`quorumsgd.engine` (shared with ``verify``); kept as an alias."""

from quorumsgd.engine import Engine, Job, RunStats, run_cases

__all__ = ["Engine", "Job", "RunStats", "run_cases"]
