"""Target credentials (J2): SSH passwords and keys, database passwords, kept in the vault.

Each credential belongs to one engagement; its secret is encrypted with
:mod:`shaobing.core.vault` (AES-256-GCM, key file outside the database) and is never shown
again once stored. Baseline checks launched from the CLI or the console use it by name.
"""
