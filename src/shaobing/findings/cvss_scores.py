"""CVSS v3.1 and v4.0 vectors: validation and base scores (via the ``cvss`` package).

Results are cached: a scan repeats the same few hundred vectors across thousands of
findings, and parsing a vector costs more than everything else done per finding.
"""

from __future__ import annotations

from functools import lru_cache

from cvss import CVSS3, CVSS4
from cvss.exceptions import CVSSError


@lru_cache(maxsize=8192)
def cvss3_score(vector: str | None) -> tuple[str, float] | None:
    """Normalised v3.x vector and base score, or None when the vector is not valid."""
    if not vector or not vector.strip().upper().startswith("CVSS:3."):
        return None
    try:
        parsed = CVSS3(vector.strip())
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    return parsed.clean_vector(), float(parsed.base_score)


@lru_cache(maxsize=8192)
def cvss4_score(vector: str | None) -> tuple[str, float] | None:
    """Normalised v4.0 vector and base score, or None when the vector is not valid."""
    if not vector or not vector.strip().upper().startswith("CVSS:4.0/"):
        return None
    try:
        parsed = CVSS4(vector.strip())
    except (CVSSError, ValueError, KeyError, IndexError):
        return None
    return parsed.clean_vector(), float(parsed.base_score)
