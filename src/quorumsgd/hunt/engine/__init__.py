"""The distributed engine of hunts and sweeps (Dask distributed): :class:`Engine`, :func:`run_cases`."""

from quorumsgd.hunt.engine.cluster import Engine, Job, run_cases

__all__ = ["Engine", "Job", "run_cases"]
