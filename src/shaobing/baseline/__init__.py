"""Baseline compliance checks and hardening (requirements C1–C4).

Rules are data (``rules/*.yaml``), evaluated through collectors that read a host (local,
an offline filesystem tree, or SSH) or query a database, and turned into findings.
"""
