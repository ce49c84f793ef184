"""Checks ``unauth.*``: services that grant access without credentials (B3, B6 exposures).

Every request is read-only and asks for metadata a client is given without logging in
(Redis ``INFO``/``CONFIG GET dir``, MongoDB ``listDatabases``, Memcached ``stats``,
Elasticsearch ``GET /`` and ``/_cat/indices``, ZooKeeper ``ruok``/``srvr`` and
``getChildren /``, Docker ``/version`` and ``/containers/json``, Kubernetes and kubelet pod
lists, the rsync module list and module greeting, CouchDB ``/_all_dbs``); nothing is
written, so the checks are passive. Evidence shows what was readable — versions, counts
and at most a few names, never values or secrets.

Finding texts, severities, CVSS vectors and CWE ids are data
(``scan/data/unauthorised_access.yaml``), validated when first loaded.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, ClassVar

import yaml
from cvss import CVSS3
from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticError

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.findings.severity import severity_from_score
from shaobing.scan.checks import (
    Check,
    CheckContext,
    Observation,
    Safety,
    ServiceTarget,
    register_check,
)
from shaobing.scan.credentials import redis as resp
from shaobing.scan.credentials._stream import ProtocolError, Stream
from shaobing.scan.credentials.mongodb import MongoClient, is_ok
from shaobing.scan.finding_text import FindingText, text_observation
from shaobing.scan.finding_text import short as _short_text
from shaobing.scan.plugins._unauth_net import (
    HttpResponse,
    http_get,
    rsync_module_open,
    rsync_modules,
    zk_children,
    zk_four_letter,
)

DATA_FILE = "unauthorised_access.yaml"
# Evidence lists at most this many names, each cut to this many characters.
_NAMES_SHOWN = 5
_NAME_CHARS = 40
_VALUE_CHARS = 80
_RSYNC_MODULES_TRIED = 8
_STATS_LINES = 200
_HTTP_NAMES = frozenset({"http", "https", "http-alt", "http-proxy", "https-alt", "tls", "ssl"})
# Errors that mean "could not read it" — the service is then simply not reported.
_UNREACHABLE = (OSError, ProtocolError, ValueError)


class _DataFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    findings: dict[str, FindingText]


def parse_findings(text: str, source: str = DATA_FILE) -> dict[str, FindingText]:
    """Validate the data file's text; ValidationError (one line) when it is not valid."""
    try:
        findings = _DataFile.model_validate(yaml.safe_load(text)).findings
    except (yaml.YAMLError, PydanticError) as exc:
        detail = str(exc).replace("\n", " ")[:300]
        raise ValidationError(
            t("unauthorised_access.data_invalid", path=source, detail=detail)
        ) from None
    for key, finding in findings.items():
        _check_consistent(key, finding)
    return findings


def _check_consistent(key: str, finding: FindingText) -> None:
    score = float(CVSS3(finding.cvss).scores()[0])
    if severity_from_score(score) is not finding.severity:
        raise ValidationError(
            t(
                "unauthorised_access.severity_mismatch",
                key=key,
                severity=finding.severity.value,
                vector=finding.cvss,
                score=score,
            )
        )
    for part, template in finding.evidence.items():
        try:
            list(string.Formatter().parse(template))
        except ValueError as exc:
            raise ValidationError(
                t("unauthorised_access.template_invalid", key=key, part=part, detail=exc)
            ) from None


@cache
def load_findings() -> dict[str, FindingText]:
    """The packaged finding texts by key (cached)."""
    path = resources.files("shaobing.scan").joinpath("data", DATA_FILE)
    return parse_findings(path.read_text(encoding="utf-8"))


def short(value: object, limit: int = _VALUE_CHARS) -> str:
    """One line, control characters removed, cut to ``limit`` characters."""
    return _short_text(value, limit)


def name_list(names: list[str]) -> str:
    """At most a few names, each shortened; a note when more exist."""
    if not names:
        return t("unauthorised_access.none")
    shown = "、".join(short(name, _NAME_CHARS) for name in names[:_NAMES_SHOWN])
    if len(names) > _NAMES_SHOWN:
        return t("unauthorised_access.more", shown=shown, count=len(names))
    return shown


