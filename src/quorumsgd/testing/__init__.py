"""Helpers for the test suite and for property-based tests of users' code (not imported by the toolkit itself).

:mod:`quorumsgd.testing.strategies` needs ``hypothesis``, which the ``[test]`` extra installs
(``pip install "quorumsgd[test]"``); the toolkit's runtime does not depend on it.
"""
