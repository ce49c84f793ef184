"""Load a Nuclei-format template file into :class:`~shaobing.templates.model.Template`.

A file either loads (possibly with a list of unsupported features, each with its reason)
or raises :class:`TemplateError` with one Chinese line naming the file and the problem.
Nothing is dropped silently: unknown protocol sections, unknown request fields and
features the engine refuses to run (``unsafe``, ``race``, ``pipeline``, ``javascript``,
``code``, ``headless``, dns ``trace``, what the local OpenSSL cannot offer, ...) are
listed in ``Template.unsupported``.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from shaobing.core.i18n import t
from shaobing.templates.ciphers import (
    CIPHER_TYPES,
    SCAN_MODES,
    VERSIONS,
    code_for,
    usable_suites,
    version_available,
)
from shaobing.templates.dnscodec import QUERY_CLASSES, QUERY_TYPES
from shaobing.templates.dsl import safe_regex
from shaobing.templates.dsl.errors import HelperFailure
from shaobing.templates.features import expression_features, text_features
from shaobing.templates.flow import FlowError, parse_flow
from shaobing.templates.jsonpath import JsonPathError, compile_path
from shaobing.templates.model import (
    SEVERITIES,
    Classification,
    DnsRequest,
    Extractor,
    HttpRequest,
    Info,
    Matcher,
    NetworkInput,
    NetworkRequest,
    Operators,
    SslRequest,
    Template,
    Unsupported,
)
from shaobing.templates.payloads import PayloadFileError, read_payload_file
from shaobing.templates.safeyaml import TemplateError, read_yaml_file
from shaobing.templates.xpath import XPathError, compile_xpath

__all__ = ["TemplateError", "load_template"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Sections the engine refuses outright: they run code or need a browser/file system.
REFUSED_SECTIONS = ("code", "javascript", "headless", "file", "workflows", "websocket", "whois")
KNOWN_TOP = frozenset(
    {"id", "info", "variables", "flow", "self-contained", "signature", "stop-at-first-match"}
    | {"http", "requests", "tcp", "network", "ssl", "dns"}
    | set(REFUSED_SECTIONS)
    | {"workflow", "constants"}
)
_HTTP_FIELDS = frozenset(
    {
        "method", "path", "raw", "headers", "body", "payloads", "attack", "redirects",
        "host-redirects", "max-redirects", "cookie-reuse", "disable-cookie",
        "stop-at-first-match", "req-condition", "matchers-condition", "matchers",
        "extractors", "unsafe", "race", "race_count", "pipeline",
        "pipeline-concurrent-connections", "pipeline-requests-per-connection",
        "iterate-all", "max-size", "skip-variables-check", "disable-path-automerge",
        "threads", "id", "name", "read-all", "fuzzing", "analyzer", "digest-username",
        "digest-password", "self-contained", "signature",
    }
)  # fmt: skip
_NETWORK_FIELDS = frozenset(
    {
        "inputs", "host", "port", "read-size", "read-all", "matchers", "extractors",
        "matchers-condition", "attack", "payloads", "id", "name", "exclude-ports",
    }
)  # fmt: skip
_SSL_FIELDS = frozenset(
    {
        "address", "min_version", "max_version", "cipher_suites", "scan_mode",
        "tls_version_enum", "tls_cipher_enum", "tls_cipher_types", "matchers",
        "extractors", "matchers-condition", "id",
    }
)  # fmt: skip
# "threads" and "attack" only shape payload runs, which dns blocks refuse anyway.
_DNS_FIELDS = frozenset(
    {
        "name", "type", "class", "recursion", "retries", "trace", "trace-max-recursion",
        "resolvers", "matchers", "extractors", "matchers-condition", "id", "attack",
        "payloads", "threads",
    }
)  # fmt: skip
_MATCHER_VALUES = {"word": "words", "regex": "regex", "binary": "binary", "dsl": "dsl"}
_MATCHER_VALUES["xpath"] = "xpath"
_EXTRACTOR_VALUES = {"regex": "regex", "kval": "kval", "json": "json", "xpath": "xpath"}
_EXTRACTOR_VALUES["dsl"] = "dsl"
MAX_REQUESTS_PER_BLOCK = 10_000


class _Context:
    """Per-file state while parsing: the file, the payload root, what is unsupported."""

    def __init__(self, path: Path, root: Path | None) -> None:
        self.path = path
        self.root = root
        self.unsupported: list[Unsupported] = []

    def refuse(self, feature: str, key: str, *, area: str = "templates", **params: object) -> None:
        """Record ``feature`` as unsupported, with the reason ``<area>.unsupported.<key>``."""
        self.unsupported.append(Unsupported(feature, t(f"{area}.unsupported.{key}", **params)))

    def error(self, key: str, **params: object) -> TemplateError:
        return TemplateError(self.path, t(f"templates.error.{key}", **params))

    def texts(self, values: Iterable[str]) -> None:
        for value in values:
            self.unsupported.extend(text_features(value))

    def expressions(self, values: Iterable[str]) -> None:
        for value in values:
            self.unsupported.extend(expression_features(value.strip()))


# ------------------------------------------------------------------- scalar helpers


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(_text(item) for item in value if item is not None)
    return (_text(value),)


def _split(value: Any) -> tuple[str, ...]:
    """Comma-separated strings or lists (authors, tags, references)."""
    out: list[str] = []
    for item in _texts(value):
        out.extend(part.strip() for part in item.split(",") if part.strip())
    return tuple(out)


def _flag(ctx: _Context, block: dict[str, Any], key: str, where: str) -> bool:
    value = block.get(key, False)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ctx.error("field", field=f"{where}.{key}", detail=t("templates.error.not_bool"))


def _int(ctx: _Context, value: Any, field: str, *, low: int = 0, high: int = 2**31) -> int:
    if isinstance(value, bool):
        raise ctx.error("field", field=field, detail=t("templates.error.not_int"))
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ctx.error("field", field=field, detail=t("templates.error.not_int")) from None
    if not low <= number <= high:
        raise ctx.error("field", field=field, detail=f"{low}..{high}")
    return number


def _list_of_dicts(ctx: _Context, value: Any, field: str) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ctx.error("field", field=field, detail=t("templates.error.not_list_of_maps"))
    return value


# ---------------------------------------------------------------------------- info


def _classification(raw: Any) -> Classification:
    if not isinstance(raw, dict):
        return Classification()
    score = raw.get("cvss-score")
    epss = raw.get("epss-score")
    try:
        cvss_score = float(score) if score is not None else None
    except (TypeError, ValueError):
        cvss_score = None
    try:
        epss_score = float(epss) if epss is not None else None
    except (TypeError, ValueError):
        epss_score = None
    metrics = raw.get("cvss-metrics")
    cpe = raw.get("cpe")
    return Classification(
        cve_ids=_split(raw.get("cve-id")),
        cwe_ids=_split(raw.get("cwe-id")),
        cvss_metrics=str(metrics) if metrics else None,
        cvss_score=cvss_score,
        epss_score=epss_score,
        cpe=str(cpe) if cpe else None,
    )


def _info(ctx: _Context, raw: Any) -> Info:
    if not isinstance(raw, dict):
        raise ctx.error("info_missing")
    name = raw.get("name")
    if not isinstance(name, str | int | float) or not str(name).strip():
        raise ctx.error("name_missing")
    severity = _text(raw.get("severity") or "unknown").strip().lower()
    metadata = raw.get("metadata")
    description = raw.get("description")
    remediation = raw.get("remediation")
    return Info(
        name=str(name).strip(),
        authors=_split(raw.get("author")),
        severity=severity if severity in SEVERITIES else "unknown",
        description=str(description).strip() if description else None,
        remediation=str(remediation).strip() if remediation else None,
        references=_split(raw.get("reference")),
        tags=_split(raw.get("tags")),
        classification=_classification(raw.get("classification")),
        metadata=dict(metadata) if isinstance(metadata, dict) else {},
        raw=dict(raw),
    )


# ---------------------------------------------------------------------- operators


def _matcher(ctx: _Context, raw: dict[str, Any], where: str) -> Matcher | None:
    kind = _text(raw.get("type")).strip().lower()
    condition = _text(raw.get("condition") or "or").strip().lower()
    if condition not in ("and", "or"):
        raise ctx.error("field", field=f"{where}.condition", detail="and, or")
    common: dict[str, Any] = {
        "type": kind,
        "part": _text(raw["part"]).strip() if raw.get("part") else None,
        "condition": condition,
        "negative": _flag(ctx, raw, "negative", where),
        "internal": _flag(ctx, raw, "internal", where),
        "case_insensitive": _flag(ctx, raw, "case-insensitive", where),
        "match_all": _flag(ctx, raw, "match-all", where),
        "name": _text(raw["name"]) if raw.get("name") else None,
        "encoding": _text(raw["encoding"]).lower() if raw.get("encoding") else None,
    }
    if kind == "status":
        codes = tuple(_int(ctx, v, f"{where}.status", high=999) for v in _texts(raw.get("status")))
        return Matcher(status=codes, **common)
    if kind == "size":
        sizes = tuple(_int(ctx, v, f"{where}.size") for v in _texts(raw.get("size")))
        return Matcher(size=sizes, **common)
    key = _MATCHER_VALUES.get(kind)
    if key is None:
        ctx.refuse(f"matcher-type:{kind or '?'}", "matcher_type", kind=kind)
        return None
    values = _texts(raw.get(key))
    if not values:
        raise ctx.error("field", field=f"{where}.{key}", detail=t("templates.error.empty"))
    _check_values(ctx, kind, values, common["case_insensitive"])
    if common["encoding"] == "hex" and kind == "word":
        _check_values(ctx, "binary", values, False)
    return Matcher(values=values, **common)


def _check_values(ctx: _Context, kind: str, values: tuple[str, ...], fold: bool) -> None:
    if kind == "word":
        ctx.texts(values)
    elif kind == "regex":
        for value in values:
            try:
                safe_regex(value, fold)
            except HelperFailure as exc:
                ctx.refuse("regex-syntax", "regex_syntax", pattern=value[:80], detail=exc.detail)
    elif kind == "binary":
        for value in values:
            try:
                bytes.fromhex(value)
            except ValueError:
                ctx.refuse("binary-value", "binary_value", value=value[:80])
    elif kind == "dsl":
        ctx.expressions(values)
    elif kind == "xpath":
        for value in values:
            try:
                compile_xpath(value)
            except XPathError:
                ctx.refuse("xpath-expression", "xpath", expression=value[:120])
    elif kind == "json":
        for value in values:
            try:
                compile_path(value)
            except JsonPathError:
                ctx.refuse("json-path", "json_path", expression=value[:120])


def _extractor(ctx: _Context, raw: dict[str, Any], where: str) -> Extractor | None:
    kind = _text(raw.get("type")).strip().lower()
    key = _EXTRACTOR_VALUES.get(kind)
    if key is None:
        ctx.refuse(f"extractor-type:{kind or '?'}", "extractor_type", kind=kind)
        return None
    values = _texts(raw.get(key))
    if not values:
        raise ctx.error("field", field=f"{where}.{key}", detail=t("templates.error.empty"))
    fold = _flag(ctx, raw, "case-insensitive", where)
    _check_values(ctx, kind, values, fold)
    part = _text(raw["part"]).strip() if raw.get("part") else None
    attribute = raw.get("attribute")
    return Extractor(
        type=kind,
        part=part,
        values=values,
        name=_text(raw["name"]) if raw.get("name") else None,
        internal=_flag(ctx, raw, "internal", where),
        group=_int(ctx, raw.get("group", 0), f"{where}.group", high=99),
        attribute=str(attribute) if attribute else None,
        case_insensitive=fold,
    )


def _operators(ctx: _Context, block: dict[str, Any], where: str) -> Operators:
    matchers = [
        _matcher(ctx, raw, f"{where}.matchers[{i}]")
        for i, raw in enumerate(_list_of_dicts(ctx, block.get("matchers"), f"{where}.matchers"))
    ]
    extractors = [
        _extractor(ctx, raw, f"{where}.extractors[{i}]")
        for i, raw in enumerate(_list_of_dicts(ctx, block.get("extractors"), f"{where}.extractors"))
    ]
    condition = _text(block.get("matchers-condition") or "or").strip().lower()
    if condition not in ("and", "or"):
        raise ctx.error("field", field=f"{where}.matchers-condition", detail="and, or")
    return Operators(
        matchers=tuple(m for m in matchers if m is not None),
        extractors=tuple(e for e in extractors if e is not None),
        condition=condition,
    )


# ------------------------------------------------------------------------ payloads


def _payloads(ctx: _Context, raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ctx.error("field", field=f"{where}.payloads", detail=t("templates.error.not_map"))
    out: dict[str, tuple[str, ...]] = {}
    for name, value in raw.items():
        if isinstance(value, list):
            out[str(name)] = _texts(value)
        elif isinstance(value, str) and "\n" not in value.strip():
            try:
                out[str(name)] = read_payload_file(value, ctx.path, ctx.root)
            except PayloadFileError as exc:
                ctx.refuse(exc.feature, exc.key, file=value)
                out[str(name)] = ()
        elif isinstance(value, str):
            out[str(name)] = tuple(line for line in value.splitlines() if line.strip())
        else:
            out[str(name)] = _texts(value)
        ctx.texts(out[str(name)])
    return out


# -------------------------------------------------------------------------- http


def _headers(ctx: _Context, raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ctx.error("field", field=f"{where}.headers", detail=t("templates.error.not_map"))
    return tuple((str(k), _text(v)) for k, v in raw.items())


def _http(ctx: _Context, index: int, raw: dict[str, Any]) -> HttpRequest:
    where = f"http[{index}]"
    for key in raw:
        if key not in _HTTP_FIELDS:
            ctx.refuse(f"http-field:{key}", "field", field=key)
    if _flag(ctx, raw, "unsafe", where):
        ctx.refuse("unsafe", "unsafe")
    if _flag(ctx, raw, "race", where) or raw.get("race_count"):
        ctx.refuse("race", "race")
    if _flag(ctx, raw, "pipeline", where):
        ctx.refuse("pipeline", "pipeline")
    if raw.get("fuzzing"):
        ctx.refuse("fuzzing", "fuzzing")
    if raw.get("analyzer"):
        ctx.refuse("analyzer", "analyzer")
    if raw.get("digest-username") or raw.get("digest-password"):
        ctx.refuse("digest-auth", "digest_auth")
    paths = _texts(raw.get("path"))
    raws = _texts(raw.get("raw"))
    if not paths and not raws:
        raise ctx.error("field", field=f"{where}.path", detail=t("templates.error.no_request"))
    attack = _text(raw.get("attack") or "batteringram").strip().lower()
    if attack not in ("batteringram", "pitchfork", "clusterbomb"):
        ctx.refuse(f"attack:{attack}", "attack", attack=attack)
    headers = _headers(ctx, raw.get("headers"), where)
    body = _text(raw.get("body"))
    ctx.texts([*paths, *raws, body, *(v for _, v in headers)])
    max_size = raw.get("max-size")
    method = _text(raw.get("method") or "GET").strip().upper()
    if not re.fullmatch(r"[A-Z][A-Z0-9_-]{0,31}", method):
        raise ctx.error("field", field=f"{where}.method", detail=method[:40])
    return HttpRequest(
        index=index,
        operators=_operators(ctx, raw, where),
        method=method,
        paths=paths,
        raw=raws,
        headers=headers,
        body=body,
        payloads=_payloads(ctx, raw.get("payloads"), where),
        attack=attack,
        redirects=_flag(ctx, raw, "redirects", where),
        host_redirects=_flag(ctx, raw, "host-redirects", where),
        max_redirects=_int(ctx, raw.get("max-redirects", 10), f"{where}.max-redirects", high=50),
        cookie_reuse=not _flag(ctx, raw, "disable-cookie", where),
        stop_at_first_match=_flag(ctx, raw, "stop-at-first-match", where),
        req_condition=_flag(ctx, raw, "req-condition", where),
        iterate_all=_flag(ctx, raw, "iterate-all", where),
        max_size=_int(ctx, max_size, f"{where}.max-size", high=64 * 2**20) if max_size else None,
        skip_variables_check=_flag(ctx, raw, "skip-variables-check", where),
        disable_path_automerge=_flag(ctx, raw, "disable-path-automerge", where),
        name=_text(raw["id"]) if raw.get("id") else None,
    )


# ----------------------------------------------------------------------- network


def _ports(ctx: _Context, raw: Any, where: str) -> tuple[int, ...]:
    out: list[int] = []
    for item in _texts(raw):
        for part in item.split(","):
            if part.strip():
                out.append(_int(ctx, part, f"{where}.port", low=1, high=65535))
    return tuple(out)


def _network(ctx: _Context, index: int, raw: dict[str, Any]) -> NetworkRequest:
    where = f"tcp[{index}]"
    for key in raw:
        if key not in _NETWORK_FIELDS:
            ctx.refuse(f"tcp-field:{key}", "field", field=key)
    if raw.get("payloads"):
        ctx.refuse("tcp-payloads", "tcp_payloads")
    inputs: list[NetworkInput] = []
    for i, item in enumerate(_list_of_dicts(ctx, raw.get("inputs"), f"{where}.inputs")):
        kind = _text(item.get("type") or "text").lower()
        data = _text(item.get("data"))
        if kind == "hex":
            try:
                bytes.fromhex(data)
            except ValueError:
                raise ctx.error(
                    "field", field=f"{where}.inputs[{i}].data", detail=t("templates.error.hex")
                ) from None
        ctx.texts([data])
        read = item.get("read")
        inputs.append(
            NetworkInput(
                data=data,
                hex=kind == "hex",
                read=_int(ctx, read, f"{where}.inputs[{i}].read", high=2**20) if read else None,
                name=_text(item["name"]) if item.get("name") else None,
            )
        )
    hosts = _texts(raw.get("host")) or ("{{Hostname}}",)
    ctx.texts(hosts)
    read_size = raw.get("read-size", 1024)
    return NetworkRequest(
        index=index,
        operators=_operators(ctx, raw, where),
        hosts=hosts,
        ports=_ports(ctx, raw.get("port"), where),
        inputs=tuple(inputs),
        read_size=_int(ctx, read_size, f"{where}.read-size", low=1, high=2**20),
        read_all=_flag(ctx, raw, "read-all", where),
    )


# --------------------------------------------------------------------------- ssl


def _ssl_versions(ctx: _Context, raw: dict[str, Any], where: str) -> tuple[str | None, str | None]:
    found: list[str | None] = []
    for key in ("min_version", "max_version"):
        value = _text(raw.get(key)).strip().lower() or None
        if value is not None and value not in VERSIONS:
            ctx.refuse(f"ssl-version:{value}", "version", area="templates_ssl", version=value)
            value = None
        found.append(value)
    low, high = found
    if low and high and VERSIONS.index(low) > VERSIONS.index(high):
        detail = t("templates_ssl.error.version_order", low=low, high=high)
        raise ctx.error("field", field=f"{where}.min_version", detail=detail)
    span = VERSIONS[VERSIONS.index(low or VERSIONS[0]) : VERSIONS.index(high or VERSIONS[-1]) + 1]
    if not any(version_available(version) for version in span):
        ctx.refuse(
            f"ssl-version:{high or low}",
            "version_unavailable",
            area="templates_ssl",
            versions=", ".join(span),
            openssl=ssl.OPENSSL_VERSION,
        )
    return low, high


def _ssl_ciphers(ctx: _Context, raw: dict[str, Any]) -> tuple[str, ...]:
    names = tuple(name.strip() for name in _texts(raw.get("cipher_suites")) if name.strip())
    known: list[str] = []
    for name in names:
        if code_for(name) is None:
            ctx.refuse(f"ssl-cipher:{name}", "cipher", area="templates_ssl", name=name)
        else:
            known.append(name)
    usable, missing = usable_suites(known)
    # Some offerable suites are enough (the others are named in the run's notes); none
    # at all would leave nothing to offer for TLS 1.2 and older.
    if missing and not usable:
        ctx.refuse(
            f"ssl-cipher-unavailable:{missing[0]}",
            "cipher_unavailable",
            area="templates_ssl",
            names=", ".join(missing[:10]),
            openssl=ssl.OPENSSL_VERSION,
        )
    return names


def _ssl(ctx: _Context, index: int, raw: dict[str, Any]) -> SslRequest:
    where = f"ssl[{index}]"
    for key in raw:
        if key not in _SSL_FIELDS:
            ctx.refuse(f"ssl-field:{key}", "field", area="templates_ssl", field=key)
    address = _text(raw.get("address") or "{{Host}}:{{Port}}").strip()
    ctx.texts([address])
    low, high = _ssl_versions(ctx, raw, where)
    scan_mode = _text(raw.get("scan_mode") or "auto").strip().lower()
    if scan_mode not in SCAN_MODES:
        ctx.refuse(f"ssl-scan-mode:{scan_mode}", "scan_mode", area="templates_ssl", mode=scan_mode)
    cipher_types = tuple(v.strip().lower() for v in _texts(raw.get("tls_cipher_types")))
    for value in cipher_types:
        if value not in CIPHER_TYPES:
            ctx.refuse(f"ssl-cipher-type:{value}", "cipher_type", area="templates_ssl", value=value)
    cipher_enum = _flag(ctx, raw, "tls_cipher_enum", where)
    return SslRequest(
        index=index,
        operators=_operators(ctx, raw, where),
        address=address,
        min_version=low,
        max_version=high,
        cipher_suites=_ssl_ciphers(ctx, raw),
        scan_mode=scan_mode,
        # Nuclei enumerates the versions first whenever it enumerates cipher suites.
        version_enum=cipher_enum or _flag(ctx, raw, "tls_version_enum", where),
        cipher_enum=cipher_enum,
        cipher_types=cipher_types,
        name=_text(raw["id"]) if raw.get("id") else None,
    )


# --------------------------------------------------------------------------- dns


def _dns(ctx: _Context, index: int, raw: dict[str, Any]) -> DnsRequest:
    where = f"dns[{index}]"
    for key in raw:
        if key not in _DNS_FIELDS:
            ctx.refuse(f"dns-field:{key}", "field", area="templates_dns", field=key)
    if raw.get("payloads"):
        ctx.refuse("dns-payloads", "payloads", area="templates_dns")
    if _flag(ctx, raw, "trace", where):
        ctx.refuse("dns-trace", "trace", area="templates_dns")
    query = _text(raw.get("name")).strip()
    if not query:
        raise ctx.error("field", field=f"{where}.name", detail=t("templates.error.empty"))
    ctx.texts([query])
    qtype = _text(raw.get("type") or "A").strip().upper()
    if qtype not in QUERY_TYPES:
        ctx.refuse(f"dns-type:{qtype}", "type", area="templates_dns", type=qtype)
    qclass = _text(raw.get("class") or "inet").strip().lower()
    if qclass not in QUERY_CLASSES:
        ctx.refuse(f"dns-class:{qclass}", "class", area="templates_dns", value=qclass)
    resolvers = tuple(r.strip() for r in _texts(raw.get("resolvers")) if r.strip())
    ctx.texts(resolvers)
    recursion = raw.get("recursion")
    return DnsRequest(
        index=index,
        operators=_operators(ctx, raw, where),
        query=query,
        qtype=qtype if qtype in QUERY_TYPES else "A",
        qclass=qclass if qclass in QUERY_CLASSES else "inet",
        recursion=True if recursion is None else _flag(ctx, raw, "recursion", where),
        # Nuclei reads 0 (or no value) as its default of 3 tries.
        retries=_int(ctx, raw.get("retries") or 0, f"{where}.retries", high=10) or 3,
        resolvers=resolvers,
        name=_text(raw["id"]) if raw.get("id") else None,
    )


# ------------------------------------------------------------------------ template


def _variables(ctx: _Context, raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise ctx.error("field", field="variables", detail=t("templates.error.not_map"))
    out = tuple((str(k), _text(v)) for k, v in raw.items())
    ctx.texts(v for _, v in out)
    return out


def _sections(ctx: _Context, data: dict[str, Any]) -> list[str]:
    protocols: list[str] = []
    for key in data:
        if key not in KNOWN_TOP:
            ctx.refuse(f"section:{key}", "section", section=key)
        elif key in REFUSED_SECTIONS or key == "workflow":
            name = "workflows" if key == "workflow" else key
            ctx.refuse(name, f"section_{name}")
            protocols.append(name)
        elif key in ("http", "requests"):
            protocols.append("http")
        elif key in ("tcp", "network"):
            protocols.append("tcp")
        elif key in ("ssl", "dns"):
            protocols.append(key)
    return protocols


def _flow(ctx: _Context, raw: Any) -> str | None:
    if raw is None:
        return None
    text = _text(raw)
    try:
        parse_flow(text)
    except FlowError:
        ctx.refuse("flow-javascript", "flow_javascript")
    return text


def load_template(path: str | Path, *, root: str | Path | None = None) -> Template:
    """Load one template file.

    ``root`` is the folder the user named (payload files may live anywhere below it,
    never outside); by default the template's own folder. Raises :class:`TemplateError`.
    """
    file = Path(path)
    base = Path(root) if root is not None else file.parent
    ctx = _Context(file, base)
    data = read_yaml_file(file)
    if not isinstance(data, dict):
        raise ctx.error("not_a_map")
    template_id = data.get("id")
    if not isinstance(template_id, str) or not _ID.match(template_id.strip()):
        raise ctx.error("id_invalid", value=_text(template_id)[:80])
    info = _info(ctx, data.get("info"))
    protocols = _sections(ctx, data)
    http_blocks = data.get("http", data.get("requests"))
    network_blocks = data.get("tcp", data.get("network"))
    http = tuple(
        _http(ctx, i, raw) for i, raw in enumerate(_list_of_dicts(ctx, http_blocks, "http"))
    )
    network = tuple(
        _network(ctx, i, raw) for i, raw in enumerate(_list_of_dicts(ctx, network_blocks, "tcp"))
    )
    ssl_blocks = tuple(
        _ssl(ctx, i, raw) for i, raw in enumerate(_list_of_dicts(ctx, data.get("ssl"), "ssl"))
    )
    dns_blocks = tuple(
        _dns(ctx, i, raw) for i, raw in enumerate(_list_of_dicts(ctx, data.get("dns"), "dns"))
    )
    if not protocols:
        ctx.refuse("no-request", "no_request")
    return Template(
        id=template_id.strip(),
        path=file,
        info=info,
        variables=_variables(ctx, data.get("variables")),
        http=http,
        network=network,
        ssl=ssl_blocks,
        dns=dns_blocks,
        flow=_flow(ctx, data.get("flow")),
        self_contained=_flag(ctx, data, "self-contained", "template"),
        protocols=tuple(protocols),
        unsupported=tuple(dict.fromkeys(ctx.unsupported)),
    )
