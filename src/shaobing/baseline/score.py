"""The profile score: the share of applicable rules that pass, weighted by severity.

Weights are an organisation-defined default (高 risks count three times a 低 one, in line with
the common practice of 等保 assessment tools to weigh high-risk items more); 不适用 rules are left
out, and errors count as not passing, since an unverified control cannot be claimed.
"""

from __future__ import annotations

from shaobing.baseline.results import ProfileReport, Status

# Organisation-defined default weights per severity.
WEIGHTS = {"严重": 5, "高": 3, "中": 2, "低": 1, "信息": 0}


def profile_score(report: ProfileReport) -> float:
    """0–100 with one decimal; 100 when nothing applicable was found."""
    total = 0
    earned = 0
    for result in report.results:
        if result.status is Status.NA:
            continue
        weight = WEIGHTS.get(result.severity, 1)
        total += weight
        if result.status is Status.PASS:
            earned += weight
    if total == 0:
        return 100.0
    return round(100.0 * earned / total, 1)