def observe(
    check_id: str,
    key: str,
    target: ServiceTarget,
    parts: list[tuple[str, Mapping[str, object]]],
    *,
    identity: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Observation:
    """An observation from the data file's entry ``key`` with the given evidence parts."""
    return text_observation(
        check_id,
        load_findings()[key],
        target,
        parts,
        identity=identity,
        extra=extra,
        limit=_VALUE_CHARS,
    )


def _json(response: HttpResponse) -> Any:
    if response.status != 200:
        return None
    try:
        return json.loads(response.body.decode("utf-8", "replace"))
    except ValueError:
        return None


class _ServiceCheck(Check):
    """Common parts: applies by service name, or by default port when the name is generic."""

    safety = Safety.PASSIVE
    http_based: ClassVar[bool] = False

    def applies(self, target: ServiceTarget) -> bool:
        """By name; HTTP-based checks also on their default ports when identified as HTTP."""
        if target.service in self.services:
            return True
        if target.service is None or (self.http_based and target.service in _HTTP_NAMES):
            return target.port in self.default_ports
        return False

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Probe; a service that cannot be read is not reported (scope refusals propagate)."""
        try:
            yield from self.probe(target, ctx)
        except ScopeRefused:
            raise
        except _UNREACHABLE:
            return

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """The check's own requests."""
        raise NotImplementedError


def _info_fields(info: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in info.decode("utf-8", "replace").splitlines():
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip()] = value.strip()
    return fields


@register_check
class RedisUnauthCheck(_ServiceCheck):
    """Redis answers INFO (and perhaps CONFIG GET) without AUTH."""

    id = "unauth.redis"
    services = frozenset({"redis"})
    default_ports = frozenset({6379, 6380})

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """INFO server, then CONFIG GET dir when INFO worked."""
        stream = Stream(ctx.connect(target.address, target.port, timeout=ctx.timeout), ctx.timeout)
        try:
            info = resp.call(stream, "INFO", "server")
            if not isinstance(info, bytes):
                return  # NOAUTH, protected mode (DENIED) or not Redis
            fields = _info_fields(info)
            if "redis_version" not in fields:
                return
            replication = resp.call(stream, "INFO", "replication")
            role = (
                _info_fields(replication).get("role", "") if isinstance(replication, bytes) else ""
            )
            parts: list[tuple[str, Mapping[str, object]]] = [
                (
                    "info",
                    {
                        "version": fields["redis_version"],
                        "role": role or "?",
                        "os": fields.get("os", "?"),
                    },
                )
            ]
            config = resp.call(stream, "CONFIG", "GET", "dir")
            readable = isinstance(config, list) and len(config) == 2
            if readable and isinstance(config, list) and isinstance(config[1], bytes):
                parts.append(("config", {"dir": config[1].decode("utf-8", "replace")}))
        finally:
            stream.close()
        yield observe(
            self.id,
            "redis",
            target,
            parts,
            extra={"version": fields["redis_version"], "role": role, "config_readable": readable},
        )


@register_check
class MongoUnauthCheck(_ServiceCheck):
    """MongoDB lists its databases without authentication."""

    id = "unauth.mongodb"
    services = frozenset({"mongodb"})
    default_ports = frozenset({27017, 27018, 27019})

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """isMaster, listDatabases, buildInfo (the latter needs no privileges)."""
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout)
        client = MongoClient(Stream(sock, ctx.timeout))
        try:
            client.handshake()
            reply = client.list_databases()
            if not is_ok(reply) or not isinstance(reply.get("databases"), list):
                return
            names = [str(db.get("name", "")) for db in reply["databases"] if isinstance(db, dict)]
            build = client.command("admin", {"buildInfo": 1})
            version = str(build.get("version", "")) if is_ok(build) else ""
        finally:
            client.stream.close()
        parts: list[tuple[str, Mapping[str, object]]] = [
            ("databases", {"count": len(names), "names": name_list(names)})
        ]
        if version:
            parts.append(("version", {"version": version}))
        yield observe(self.id, "mongodb", target, parts, extra={"databases": len(names)})


def _memcached_stats(text: str) -> dict[str, str]:
    stats: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split(" ", 2)
        if len(fields) == 3 and fields[0] == "STAT":
            stats[fields[1]] = fields[2].strip()
    return stats


