"""Scanning: scan runs and their plans (the engine and checks arrive with the scan issue)."""
