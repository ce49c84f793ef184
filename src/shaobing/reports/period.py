"""Report periods: a month (2026-10), a quarter (2026-Q3), a half year (2026-H2) or a year."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

_PATTERN = re.compile(r"^(\d{4})(?:-(?:(\d{2})|[Qq]([1-4])|[Hh]([12])))?$")


@dataclass(frozen=True)
class Period:
    """A closed date range with the text the user gave and a Chinese label."""

    key: str
    start: date
    end: date
    label: str

    def contains(self, day: date) -> bool:
        """Whether ``day`` falls in the period."""
        return self.start <= day <= self.end


def parse_period(text: str) -> Period:
    """Parse ``2026-10``, ``2026-Q3``, ``2026-H1`` or ``2026``; one-line error otherwise."""
    match = _PATTERN.match(text.strip())
    if match is None:
        raise ValidationError(t("reports.bad_period", period=text))
    year = int(match.group(1))
    month, quarter, half = match.group(2), match.group(3), match.group(4)
    if month is not None:
        m = int(month)
        if not 1 <= m <= 12:
            raise ValidationError(t("reports.bad_period", period=text))
        return Period(f"{year}-{m:02d}", date(year, m, 1), _month_end(year, m), f"{year}年{m}月")
    if quarter is not None:
        q = int(quarter)
        first = 3 * q - 2
        return Period(
            f"{year}-Q{q}", date(year, first, 1), _month_end(year, first + 2), f"{year}年第{q}季度"
        )
    if half is not None:
        h = int(half)
        first = 1 if h == 1 else 7
        label = f"{year}年{'上' if h == 1 else '下'}半年"
        return Period(f"{year}-H{h}", date(year, first, 1), _month_end(year, first + 5), label)
    return Period(str(year), date(year, 1, 1), date(year, 12, 31), f"{year}年度")


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
