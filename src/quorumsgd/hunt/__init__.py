"""``quorumsgd hunt``: the adversarial search for the worst case of each bound, from below.

* :mod:`~quorumsgd.hunt.cases` — a case (family, noise, parameters) and its evaluation by a verify check;
* :mod:`~quorumsgd.hunt.search` — optuna TPE over the theorem's hypotheses; :mod:`~quorumsgd.hunt.racing` —
  successive halving with common random numbers;
* :mod:`quorumsgd.engine` (the layer below, shared with ``verify``) — every case in SQLite, keyed by (seed,
  case): resumable; Dask distributed (local cluster by default, ``--scheduler`` for a real one);
* :mod:`~quorumsgd.hunt.report` — the worst case, the sandwich (found / SDP certificate / paper / exact
  quadratic), plots; :mod:`~quorumsgd.hunt.cli` — the command.
"""
