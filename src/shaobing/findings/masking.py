"""Masking of secrets in evidence (request/response/tool output) before it is stored."""

from __future__ import annotations

import re

MASK = "******"

# Each pattern keeps group 1 (the name) and masks the value after it. They cover what
# scanners put in evidence: HTTP auth and cookies, credentials in URLs, query strings and
# form bodies, JSON fields and common key=value configuration lines.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"(?im)^((?:proxy-)?authorization:\s*(?:basic|bearer|digest|negotiate|ntlm|token)?\s*)\S.*$"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?im)^((?:set-)?cookie:\s*)(.+)$"), r"\1" + MASK),
    (
        re.compile(
            r"(?i)((?:x-)?(?:api[-_]?key|auth[-_]?token|access[-_]?token)\s*[:=]\s*)[^\s&\"',;]+"
        ),
        r"\1" + MASK,
    ),
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+(@)"), r"\1" + MASK + r"\2"),
    (
        re.compile(
            r"(?i)((?:^|[?&\s])(?:password|passwd|pwd|pass|secret|token|api_key|apikey|"
            r"access_token|refresh_token|client_secret|口令|密码)=)[^&\s]*"
        ),
        r"\1" + MASK,
    ),
    (
        re.compile(
            r"(?i)(\"(?:password|passwd|pwd|pass|secret|token|api_?key|access_?token|"
            r"refresh_?token|client_?secret)\"\s*:\s*\")[^\"]*(\")"
        ),
        r"\1" + MASK + r"\2",
    ),
    (
        re.compile(
            r"(?i)(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)"
        ),
        r"\1" + MASK + r"\2",
    ),
]

# Evidence is kept for the report, not as an archive: cap what one finding stores.
MAX_EVIDENCE_CHARS = 50_000


# A cheap pre-check: evidence without any of these words needs none of the patterns.
_TRIGGER = re.compile(
    r"(?i)authorization|cookie|api[-_]?key|token|://[^/\s]*@|pass|pwd|secret|口令|密码|"
    r"private key"
)


def mask_secrets(text: str | None) -> str | None:
    """Return ``text`` with passwords, tokens, cookies and keys replaced by ******."""
    if text is None:
        return None
    if len(text) > MAX_EVIDENCE_CHARS:
        text = text[:MAX_EVIDENCE_CHARS] + "\n…"
    if not _TRIGGER.search(text):
        return text
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_password(password: str) -> str:
    """A found password as shown in reports: first and last character only (B3)."""
    if len(password) <= 2:
        return "*" * len(password)
    return password[0] + "*" * (len(password) - 2) + password[-1]
