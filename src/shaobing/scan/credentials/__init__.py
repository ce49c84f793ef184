"""Weak and default credential checks (B3): protocol adapters, dictionaries, runner."""
