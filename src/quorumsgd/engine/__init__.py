"""Where cases run and where their results are kept, shared by ``quorumsgd hunt`` and ``quorumsgd verify``.

* :class:`Engine` / :func:`run_cases` (:mod:`quorumsgd.engine.cluster`): cases through Dask distributed
  (a local cluster, a real scheduler, or in-process), each result stored as it arrives;
* :class:`CaseStore` (:mod:`quorumsgd.engine.store`): the SQLite file of finished cases (resume);
* :func:`folder_lock` (:mod:`quorumsgd.engine.lock`): one process per output folder.

This layer imports neither :mod:`quorumsgd.hunt` nor :mod:`quorumsgd.verify`: both import it.
"""

from quorumsgd.engine.cluster import Engine, Job, RunStats, run_cases
from quorumsgd.engine.lock import FolderBusy, folder_lock
from quorumsgd.engine.store import CaseStore, StoreUnreadable

__all__ = ["CaseStore", "Engine", "FolderBusy", "Job", "RunStats", "StoreUnreadable", "folder_lock", "run_cases"]