@register_check
class MemcachedUnauthCheck(_ServiceCheck):
    """Memcached answers ``stats`` without authentication, over TCP and/or UDP."""

    id = "unauth.memcached"
    services = frozenset({"memcached"})
    default_ports = frozenset({11211})
    _UDP_REQUEST = b"\x00\x01\x00\x00\x00\x01\x00\x00stats\r\n"

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """TCP ``stats`` (on TCP targets) and one UDP ``stats`` datagram to the same port."""
        if target.protocol == "tcp":
            found = self._tcp(target, ctx)
            if found is not None:
                yield found
        try:
            found = self._udp(target, ctx)
        except _UNREACHABLE:
            return
        if found is not None:
            yield found

    def _tcp(self, target: ServiceTarget, ctx: CheckContext) -> Observation | None:
        stream = Stream(ctx.connect(target.address, target.port, timeout=ctx.timeout), ctx.timeout)
        lines: list[str] = []
        try:
            stream.send(b"stats\r\n")
            deadline = stream.deadline()
            # Line by line: an authenticating server answers one CLIENT_ERROR line only.
            while len(lines) < _STATS_LINES:
                line = stream.read_until(b"\r\n", 1024, deadline).decode("utf-8", "replace")
                if not line.startswith("STAT "):
                    break
                lines.append(line)
        finally:
            stream.close()
        text = "".join(lines)
        stats = _memcached_stats(text)
        if "version" not in stats:
            return None
        values = {
            "version": stats["version"],
            "items": stats.get("curr_items", "?"),
            "connections": stats.get("curr_connections", "?"),
        }
        return observe(self.id, "memcached", target, [("stats", values)], identity="tcp")

    def _udp(self, target: ServiceTarget, ctx: CheckContext) -> Observation | None:
        sock = ctx.connect(target.address, target.port, timeout=ctx.timeout, udp=True)
        try:
            sock.send(self._UDP_REQUEST)
            total, first = 0, b""
            # The reply comes in datagrams of up to 1,400 bytes; sum them for the factor.
            for _ in range(64):
                try:
                    datagram = sock.recv(65536)
                except TimeoutError:
                    break
                if len(datagram) < 8 or datagram[:2] != b"\x00\x01":
                    break
                first = first or datagram[8:]
                total += len(datagram)
                sock.settimeout(min(ctx.timeout, 0.3))
                if datagram.endswith(b"END\r\n"):
                    break
        finally:
            sock.close()
        stats = _memcached_stats(first.decode("utf-8", "replace"))
        if not total or "version" not in stats:
            return None
        request = len(self._UDP_REQUEST)
        values = {
            "request": request,
            "response": total,
            "factor": round(total / request, 1),
            "version": stats["version"],
        }
        udp_target = ServiceTarget(target.address, target.port, "udp", target.service)
        return observe(self.id, "memcached_udp", udp_target, [("stats", values)], identity="udp")


@register_check
class ElasticsearchUnauthCheck(_ServiceCheck):
    """Elasticsearch answers ``GET /`` and lists indices without credentials."""

    id = "unauth.elasticsearch"
    services = frozenset({"elasticsearch"})
    default_ports = frozenset({9200, 9201})
    http_based = True

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """GET / must look like Elasticsearch; then GET /_cat/indices."""
        root = _json(http_get(ctx, target, "/"))
        if not isinstance(root, dict) or not isinstance(root.get("version"), dict):
            return
        if "cluster_name" not in root:
            return
        parts: list[tuple[str, Mapping[str, object]]] = [
            (
                "root",
                {
                    "cluster": root.get("cluster_name", ""),
                    "version": root["version"].get("number", "?"),
                },
            )
        ]
        indices = _json(http_get(ctx, target, "/_cat/indices?format=json&h=index"))
        if isinstance(indices, list):
            names = [str(item.get("index", "")) for item in indices if isinstance(item, dict)]
            parts.append(("indices", {"count": len(names), "names": name_list(names)}))
        yield observe(self.id, "elasticsearch", target, parts)


def _srvr_summary(srvr: str) -> str:
    """'Zookeeper version: 3.8.4, Mode: standalone, Node count: 6' from a srvr answer."""
    wanted = ("Zookeeper version", "Mode", "Node count")
    fields: dict[str, str] = {}
    for line in srvr.splitlines():
        name, colon, value = line.partition(":")
        if colon and name in wanted:
            # "3.8.4-<git hash>, built on <date>" → "3.8.4"
            fields[name] = value.strip().split(",")[0].split("-")[0]
    return ", ".join(f"{name}: {fields[name]}" for name in wanted if name in fields)


@register_check
class ZooKeeperUnauthCheck(_ServiceCheck):
    """ZooKeeper four-letter words and anonymous reads of the root znode."""

    id = "unauth.zookeeper"
    services = frozenset({"zookeeper"})
    default_ports = frozenset({2181, 2182})

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """ruok/srvr, then a session with getChildren('/')."""
        try:
            words = zk_four_letter(ctx, target, "ruok") == "imok"
            srvr = zk_four_letter(ctx, target, "srvr") if words else ""
        except _UNREACHABLE:
            words, srvr = False, ""
        if words and srvr.startswith("Zookeeper version"):
            yield observe(
                self.id,
                "zookeeper_4lw",
                target,
                [("srvr", {"summary": _srvr_summary(srvr)})],
                identity="4lw",
            )
        error, names = zk_children(ctx, target, "/")
        if error == 0:
            yield observe(
                self.id,
                "zookeeper",
                target,
                [("children", {"names": name_list(names)})],
                identity="znodes",
            )


