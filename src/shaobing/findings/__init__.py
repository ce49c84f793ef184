"""Findings: one model for every source, fingerprinted so repeats merge."""
