"""Verification: measured deviations against derived bounds, property tests, the claims ledger, the report."""
