"""The proof site: one executed notebook per result of the paper, rendered as browsable HTML.

* :mod:`~quorumsgd.proofsite.registry` — the notebooks (``proofs/*.py``, jupytext percent format) and where
  they are found (one copy, in ``proofs/`` of the checkout; ``notebooks`` here is a link to it);
* :mod:`~quorumsgd.proofsite.kit` — what the notebooks use besides the public API: executed proof steps
  (:class:`~quorumsgd.proofsite.kit.Proof`), math display, the measured-vs-bound plots, quick mode;
* :mod:`~quorumsgd.proofsite.execute` — nbclient execution with a kernel of the running interpreter;
* :mod:`~quorumsgd.proofsite.site` — nbconvert pages, the index, the bundled KaTeX;
* :mod:`~quorumsgd.proofsite.cli` — ``quorumsgd proofs render``.

Rendering uses jupytext, nbclient, nbconvert and ipykernel (default dependencies); importing this package does not.
"""
