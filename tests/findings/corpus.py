"""Location of the third-party scanner output samples (read in place, never copied)."""

from __future__ import annotations

from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpora" / "scanner-outputs"


def corpus_dir(tool: str) -> Path:
    """The sample folder of one tool; skips the test when the corpora are not present."""
    path = CORPUS / tool
    if not path.is_dir():
        pytest.skip(f"scanner-output corpus not present at {path} (../shared/corpora)")
    return path
