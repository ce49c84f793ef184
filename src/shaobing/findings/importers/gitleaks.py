"""Gitleaks JSON reports (``gitleaks detect -f json``): a JSON array of leaks.

Both report generations are read: v8 (``RuleID``, ``Description``, ``File``,
``StartLine``, ``Secret``, ``Match``, ``Fingerprint``, ``Commit``, ...) and v7 (``rule``,
``file``, ``lineNumber``, ``offender``, ``line``, ``commit``, ...). Every leak is a
high-severity finding (CWE-798).

The secret itself is never stored: the evidence is the matched text with every occurrence
of the secret masked down to at most its first and last two characters, and neither the
secret nor the full source line goes into ``extra``. ``Fingerprint`` (``commit:file:rule:
line``) is the stable id; reports written before Gitleaks added the field get the same
value rebuilt from its parts, so old and new reports de-duplicate together. Gitleaks
writes ``null`` when nothing leaked — that is a clean scan, not an error. The report does
not list what was scanned, so no coverage is reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from shaobing.core.i18n import t
from shaobing.findings.importers._json import (
    fail,
    first_line,
    get_int,
    get_str,
    guarded,
    load_json,
    objects,
    sniff_text,
    str_list,
    truncate,
)
from shaobing.findings.importers.base import FindingInput, Importer, Record
from shaobing.findings.severity import Severity

TOOL = "gitleaks"
_CWE_HARDCODED_CREDENTIALS = 798
_MASK = "*" * 8
_V8_RE = re.compile(r'"RuleID"\s*:')
_V8_SECRET_RE = re.compile(r'"(Secret|Match|Fingerprint)"\s*:')
_V7_RE = re.compile(r'"offender"\s*:')
_V7_RULE_RE = re.compile(r'"rule"\s*:')


def mask_secret(secret: str) -> str:
    """The secret with all but (at most) its first and last two characters hidden.

    Short secrets keep less — a six-character password keeps one character each side, and
    anything under five characters is hidden entirely — so the mask never reveals most of
    it. The mask has a fixed width so it does not reveal the length either.
    """
    if len(secret) >= 8:
        keep = 2
    elif len(secret) >= 5:
        keep = 1
    else:
        return _MASK
    return f"{secret[:keep]}{_MASK}{secret[-keep:]}"


def masked_evidence(match: str | None, secret: str | None) -> str | None:
    """The matched text with the secret masked (or the masked secret alone)."""
    if secret:
        if match and secret in match:
            return match.replace(secret, mask_secret(secret))
        return mask_secret(secret)
    # No separate secret: the whole match is what must not be shown.
    return mask_secret(match) if match else None


class GitleaksImporter(Importer):
    """Gitleaks v7/v8 JSON reports (secrets in source code and Git history)."""

    name: ClassVar[str] = "gitleaks"
    label: ClassVar[str] = "Gitleaks JSON"
    suffixes: ClassVar[tuple[str, ...]] = (".json",)
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """A JSON array of objects with Gitleaks' v8 or v7 leak keys."""
        text = sniff_text(head)
        if not text.startswith("["):
            return False
        if _V8_RE.search(text) and _V8_SECRET_RE.search(text):
            return True
        return bool(_V7_RE.search(text) and _V7_RULE_RE.search(text))

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream one finding per leak."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        document = load_json(path)
        if document is None:
            return
        if not isinstance(document, list):
            raise fail(path, "not_gitleaks")
        for index, leak in objects(path, document, "$"):
            rule = get_str(leak, "RuleID") or get_str(leak, "rule")
            if rule is None:
                raise fail(path, "missing_field", where=f"[{index}]", field="RuleID")
            yield _leak(rule, leak)


def _leak(rule: str, leak: dict[str, Any]) -> FindingInput:
    v8 = "RuleID" in leak
    file_path = get_str(leak, "File") if v8 else get_str(leak, "file")
    line = get_int(leak, "StartLine" if v8 else "lineNumber", minimum=1)
    commit = get_str(leak, "Commit" if v8 else "commit")
    if v8:
        secret = get_str(leak, "Secret")
        evidence = masked_evidence(get_str(leak, "Match"), secret)
    else:
        # v7: "offender" is the matched text; "line" is the whole source line around it.
        secret = get_str(leak, "offender")
        evidence = masked_evidence(get_str(leak, "line"), secret)
    fingerprint = get_str(leak, "Fingerprint")
    if fingerprint is None and v8 and file_path and line is not None:
        # Gitleaks' own recipe (report.Finding.Fingerprint), for reports predating the field.
        fingerprint = (
            f"{commit}:{file_path}:{rule}:{line}" if commit else (f"{file_path}:{rule}:{line}")
        )
    tags = (
        str_list(leak.get("Tags"))
        if v8
        else [tag.strip() for tag in (get_str(leak, "tags") or "").split(",") if tag.strip()]
    )
    link = get_str(leak, "Link") or get_str(leak, "leakURL")
    extra = {
        key: value
        for key, value in {
            "commit": commit,
            "author": get_str(leak, "Author" if v8 else "author"),
            "email": get_str(leak, "Email" if v8 else "email"),
            "date": get_str(leak, "Date" if v8 else "date"),
            "repository": get_str(leak, "repo") or get_str(leak, "repoURL"),
            "tags": tags or None,
            "entropy": leak.get("Entropy")
            if isinstance(leak.get("Entropy"), int | float)
            and not isinstance(leak.get("Entropy"), bool)
            else None,
            "column": get_int(leak, "StartColumn"),
            "end_line": get_int(leak, "EndLine"),
        }.items()
        if value is not None
    }
    title = get_str(leak, "Description") or rule
    return FindingInput(
        source_tool=TOOL,
        check_id=rule,
        title=first_line(title),
        severity=Severity.HIGH,
        description=t("importers_code.gitleaks.description", rule=title),
        remediation=t("importers_code.gitleaks.remediation"),
        file_path=file_path,
        line=line,
        cwe_ids=[_CWE_HARDCODED_CREDENTIALS],
        references=[link] if link else [],
        evidence=truncate(evidence),
        tool_unique_id=fingerprint,
        extra=extra,
    )
