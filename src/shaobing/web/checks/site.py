"""Site checks that probe once per site: sensitive files, directory listings, dangerous
HTTP methods, TRACE and CORS.

Every finding is proved by what came back, never by a status code alone:

* ``web.sensitive-files`` (active) — probes the files of ``web/data/sensitive_files.yaml``
  (version-control metadata, ``.env``, ``.DS_Store``, ``WEB-INF/web.xml``, database
  dumps), backup archives (common names and names made from the host), and ``.bak``/
  ``.old``/``~``/vim-swap copies of crawled dynamic pages. A hit must show the file's
  content signature (``[core]`` in ``.git/config``, archive magic bytes with a sane size,
  ``Bud1`` for ``.DS_Store``, KEY=VALUE lines for ``.env`` …) and must differ from the
  answer to a random name with the same suffix in the same directory (soft-404 sites
  answer 200 with the same page for everything). Probes ask for the first 4 KiB only
  (``Range``); a server ignoring that is cut at the client's size cap.
  Requests per site: 14 files + 16 archives + up to 9 host-named archives + up to 4 per
  crawled dynamic page (at most ``backup_pages``, default 8) + one baseline per
  (directory, suffix) of a candidate hit.
* ``web.directory-probe`` (active) — GETs the directories of crawled URLs (at most
  ``listing_directories``, default 30) and reports directory index pages (the signatures
  the passive check uses). Requests: one per directory.
* ``web.http-methods`` (active, writes nothing) — per directory (scope root and up to
  ``method_directories - 1`` crawled ones, default 5 in all; names like dav, upload,
  files, share first): ``OPTIONS`` (its Allow header is only
  noted), ``DELETE`` of a random name that does not exist, and a made-up method on the same
  name. DELETE is reported when it is not refused (400/401/403/405/501) and either the
  made-up method gets 405 (the resource filters methods and let DELETE through) or DELETE
  answers 2xx while a GET of the name fails (DELETE is handled on its own). PUT cannot be
  judged without writing: that is ``web.put-write``. Requests: 3 per directory (+1 GET
  after a 2xx DELETE).
* ``web.put-write`` (intrusive) — ``PUT`` of a random-named text file holding a canary into
  the same directories; proved only when a ``GET`` returns the canary; the file is then
  deleted and the deletion verified. Requests: 1 per directory, 3 more on success (stops
  at the first proof).
* ``web.trace`` (active) — ``TRACE`` with a canary header; reported when the body echoes
  it. Requests: 1.
* ``web.cors`` (active) — the scope root and up to ``cors_urls - 1`` crawled JSON answers
  and API-looking URLs (default 10 in all) are requested with
  ``Origin: https://<canary>.example`` and ``Origin: null``; reported when the origin
  is reflected in Access-Control-Allow-Origin together with
  ``Access-Control-Allow-Credentials: true``. Requests: 2 per URL.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from shaobing.findings.severity import Severity
from shaobing.scan.checks import Safety
from shaobing.web.checks._support import (
    KEEP_CHARS,
    OPTION_MAX,
    QUOTE_CHARS,
    crawled_directories,
    crawled_urls,
    load_data,
    option,
    scope_root,
    try_send,
)
from shaobing.web.checks.base import ScanState, SiteCheck, canary, register, similarity
from shaobing.web.checks.passive import directory_listing
from shaobing.web.client import WebResponse
from shaobing.web.issues import WebIssue
from shaobing.web.request import WebRequest

# Directories probed for methods and URLs probed for CORS per site (organisation-defined).
DEFAULT_METHOD_DIRECTORIES = 5
DEFAULT_CORS_URLS = 10
# Bytes asked for per probe: every signature sits in the first few hundred bytes.
PROBE_RANGE = "bytes=0-4095"
# Above this similarity a hit is the soft-404 page again (organisation-defined: the same
# template with a different path echoed in it scores ~0.95).
SOFT_404_SIMILARITY = 0.9
# A 200 whose body equals the directory's index page is not a file either.
_HTML_START = re.compile(rb"(?i)^\s*(?:<!doctype html|<html|<head|<body|<!--)")
# Bytes looked at for that opening tag (organisation-defined).
_HTML_SNIFF = 512
_ENV_LINE = re.compile(r"(?m)^\s*(?:export\s+)?[A-Z][A-Z0-9_]{1,60}\s*=\s*\S")
_CONTENT_RANGE_TOTAL = re.compile(r"/\s*(\d+)\s*$")
_API_PATH = re.compile(r"(?i)/(?:api|rest|service|services|ajax|json|v\d+)/")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Proof:
    """How a probed file shows it is really that file."""

    contains: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    magic: tuple[bytes, ...] = ()
    env: int = 0
    not_html: bool = False
    min_size: int = 0

    def holds(self, body: bytes, size: int) -> bool:
        """Whether ``body`` (the first bytes of a file of ``size`` bytes) is the file."""
        if size < self.min_size or not body:
            return False
        if self.magic and not body.startswith(self.magic):
            return False
        if self.not_html and _HTML_START.match(body[:_HTML_SNIFF]):
            return False
        if not (self.contains or self.regex or self.env):
            return bool(self.magic)
        text = body.decode("utf-8", "replace")
        if any(item not in text for item in self.contains):
            return False
        if self.regex is not None and not self.regex.search(text):
            return False
        return not self.env or len(_ENV_LINE.findall(text)) >= self.env


@dataclass(frozen=True)
class Target:
    """One file to probe."""

    path: str
    """Relative to the scope root (no leading slash) or absolute (leading slash)."""
    what: str
    proof: Proof
    severity: Severity | None = None


def _bytes(text: str) -> bytes:
    # YAML gives "\x00…" escapes as characters U+0000–U+00FF: one byte each.
    return text.encode("latin-1")


def _proof(data: dict[str, Any]) -> Proof:
    regex = data.get("regex")
    return Proof(
        contains=tuple(str(c) for c in data.get("contains", [])),
        regex=re.compile(str(regex), re.MULTILINE) if regex else None,
        magic=tuple(_bytes(str(m)) for m in data.get("magic", [])),
        env=int(data.get("env", 0)),
        not_html=bool(data.get("not_html", False)),
        min_size=int(data.get("min_size", 0)),
    )


@dataclass(frozen=True)
class FileTables:
    """``sensitive_files.yaml``, parsed."""

    files: tuple[Target, ...]
    archives: tuple[str, ...]
    host_extensions: tuple[str, ...]
    formats: dict[str, tuple[bytes, ...]]
    archive_min_size: int
    backup_suffixes: tuple[str, ...]
    backup_extensions: frozenset[str]
    source: re.Pattern[str]
    swap_magic: tuple[bytes, ...]

    def archive(self, name: str, what: str) -> Target | None:
        """The target for an archive file ``name`` (None for an unknown extension)."""
        for extension, magic in self.formats.items():
            if name.lower().endswith("." + extension):
                proof = Proof(magic=magic, min_size=self.archive_min_size)
                return Target(name, what, proof)
        return None


@cache
def file_tables() -> FileTables:
    """The probe lists (loaded once)."""
    data = load_data("sensitive_files.yaml")
    files = tuple(
        Target(
            path=str(item["path"]),
            what=str(item["what"]),
            proof=_proof(item["proof"]),
            severity=Severity(item["severity"]) if item.get("severity") else None,
        )
        for item in data["files"]
    )
    return FileTables(
        files=files,
        archives=tuple(str(a) for a in data["archives"]),
        host_extensions=tuple(str(e) for e in data["host_archive_extensions"]),
        formats={
            str(k): tuple(_bytes(str(m)) for m in v) for k, v in data["archive_formats"].items()
        },
        archive_min_size=int(data["archive_min_size"]),
        backup_suffixes=tuple(str(s) for s in data["page_backup_suffixes"]),
        backup_extensions=frozenset(str(e).lower() for e in data["page_backup_extensions"]),
        source=re.compile(str(data["source_markers"]), re.MULTILINE),
        swap_magic=tuple(_bytes(str(m)) for m in data["swap_magic"]),
    )


def host_names(host: str) -> list[str]:
    """Backup base names made from a host: the host, the domain without ``www.``, and the
    organisation's label (``www.yunzhou.gov.cn`` → ``www.yunzhou.gov.cn``,
    ``yunzhou.gov.cn``, ``yunzhou``). IP addresses give themselves only."""
    host = host.strip("[]").lower()
    if not host:
        return []
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return [host] if address.version == 4 else []  # colons make poor file names
    names = [host]
    bare = host.removeprefix("www.")
    names.append(bare)
    labels = bare.split(".")
    # Chinese government and education domains sit under two-label suffixes (gov.cn,
    # edu.cn, com.cn …): the organisation is the label in front of them.
    if len(labels) >= 3 and labels[-2] in ("gov", "edu", "com", "org", "net", "ac"):
        names.append(labels[-3])
    elif len(labels) >= 2:
        names.append(labels[-2])
    return list(dict.fromkeys(n for n in names if n))


def _size(response: WebResponse) -> int:
    total = _CONTENT_RANGE_TOTAL.search(response.header("content-range") or "")
    if total:
        return int(total.group(1))
    length = (response.header("content-length") or "").strip()
    if length.isdigit() and response.status == 200:
        return max(int(length), len(response.body))
    return len(response.body)


def _suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    for compound in (".tar.gz", ".tar.bz2"):
        if name.lower().endswith(compound):
            return compound
    if name.startswith(".") and name.count(".") == 1:
        return ""  # ".env", ".DS_Store": a dot file, not an extension
    if name.endswith("~"):
        return "~"
    return "." + name.rsplit(".", 1)[-1] if "." in name else ""


class _Baselines:
    """Answers to random names per (directory, suffix), fetched only when needed."""

    def __init__(self, state: ScanState) -> None:
        self.state = state
        self._cache: dict[tuple[str, str], WebResponse | None] = {}

    def get(self, url: str) -> WebResponse | None:
        """The answer to a random name beside ``url`` with its suffix."""
        parts = urlsplit(url)
        directory = parts.path.rsplit("/", 1)[0] + "/"
        suffix = _suffix(parts.path)
        key = (directory, suffix)
        if key not in self._cache:
            name = canary("sb") + suffix
            if parts.path.rsplit("/", 1)[-1].startswith("."):
                name = "." + name  # dot files may be routed apart from other names
            random_url = urlunsplit((parts.scheme, parts.netloc, directory + name, "", ""))
            request = WebRequest("GET", random_url, (("Range", PROBE_RANGE),))
            self._cache[key] = try_send(self.state, request)
        return self._cache[key]


def _is_soft_404(hit: WebResponse, baseline: WebResponse | None, proof: Proof) -> bool:
    if baseline is None or baseline.status not in (200, 206):
        return False
    if hit.body == baseline.body:
        return True
    if proof.holds(baseline.body, _size(baseline)):
        return True  # the server answers every such name with a file like this
    return similarity(hit.text, baseline.text) >= SOFT_404_SIMILARITY


# --------------------------------------------------------------------------- checks


class SensitiveFilesCheck(SiteCheck):
    """Downloadable repository metadata, configuration, dumps and backups."""

    id = "web.sensitive-files"
    kinds = ("sensitive-file",)
    safety = Safety.ACTIVE
    # Crawled dynamic pages whose backup copies are probed (organisation-defined).
    default_backup_pages: ClassVar[int] = 8

    def targets(self, state: ScanState, base: str) -> list[Target]:
        """Every file to probe on ``base`` (relative to the scope root or absolute)."""
        data = file_tables()
        targets = list(data.files)
        for name in data.archives:
            archive = data.archive(name, "网站备份压缩包")
            if archive is not None:
                targets.append(archive)
        for host in host_names(urlsplit(base).hostname or ""):
            for extension in data.host_extensions:
                archive = data.archive(f"{host}.{extension}", "以域名命名的网站备份压缩包")
                if archive is not None:
                    targets.append(archive)
        limit = option(state, self.id, "backup_pages", self.default_backup_pages, 0)
        targets += self._page_backups(state, base, limit)
        return list({t.path: t for t in targets}.values())

    def _page_backups(self, state: ScanState, base: str, limit: int) -> list[Target]:
        data = file_tables()
        # Templates often start with HTML: the server-side markers are the proof here.
        source = Proof(regex=data.source)
        out: list[Target] = []
        paths: set[str] = set()
        for url in crawled_urls(state, base):
            if len(paths) >= limit:
                break
            path = urlsplit(url).path
            name = path.rsplit("/", 1)[-1]
            if "." not in name or name.rsplit(".", 1)[-1].lower() not in data.backup_extensions:
                continue
            if path in paths:
                continue
            paths.add(path)
            for suffix in data.backup_suffixes:
                out.append(Target(path + suffix, "动态页面源代码备份", source))
            directory = path.rsplit("/", 1)[0]
            out.append(
                Target(
                    f"{directory}/.{name}.swp",
                    "vim 交换文件（含页面源代码）",
                    Proof(magic=data.swap_magic),
                )
            )
        return out

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """Probe every target; report the proved ones."""
        root = scope_root(state, base)
        baselines = _Baselines(state)
        for target in self.targets(state, base):
            if state.client.ctx.should_stop():
                return
            url = (
                base.rstrip("/") + target.path
                if target.path.startswith("/")
                else root + target.path
            )
            if not state.client.scope.allows(url):
                continue
            request = WebRequest("GET", url, (("Range", PROBE_RANGE),))
            response = try_send(state, request)
            if response is None or response.status not in (200, 206):
                continue
            size = _size(response)
            if not target.proof.holds(response.body, size):
                continue
            if _is_soft_404(response, baselines.get(url), target.proof):
                continue
            yield WebIssue(
                kind="sensitive-file",
                url=url,
                detail=(
                    f"可下载 {target.what}：{urlsplit(url).path}（{size} 字节），"
                    "内容符合该类文件的特征。"
                ),
                request=response.request,
                response=response,
                severity=target.severity,
                extra={"file": target.path, "size": size},
            )


class DirectoryProbeCheck(SiteCheck):
    """Directory listings of the directories seen in crawled URLs."""

    id = "web.directory-probe"
    kinds = ("directory-listing",)
    safety = Safety.ACTIVE
    # Directories probed per site (organisation-defined).
    default_directories: ClassVar[int] = 30

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """GET each directory; report index pages."""
        limit = option(state, self.id, "listing_directories", self.default_directories, 0)
        crawled = set(crawled_urls(state, base))
        for url in [scope_root(state, base), *crawled_directories(state, base, limit)][:limit]:
            if url in crawled or state.client.ctx.should_stop():
                continue  # the passive check already saw the crawled ones
            response = try_send(state, WebRequest("GET", url))
            if response is None or response.status != 200 or not response.is_html:
                continue
            hit = directory_listing(response.text)
            if hit is not None:
                yield WebIssue(
                    kind="directory-listing",
                    url=url,
                    detail=f"目录 {urlsplit(url).path} 返回了 {hit.label} 的目录列表页面。",
                    request=response.request,
                    response=response,
                    extra={"signature": hit.id},
                )


# Directory names where writable shares usually live: tried before the others.
_WRITABLE_NAMES = re.compile(
    r"(?i)/(?:[^/]*dav[^/]*|uploads?|upfiles?|files?|share[sd]?|attach(?:ments?)?|"
    r"public|tmp|temp|data|docs?|resources?)/$"
)


def method_directories(state: ScanState, base: str, check_id: str) -> list[str]:
    """The scope root, then crawled directories whose names suggest a writable share,
    then the shallowest others; ``method_directories`` of them in all."""
    limit = option(state, check_id, "method_directories", DEFAULT_METHOD_DIRECTORIES, 1)
    crawled = crawled_directories(state, base, OPTION_MAX)
    ranked = sorted(crawled, key=lambda url: 0 if _WRITABLE_NAMES.search(url) else 1)
    return [scope_root(state, base), *ranked][:limit]


# A method no server implements. A 405 for it means the resource exists and filters
# methods (RFC 9110 §15.5.6); 501 or 400 come from the server before any resource is
# consulted and say nothing about DELETE.
_BOGUS_METHOD = "SBPROBE"
_DENIED = frozenset({400, 401, 403, 405, 501})


class HttpMethodsCheck(SiteCheck):
    """DELETE accepted, judged from answers about a name that does not exist."""

    id = "web.http-methods"
    kinds = ("dangerous-methods",)
    safety = Safety.ACTIVE

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """Per directory: OPTIONS (noted), DELETE and a made-up method on a random name;
        a GET of the name too when DELETE answered 2xx."""
        for directory in method_directories(state, base, self.id):
            if state.client.ctx.should_stop():
                return
            options = try_send(state, WebRequest("OPTIONS", directory))
            allow = ""
            if options is not None:
                allow = options.header("allow") or options.header("public") or ""
            url = directory + canary("sb") + ".txt"
            deleted = try_send(state, WebRequest("DELETE", url))
            bogus = try_send(state, WebRequest(_BOGUS_METHOD, url))
            if deleted is None or bogus is None or deleted.status in _DENIED:
                continue
            reason = ""
            if bogus.status == 405:
                reason = (
                    f"而未知方法 {_BOGUS_METHOD} 被该资源以 HTTP 405 拒绝，说明资源按方法过滤"
                    "且放行了 DELETE"
                )
            elif 200 <= deleted.status < 300:
                fetched = try_send(state, WebRequest("GET", url))
                if fetched is None or fetched.status < 400:
                    continue  # the server answers anything with success: no evidence
                reason = f"而 GET 同一地址得到 HTTP {fetched.status}，说明 DELETE 被单独处理"
            else:
                continue
            hint = f"；OPTIONS 的 Allow 头为 {allow[:QUOTE_CHARS]}" if allow else ""
            yield WebIssue(
                kind="dangerous-methods",
                url=directory,
                method="DELETE",
                detail=(
                    f"对不存在的文件 {urlsplit(url).path} 发送 DELETE 得到 HTTP "
                    f"{deleted.status}，{reason}（检测未写入或删除任何文件）{hint}。"
                ),
                request=deleted.request,
                response=deleted,
                confidence="firm",
                extra={"key": "DELETE", "allow": allow[:KEEP_CHARS]},
            )
            return


class PutWriteCheck(SiteCheck):
    """PUT proved by writing a harmless canary file, reading it back and deleting it."""

    id = "web.put-write"
    kinds = ("dangerous-methods",)
    safety = Safety.INTRUSIVE

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """Try each directory until one accepts the file."""
        for directory in method_directories(state, base, self.id):
            if state.client.ctx.should_stop():
                return
            token = canary("sb")
            url = directory + token + ".txt"
            content = f"shaobing PUT test {token}\n".encode()
            put = try_send(
                state,
                WebRequest("PUT", url, (("Content-Type", "text/plain"),), content),
            )
            if put is None or not 200 <= put.status < 300:
                continue
            fetched = try_send(state, WebRequest("GET", url))
            # Clean up whatever the PUT did, proved or not.
            try_send(state, WebRequest("DELETE", url))
            after = try_send(state, WebRequest("GET", url))
            if fetched is None or fetched.status != 200 or token not in fetched.text:
                continue
            removed = after is not None and token not in after.text
            cleanup = (
                "测试文件已删除。"
                if removed
                else f"测试文件未能删除，请手工删除 {urlsplit(url).path}。"
            )
            yield WebIssue(
                kind="dangerous-methods",
                url=directory,
                method="PUT",
                detail=(
                    f"PUT 写入测试文件 {urlsplit(url).path}（HTTP {put.status}）后，"
                    f"GET 取回了其中的唯一标记 {token}。{cleanup}"
                ),
                request=put.request,
                response=fetched,
                extra={"key": "PUT", "test_file": url, "removed": removed},
            )
            return


class TraceCheck(SiteCheck):
    """TRACE echoing the request."""

    id = "web.trace"
    kinds = ("trace-enabled",)
    safety = Safety.ACTIVE

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """One TRACE with a canary header."""
        token = canary("sb")
        request = WebRequest("TRACE", scope_root(state, base), (("X-Shaobing-Trace", token),))
        response = try_send(state, request)
        if response is not None and response.status == 200 and token in response.text:
            yield WebIssue(
                kind="trace-enabled",
                url=request.url,
                method="TRACE",
                detail="TRACE 请求得到 HTTP 200，响应正文回显了请求中的自定义头 X-Shaobing-Trace。",
                request=response.request,
                response=response,
            )


def _cors_urls(state: ScanState, base: str, limit: int) -> list[str]:
    """The scope root, then crawled JSON answers, then other API-looking paths: CORS
    matters where scripts of other sites would read data."""
    on_site = set(crawled_urls(state, base))
    pages = [p for p in state.crawl.pages if p.method == "GET" and p.url in on_site]
    json_pages = [p.url for p in pages if "json" in p.content_type]
    api = [p.url for p in pages if _API_PATH.search(urlsplit(p.url).path)]
    return list(dict.fromkeys([scope_root(state, base), *json_pages, *api]))[:limit]


class CorsCheck(SiteCheck):
    """Any Origin (or ``null``) reflected with credentials allowed."""

    id = "web.cors"
    kinds = ("cors",)
    safety = Safety.ACTIVE

    def run(self, base: str, state: ScanState) -> Iterator[WebIssue]:
        """Two requests per URL: a foreign origin and ``null``."""
        limit = option(state, self.id, "cors_urls", DEFAULT_CORS_URLS, 1)
        for url in _cors_urls(state, base, limit):
            for label, origin in (("reflect", f"https://{canary('sb')}.example"), ("null", "null")):
                if state.client.ctx.should_stop():
                    return
                response = try_send(state, WebRequest("GET", url, (("Origin", origin),)))
                if response is None:
                    continue
                allowed = (response.header("access-control-allow-origin") or "").strip()
                credentials = (response.header("access-control-allow-credentials") or "").strip()
                if allowed != origin or credentials.lower() != "true":
                    continue
                what = "任意来源" if label == "reflect" else "null 来源"
                yield WebIssue(
                    kind="cors",
                    url=url,
                    detail=(
                        f"请求头 Origin: {origin} 被原样写入 Access-Control-Allow-Origin，"
                        f"并返回 Access-Control-Allow-Credentials: true（信任{what}）。"
                    ),
                    request=response.request,
                    response=response,
                    site_wide=True,
                    extra={"key": label},
                )


for _check in (
    SensitiveFilesCheck(),
    DirectoryProbeCheck(),
    HttpMethodsCheck(),
    PutWriteCheck(),
    TraceCheck(),
    CorsCheck(),
):
    register(_check)
