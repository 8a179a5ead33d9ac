"""The case store of hunts, now :mod:`quorumsgd.engine.store` (shared with ``verify``); kept as an alias."""

from quorumsgd.engine.store import CaseStore, StoreUnreadable

__all__ = ["CaseStore", "StoreUnreadable"]
