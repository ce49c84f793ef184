"""SARIF 2.1.0 logs — one importer for every static analyser that writes SARIF.

Semgrep, Bandit, CodeQL/LGTM, Gitleaks, Flawfinder, SpotBugs, MobSF, Dockle, ShellCheck
and many more export SARIF, so each run's ``tool.driver.name`` becomes the finding's
``source_tool`` (lower-cased, spaces as hyphens; every Semgrep edition is "semgrep" so
its SARIF and native JSON de-duplicate together).

Per result: the rule (``ruleIndex`` / ``rule`` reference / ``ruleId``, looked up in the
driver and its extensions) gives title, description, help, CWE tags, precision and
``security-severity``; the result gives level, message (``{0}`` placeholders filled),
first location, snippet, fingerprints, suppressions and baseline state. Results of kind
``pass`` / ``notApplicable`` / ``informational`` and those whose baseline state is
``absent`` (gone since the baseline) are not findings. Coverage lists the run's
artifacts plus every file a result names — only for runs that completed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from shaobing.findings.importers._json import (
    EVIDENCE_LIMIT,
    as_array,
    as_object,
    cve_ids,
    cwe_ids,
    fail,
    first_line,
    get_bool,
    get_int,
    get_list,
    get_obj,
    get_str,
    guarded,
    load_json,
    objects,
    sniff_text,
    str_list,
    to_float,
    to_str,
    truncate,
    unique,
)
from shaobing.findings.importers.base import (
    CoverageInput,
    FindingInput,
    Importer,
    Record,
)
from shaobing.findings.severity import Severity, severity_from_score

_SCHEMA_RE = re.compile(r'"\$schema"\s*:\s*"[^"]*sarif', re.IGNORECASE)
_VERSION_RE = re.compile(r'"version"\s*:\s*"2\.1\.0"')
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_WINDOWS_DRIVE_RE = re.compile(r"^/[A-Za-z]:/")
_PLACEHOLDER_RE = re.compile(r"\{\{|\}\}|\{(\d+)\}")
# SARIF tags naming a CWE: CodeQL's "external/cwe/cwe-079", Semgrep's "CWE-79: ...".
_CWE_TAG_RE = re.compile(r"^\s*(external/cwe/)?cwe[-_ ]?\d+\b", re.IGNORECASE)
_URL_RE = re.compile(r"^https?://\S+$")

_LEVELS = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
}
# Kinds that say "no problem here" (SARIF §3.27.9); open/review still deserve a look.
_NOT_A_PROBLEM = {"pass", "notapplicable", "informational"}
_SEVERITY_WORDS = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
}
# Fingerprint values some tools write when the real one is withheld (Semgrep logged out).
_PLACEHOLDER_IDS = {"requires login"}
_MAX_BASE_DEPTH = 16
_MAX_EXTRA_LOCATIONS = 50


def _tool_name(driver_name: str | None) -> str:
    name = " ".join((driver_name or "").lower().split())
    if not name:
        return "sarif"
    if name.startswith("semgrep"):  # "Semgrep OSS", "Semgrep Pro", "semgrep"
        return "semgrep"
    return name.replace(" ", "-")


def _text(node: object) -> str | None:
    """The text of a SARIF message / multiformatMessageString (``text``, else markdown)."""
    return get_str(node, "text") or get_str(node, "markdown")


def _fill(template: str, arguments: list[Any]) -> str:
    """Replace ``{n}`` with ``arguments[n]`` and ``{{``/``}}`` with braces (SARIF §3.11.5)."""

    def replace(match: re.Match[str]) -> str:
        matched = match.group(0)
        if matched in {"{{", "}}"}:
            return matched[0]
        index = int(match.group(1)) if len(match.group(1)) < 6 else -1
        if 0 <= index < len(arguments):
            return to_str(arguments[index]) or ""
        return matched

    return _PLACEHOLDER_RE.sub(replace, template)


def _security_severity(value: object) -> Severity | None:
    """``security-severity``: a CVSS-like number as text, or (Semgrep) a severity word."""
    number = to_float(value)
    if number is not None:
        return severity_from_score(number) if 0.0 <= number <= 10.0 else None
    word = to_str(value)
    return _SEVERITY_WORDS.get(word.strip().lower()) if word else None


def _display_uri(uri: str) -> str:
    """A file URI as a path (``file:///src/a.c`` → ``/src/a.c``); other URIs unchanged."""
    uri = uri.strip()
    if uri.lower().startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc in {"", "localhost"}:
            local = unquote(parts.path)
            return local[1:] if _WINDOWS_DRIVE_RE.match(local) else local
        return unquote(uri)
    if _SCHEME_RE.match(uri) and not _WINDOWS_DRIVE_RE.match("/" + uri):
        return uri
    return unquote(uri)


@dataclass
class _Rule:
    id: str | None
    node: dict[str, Any]
    component: dict[str, Any]


@dataclass
class _Location:
    file: str | None = None
    line: int | None = None
    column: int | None = None
    end_line: int | None = None
    snippet: str | None = None
    logical: str | None = None


@dataclass
class _Run:
    """One ``runs[]`` entry with the look-up tables its results need."""

    path: Path
    index: int
    node: dict[str, Any]
    source_tool: str = "sarif"
    driver: dict[str, Any] = field(default_factory=dict)
    components: list[dict[str, Any]] = field(default_factory=list)
    rules_by_id: dict[str, _Rule] = field(default_factory=dict)
    artifacts: list[Any] = field(default_factory=list)
    bases: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def setup(self) -> None:
        """Collect tool components, rules, artifacts and base URIs."""
        tool = get_obj(self.node, "tool")
        self.driver = get_obj(tool, "driver")
        self.source_tool = _tool_name(get_str(self.driver, "name"))
        self.components = [self.driver] + [
            e for e in get_list(tool, "extensions") if isinstance(e, dict)
        ]
        for component in self.components:
            for rule in get_list(component, "rules"):
                rule_id = get_str(rule, "id")
                if isinstance(rule, dict) and rule_id and rule_id not in self.rules_by_id:
                    self.rules_by_id[rule_id] = _Rule(rule_id, rule, component)
        self.artifacts = get_list(self.node, "artifacts")
        self.bases = get_obj(self.node, "originalUriBaseIds")

    # ------------------------------------------------------------------ rules
    def _component(self, reference: dict[str, Any]) -> dict[str, Any]:
        component = get_obj(reference, "toolComponent")
        index = get_int(component, "index")
        extensions = self.components[1:]
        if index is not None and index < len(extensions):
            return extensions[index]
        name = get_str(component, "name")
        for candidate in extensions:
            if name and get_str(candidate, "name") == name:
                return candidate
        return self.driver

    def rule(self, result: dict[str, Any], rule_id: str | None) -> _Rule | None:
        """The rule a result refers to (SARIF §3.52.4: index first, then id, then parent id)."""
        reference = get_obj(result, "rule")
        component = self._component(reference) if reference else self.driver
        index = get_int(reference, "index")
        if index is None:
            index = get_int(result, "ruleIndex")
        rules = get_list(component, "rules")
        if index is not None and index < len(rules) and isinstance(rules[index], dict):
            candidate = rules[index]
            candidate_id = get_str(candidate, "id")
            if (
                rule_id is None
                or candidate_id in {None, rule_id}
                or (candidate_id and rule_id.startswith(candidate_id + "/"))
            ):
                return _Rule(candidate_id, candidate, component)
        if rule_id is None:
            return None
        found = self.rules_by_id.get(rule_id)
        # Hierarchical ids ("C2001/2") name a sub-rule of the rule "C2001".
        parts = rule_id.split("/")
        while found is None and len(parts) > 1:
            parts.pop()
            found = self.rules_by_id.get("/".join(parts))
        return found

    # ------------------------------------------------------------------ locations
    def _base(self, name: str, depth: int = 0) -> str | None:
        entry = get_obj(self.bases, name)
        uri = (get_str(entry, "uri") or "").strip()
        parent = get_str(entry, "uriBaseId")
        if parent and depth < _MAX_BASE_DEPTH and not _SCHEME_RE.match(uri):
            base = self._base(parent, depth + 1)
            if base:
                uri = _join(base, uri)
        return uri or None

    def resolve(self, location: object) -> str | None:
        """An artifactLocation as a display path (index into artifacts, uriBaseId applied)."""
        uri = get_str(location, "uri")
        base_id = get_str(location, "uriBaseId")
        index = get_int(location, "index")
        if uri is None and index is not None and index < len(self.artifacts):
            artifact_location = get_obj(self.artifacts[index], "location")
            uri = get_str(artifact_location, "uri")
            base_id = base_id or get_str(artifact_location, "uriBaseId")
        if uri is None:
            return None
        uri = uri.strip()
        relative = not _SCHEME_RE.match(uri) and not uri.startswith("/")
        if relative and base_id:
            base = self._base(base_id)
            if base:
                uri = _join(base, uri)
        return _display_uri(uri) or None

    def location(self, result: dict[str, Any]) -> tuple[_Location, list[str]]:
        """The first location of a result, plus ``file:line`` of the others."""
        locations = [loc for loc in get_list(result, "locations") if isinstance(loc, dict)]
        found = _Location()
        if locations:
            found = self._one_location(locations[0])
        if found.file is None:
            target = self.resolve(get_obj(result, "analysisTarget"))
            found.file = target
        others: list[str] = []
        for extra in locations[1 : 1 + _MAX_EXTRA_LOCATIONS]:
            other = self._one_location(extra)
            if other.file:
                others.append(f"{other.file}:{other.line}" if other.line else other.file)
        return found, others

    def _one_location(self, location: dict[str, Any]) -> _Location:
        physical = get_obj(location, "physicalLocation")
        region = get_obj(physical, "region")
        context = get_obj(physical, "contextRegion")
        logical = [
            get_str(loc, "fullyQualifiedName") or get_str(loc, "name")
            for loc in get_list(location, "logicalLocations")
        ]
        return _Location(
            file=self.resolve(get_obj(physical, "artifactLocation")),
            line=get_int(region, "startLine", minimum=1),
            column=get_int(region, "startColumn", minimum=1),
            end_line=get_int(region, "endLine", minimum=1),
            snippet=_text(get_obj(region, "snippet")) or _text(get_obj(context, "snippet")),
            logical=next((name for name in logical if name), None),
        )

    def add_file(self, file: str | None) -> None:
        """Remember a file for the run's coverage."""
        if file:
            self.files.append(file)


def _join(base: str, relative: str) -> str:
    base = base.strip()
    relative = relative.strip().removeprefix("./")
    if not base:
        return relative
    return base + relative if base.endswith("/") else f"{base}/{relative}"


class SarifImporter(Importer):
    """SARIF 2.1.0 logs from any static analyser (one finding per result)."""

    name: ClassVar[str] = "sarif"
    label: ClassVar[str] = "SARIF 2.1.0"
    suffixes: ClassVar[tuple[str, ...]] = (".sarif", ".json")
    priority: ClassVar[int] = 5

    @classmethod
    def sniff(cls, path: Path, head: bytes) -> bool:
        """A JSON object with ``runs`` and a SARIF ``$schema``, version 2.1.0 or a driver."""
        text = sniff_text(head)
        if not text.startswith("{") or '"runs"' not in text:
            return False
        return bool(_SCHEMA_RE.search(text) or _VERSION_RE.search(text) or '"driver"' in text)

    def parse(self, path: Path) -> Iterator[Record]:
        """Stream the findings and coverage of every run."""
        return guarded(path, self._parse(path))

    def _parse(self, path: Path) -> Iterator[Record]:
        document = as_object(path, load_json(path), "$")
        version = get_str(document, "version")
        if version is not None and not version.strip().startswith("2."):
            raise fail(path, "sarif_version", version=version)
        if "runs" not in document:
            raise fail(path, "not_sarif")
        runs = as_array(path, document["runs"], "runs")
        for index, node in enumerate(runs):
            run = _Run(path, index, as_object(path, node, f"runs[{index}]"))
            run.setup()
            yield from self._results(run)
            for artifact in get_list(run.node, "artifacts"):
                run.add_file(run.resolve(get_obj(artifact, "location")))
            files = unique(run.files)
            if files and _completed(run.node):
                yield CoverageInput(files=files)

    def _results(self, run: _Run) -> Iterator[FindingInput]:
        where = f"runs[{run.index}].results"
        for _, result in objects(run.path, run.node.get("results"), where):
            finding = self._finding(run, result)
            if finding is not None:
                yield finding

    def _finding(self, run: _Run, result: dict[str, Any]) -> FindingInput | None:
        reference = get_obj(result, "rule")
        rule_id = get_str(result, "ruleId") or get_str(reference, "id")
        rule = run.rule(result, rule_id)
        rule_node = rule.node if rule else {}
        if rule_id is None and rule is not None:
            rule_id = rule.id
        location, others = run.location(result)
        run.add_file(location.file)

        kind = (get_str(result, "kind") or "fail").strip().lower()
        baseline = get_str(result, "baselineState")
        if kind in _NOT_A_PROBLEM or (baseline or "").lower() == "absent":
            return None

        message = self._message(run, result, rule)
        rule_props = get_obj(rule_node, "properties")
        result_props = get_obj(result, "properties")
        title = (
            _text(get_obj(rule_node, "shortDescription"))
            or get_str(rule_node, "name")
            or rule_id
            or (first_line(message) if message else None)
            or run.source_tool
        )
        full = _text(get_obj(rule_node, "fullDescription"))
        help_text = _text(get_obj(rule_node, "help"))
        help_url = help_text.strip() if help_text and _URL_RE.match(help_text.strip()) else None
        if help_url:  # Dockle and others put only a link in help.text
            help_text = None
        description = _join_texts(message, full or help_text)
        remediation = (
            help_text if help_text and help_text.strip() not in (description or "") else None
        )

        tags = str_list(rule_props.get("tags")) + str_list(result_props.get("tags"))
        cwe_texts: list[object] = [tag for tag in tags if _CWE_TAG_RE.match(tag)]
        cwe_texts += self._taxa_cwes(rule_node, result)
        references = unique(u for u in (get_str(rule_node, "helpUri"), help_url) if u)
        severity, level = self._severity(result, rule_node, kind, result_props, rule_props)
        precision = get_str(rule_props, "precision")
        suppressed, suppression = _suppression(result)

        extra: dict[str, Any] = {
            key: value
            for key, value in {
                "rule_id": rule_id,
                "tool_name": get_str(run.driver, "name"),
                "tool_version": get_str(run.driver, "semanticVersion")
                or get_str(run.driver, "version"),
                "level": level,
                "kind": kind if kind != "fail" else None,
                "baseline_state": baseline,
                "precision": precision,
                "security_severity": to_str(result_props.get("security-severity"))
                or to_str(rule_props.get("security-severity")),
                "tags": tags or None,
                "column": location.column,
                "end_line": location.end_line,
                "logical_location": location.logical,
                "other_locations": others or None,
                "suppression": suppression,
            }.items()
            if value is not None
        }
        return FindingInput(
            source_tool=run.source_tool,
            check_id=rule_id or "unknown-rule",
            title=first_line(title),
            severity=severity,
            description=truncate(description),
            remediation=truncate(remediation),
            file_path=location.file,
            line=location.line,
            cve_ids=cve_ids([rule_id, *tags]),
            cwe_ids=cwe_ids(cwe_texts),
            references=references,
            evidence=truncate(location.snippet, EVIDENCE_LIMIT),
            tool_unique_id=_unique_id(result),
            confidence=precision,
            false_positive=suppressed,
            extra=extra,
        )

    @staticmethod
    def _message(run: _Run, result: dict[str, Any], rule: _Rule | None) -> str | None:
        message = get_obj(result, "message")
        arguments = get_list(message, "arguments")
        text = _text(message)
        message_id = get_str(message, "id")
        if text is None and message_id:
            for strings in (
                get_obj(rule.node, "messageStrings") if rule else {},
                get_obj(rule.component, "globalMessageStrings") if rule else {},
                get_obj(run.driver, "globalMessageStrings"),
            ):
                text = _text(get_obj(strings, message_id))
                if text:
                    break
        return _fill(text, arguments) if text else None

    @staticmethod
    def _severity(
        result: dict[str, Any],
        rule: dict[str, Any],
        kind: str,
        result_props: dict[str, Any],
        rule_props: dict[str, Any],
    ) -> tuple[Severity, str]:
        level = get_str(result, "level")
        if level is None:
            # SARIF §3.27.10: the rule's default level for failures, else "warning";
            # results of another kind default to "none".
            default = get_str(get_obj(rule, "defaultConfiguration"), "level")
            level = (default or "warning") if kind == "fail" else "none"
        level = level.strip().lower()
        scored = _security_severity(result_props.get("security-severity"))
        if scored is None:
            scored = _security_severity(rule_props.get("security-severity"))
        return (scored or _LEVELS.get(level, Severity.MEDIUM)), level

    @staticmethod
    def _taxa_cwes(rule: dict[str, Any], result: dict[str, Any]) -> list[object]:
        found: list[object] = []
        references = [get_obj(rel, "target") for rel in get_list(rule, "relationships")]
        references += [taxon for taxon in get_list(result, "taxa") if isinstance(taxon, dict)]
        for reference in references:
            taxonomy = get_str(get_obj(reference, "toolComponent"), "name") or ""
            ident = get_str(reference, "id")
            if not ident:
                continue
            if taxonomy.strip().upper() == "CWE" and ident.strip().isdigit():
                found.append(f"CWE-{ident.strip()}")
            elif taxonomy.strip().upper() == "CWE" or ident.upper().startswith("CWE"):
                found.append(ident)
        return found


def _completed(run: dict[str, Any]) -> bool:
    """Whether the run finished, so its files count as covered.

    ``results`` is null (or absent) when the tool did not run (SARIF §3.14.23), and an
    invocation with ``executionSuccessful: false`` may have stopped part-way; claiming
    coverage for those would close findings the tool never looked for.
    """
    if not isinstance(run.get("results"), list):
        return False
    return all(
        get_bool(invocation, "executionSuccessful") is not False
        for invocation in get_list(run, "invocations")
    )


def _join_texts(first: str | None, second: str | None) -> str | None:
    if first and second and second.strip() not in first:
        return f"{first.rstrip()}\n\n{second.strip()}"
    return first or second


def _unique_id(result: dict[str, Any]) -> str | None:
    """A stable per-finding id: primaryLocationLineHash, else the first fingerprint."""
    partial = get_obj(result, "partialFingerprints")
    candidates: list[tuple[str, object]] = []
    if "primaryLocationLineHash" in partial:
        candidates.append(("primaryLocationLineHash", partial["primaryLocationLineHash"]))
    candidates += list(get_obj(result, "fingerprints").items()) + list(partial.items())
    for key, value in candidates:
        text = to_str(value)
        if text and text.strip().lower() not in _PLACEHOLDER_IDS:
            return f"{key}:{text.strip()}"
    guid = get_str(result, "correlationGuid")
    return f"correlationGuid:{guid.strip()}" if guid else None


def _suppression(result: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether the result is suppressed (SARIF §3.27.23) and how, for ``extra``."""
    suppressions = [s for s in get_list(result, "suppressions") if isinstance(s, dict)]
    if not suppressions:
        return False, None
    # "state" is the pre-2.1.0 name of "status" (the spec's own appendix still uses it).
    statuses = [
        (get_str(s, "status") or get_str(s, "state") or "accepted").strip().lower()
        for s in suppressions
    ]
    if any(status in {"underreview", "rejected"} for status in statuses):
        return False, ", ".join(statuses)
    kinds = [get_str(s, "kind") or "?" for s in suppressions]
    justification = [text for text in (get_str(s, "justification") for s in suppressions) if text]
    summary = ", ".join(kinds) + (f" ({'; '.join(justification)})" if justification else "")
    return True, summary