@register_check
class DockerUnauthCheck(_ServiceCheck):
    """The Docker Engine API answers without TLS client authentication."""

    id = "unauth.docker"
    services = frozenset({"docker"})
    default_ports = frozenset({2375, 2376, 4243})
    http_based = True

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """GET /version (must carry ApiVersion), then GET /containers/json?all=1."""
        version = _json(http_get(ctx, target, "/version"))
        if not isinstance(version, dict) or "ApiVersion" not in version:
            return
        parts: list[tuple[str, Mapping[str, object]]] = [
            (
                "version",
                {
                    "version": version.get("Version", "?"),
                    "api": version["ApiVersion"],
                    "os": version.get("Os", "?"),
                },
            )
        ]
        containers = _json(http_get(ctx, target, "/containers/json?all=1"))
        if isinstance(containers, list):
            names = [
                str((item.get("Names") or [item.get("Id", "")[:12]])[0]).lstrip("/")
                for item in containers
                if isinstance(item, dict)
            ]
            parts.append(("containers", {"count": len(names), "names": name_list(names)}))
        yield observe(self.id, "docker", target, parts)


def _kube_items(body: Any, kind: str) -> list[str] | None:
    if not isinstance(body, dict) or body.get("kind") != kind:
        return None
    items = body.get("items")
    if not isinstance(items, list):
        return []
    return [
        str(item.get("metadata", {}).get("name", ""))
        for item in items
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict)
    ]


@register_check
class KubernetesUnauthCheck(_ServiceCheck):
    """The Kubernetes API server lists namespaces or pods to anonymous clients."""

    id = "unauth.kubernetes"
    services = frozenset({"kubernetes"})
    default_ports = frozenset({6443, 8443, 8080})
    http_based = True

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """GET /api/v1/namespaces, then /api/v1/pods."""
        for path, kind in (("/api/v1/namespaces", "NamespaceList"), ("/api/v1/pods", "PodList")):
            names = _kube_items(_json(http_get(ctx, target, path)), kind)
            if names is not None:
                values = {
                    "path": path,
                    "kind": kind,
                    "count": len(names),
                    "names": name_list(names),
                }
                yield observe(self.id, "kubernetes", target, [("resource", values)])
                return


@register_check
class KubeletUnauthCheck(_ServiceCheck):
    """A kubelet lists its pods to anonymous clients (10250 TLS, 10255 read-only HTTP)."""

    id = "unauth.kubelet"
    services = frozenset({"kubelet"})
    default_ports = frozenset({10250, 10255})
    http_based = True

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """GET /pods."""
        names = _kube_items(_json(http_get(ctx, target, "/pods")), "PodList")
        if names is not None:
            values = {"count": len(names), "names": name_list(names)}
            yield observe(self.id, "kubelet", target, [("pods", values)])


@register_check
class RsyncUnauthCheck(_ServiceCheck):
    """rsync daemon modules that admit anyone without a password."""

    id = "unauth.rsync"
    services = frozenset({"rsync"})
    default_ports = frozenset({873})

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """List modules, then greet each of the first few and see whether it asks for auth."""
        modules = rsync_modules(ctx, target)
        open_modules = [
            module
            for module in modules[:_RSYNC_MODULES_TRIED]
            if rsync_module_open(ctx, target, module)
        ]
        if open_modules:
            values = {"names": name_list(open_modules), "listed": len(modules)}
            yield observe(
                self.id,
                "rsync",
                target,
                [("modules", values)],
                extra={"modules": open_modules[:_NAMES_SHOWN]},
            )


@register_check
class CouchDBUnauthCheck(_ServiceCheck):
    """CouchDB lists its databases without credentials."""

    id = "unauth.couchdb"
    services = frozenset({"couchdb"})
    default_ports = frozenset({5984, 6984})
    http_based = True

    def probe(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """GET /_all_dbs must return a JSON list of names."""
        response = http_get(ctx, target, "/_all_dbs")
        body = _json(response)
        if isinstance(body, list) and all(isinstance(name, str) for name in body):
            if "couchdb" not in response.headers.get("server", "").lower():
                return
            values = {"count": len(body), "names": name_list(body)}
            yield observe(self.id, "couchdb", target, [("dbs", values)])
