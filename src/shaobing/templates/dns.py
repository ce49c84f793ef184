"""dns request blocks (Nuclei's dns protocol): one query about the target's own name,
sent to a resolver through the scope guard, and the reply in miekg/dns's text form.

Two rules keep the protocol inside the engagement: the queried name must be the
target's host or a name under it (``{{FQDN}}``, ``_dmarc.{{FQDN}}``), and the query
goes only to a resolver the scope gate permits (``ctx.connect(resolver, port,
udp=True)``); otherwise the run's notes say why nothing was sent. Resolvers come from the
check options' ``dns_resolvers``, else the template's ``resolvers``, else the
``nameserver`` lines of /etc/resolv.conf. A truncated UDP reply is asked again over TCP.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import struct
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shaobing.core.i18n import t
from shaobing.core.scope import ScopeRefused
from shaobing.templates.dnscodec import (
    QUERY_CLASSES,
    TYPES,
    DnsError,
    Message,
    Name,
    decode_header,
    decode_message,
    encode_message,
    message_text,
    name_from_text,
    name_key,
    query,
    question_text,
    record_data_text,
    records_text,
    type_text,
)
from shaobing.templates.dsl import interpolate, unresolved
from shaobing.templates.model import DnsRequest
from shaobing.templates.state import RunState

RESOLV_CONF = Path("/etc/resolv.conf")
DNS_PORT = 53
# glibc reads at most three nameserver lines; so do we.
MAX_SYSTEM_RESOLVERS = 3
MAX_RESOLVERS = 16
DEFAULT_RETRIES = 3
# Replies that are not ours (wrong id or question) are skipped, at most this many per try.
MAX_STRAY_DATAGRAMS = 64


@dataclass(frozen=True)
class Resolver:
    """A resolver address; ``tcp`` when the entry asked for DNS over TCP."""

    host: str
    port: int = DNS_PORT
    tcp: bool = False

    def __str__(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'tcp:' if self.tcp else ''}{shown}:{self.port}"


def parse_resolver(text: str) -> Resolver | None:
    """``host``, ``host:port``, ``[v6]:port``, a bare IPv6 address, optionally prefixed
    ``udp:``/``tcp:`` (or ``udp://``/``tcp://``); None when it is none of those."""
    entry = text.strip()
    tcp = False
    for prefix in ("udp://", "tcp://", "udp:", "tcp:"):
        if entry.lower().startswith(prefix):
            tcp = prefix.startswith("tcp")
            entry = entry[len(prefix) :]
            break
    if not entry or any(c.isspace() for c in entry) or "/" in entry:
        return None
    try:
        ipaddress.IPv6Address(entry.split("%", 1)[0])
        return Resolver(entry, DNS_PORT, tcp)
    except ValueError:
        pass
    parts = urlsplit(f"//{entry}")
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return Resolver(parts.hostname, port or DNS_PORT, tcp)


def system_resolvers(path: Path = RESOLV_CONF) -> list[str]:
    """The ``nameserver`` addresses of a resolv.conf file (empty when unreadable)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            out.append(words[1])
        if len(out) >= MAX_SYSTEM_RESOLVERS:
            break
    return out


def _option_resolvers(options: Mapping[str, Any]) -> list[str]:
    value = options.get("dns_resolvers")
    if value is None:
        return []
    if isinstance(value, str):
        return [item for item in value.replace(",", " ").split() if item]
    if isinstance(value, list | tuple):
        return [str(item).strip() for item in value if str(item).strip()]
    return []


def resolvers_for(
    state: RunState, block: DnsRequest, values: Mapping[str, Any], resolv_conf: Path | None = None
) -> list[Resolver]:
    """The resolvers to ask, in order; invalid entries are noted and skipped."""
    entries = _option_resolvers(state.ctx.options)
    if not entries:
        for text in block.resolvers:
            missing = unresolved(text, values)
            if missing:
                state.note(t("templates.run.unresolved", names=", ".join(sorted(missing))))
                continue
            entries.append(interpolate(text, values))
    if not entries:
        entries = system_resolvers(resolv_conf or RESOLV_CONF)
    out: list[Resolver] = []
    for entry in entries[:MAX_RESOLVERS]:
        resolver = parse_resolver(entry)
        if resolver is None:
            state.note(t("templates_dns.run.resolver_invalid", resolver=entry[:120]))
        elif resolver not in out:
            out.append(resolver)
    return out


def _matches(reply: Message, request: Message) -> bool:
    """Whether ``reply`` answers ``request``: same id, a response, the same question."""
    if reply.header.id != request.header.id or not reply.header.qr:
        return False
    if len(reply.questions) != 1:
        return False
    asked, got = request.questions[0], reply.questions[0]
    return (
        name_key(asked.name) == name_key(got.name)
        and asked.qtype == got.qtype
        and asked.qclass == got.qclass
    )


def _read_exact(sock: socket.socket, size: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < size:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError
        data.extend(chunk)
    return bytes(data)


class _Exchange:
    """One question asked of the resolvers, with retries and the TCP fallback."""

    def __init__(self, state: RunState, request: Message, shown_name: str) -> None:
        self.state = state
        self.request = request
        self.wire = encode_message(request)
        self.shown_name = shown_name
        self.malformed: str | None = None

    def over_tcp(self, resolver: Resolver) -> Message | None:
        """Ask over TCP (RFC 7766 framing: a two-byte length before each message)."""
        timeout = self.state.ctx.timeout
        sock = self.state.ctx.connect(resolver.host, resolver.port, timeout=timeout)
        self.state.requests += 1
        try:
            sock.sendall(struct.pack("!H", len(self.wire)) + self.wire)
            deadline = time.monotonic() + timeout
            (length,) = struct.unpack("!H", _read_exact(sock, 2, deadline))
            data = _read_exact(sock, length, deadline)
        except TimeoutError:
            return None
        finally:
            sock.close()
        try:
            reply = decode_message(data)
        except DnsError as exc:
            self.malformed = str(exc)
            return None
        return reply if _matches(reply, self.request) else None

    def over_udp(self, resolver: Resolver) -> Message | None:
        """Ask over UDP; a truncated reply is asked again over TCP."""
        timeout = self.state.ctx.timeout
        sock = self.state.ctx.connect(resolver.host, resolver.port, timeout=timeout, udp=True)
        self.state.requests += 1
        try:
            sock.send(self.wire)
            deadline = time.monotonic() + timeout
            for _ in range(MAX_STRAY_DATAGRAMS):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                sock.settimeout(remaining)
                try:
                    data = sock.recv(65535)
                except TimeoutError:
                    return None
                reply = self._accept(data)
                if isinstance(reply, Message):
                    return reply
                if reply == "truncated":
                    break
            else:
                return None
        finally:
            sock.close()
        return self.over_tcp(resolver)

    def _accept(self, data: bytes) -> Message | str | None:
        try:
            header = decode_header(data)
        except DnsError as exc:
            self.malformed = str(exc)
            return None
        if header.id != self.request.header.id or not header.qr:
            return None
        if header.tc:
            return "truncated"
        try:
            reply = decode_message(data)
        except DnsError as exc:
            self.malformed = str(exc)
            return None
        return reply if _matches(reply, self.request) else None

    def ask(self, resolvers: Sequence[Resolver], attempts: int) -> Message | None:
        """The first valid reply, trying the permitted resolvers in turn."""
        refused: set[Resolver] = set()
        sent = 0
        index = 0
        while sent < attempts:
            usable = [r for r in resolvers if r not in refused]
            if not usable or self.state.ctx.should_stop():
                return None
            resolver = usable[index % len(usable)]
            index += 1
            try:
                reply = self.over_tcp(resolver) if resolver.tcp else self.over_udp(resolver)
            except ScopeRefused as exc:
                refused.add(resolver)
                self.state.note(
                    t(
                        "templates_dns.run.resolver_refused",
                        resolver=str(resolver),
                        name=self.shown_name,
                        detail=exc.message,
                    )
                )
                continue
            except OSError as exc:
                sent += 1
                self.state.note(t("templates_dns.run.error", resolver=str(resolver), detail=exc))
                continue
            sent += 1
            if reply is not None:
                return reply
        if self.malformed:
            detail = self.malformed
            self.state.note(t("templates_dns.run.malformed", name=self.shown_name, detail=detail))
        elif sent:
            self.state.note(t("templates_dns.run.timeout", name=self.shown_name, attempts=sent))
        return None


def _within(name: Name, domain: Name) -> bool:
    """Whether ``name`` is ``domain`` or a name under it."""
    if not domain:
        return False
    key, base = name_key(name), name_key(domain)
    return len(key) >= len(base) and key[len(key) - len(base) :] == base


def response_variables(
    request: Message, reply: Message, host: str, matched: str, duration: float
) -> dict[str, Any]:
    """The parts of a reply as Nuclei names them, plus one variable per answer type
    (``a``, ``cname``, ``txt``, ...: the record data, a list when there are several)."""
    raw = message_text(reply)
    out: dict[str, Any] = {
        "host": host,
        "matched": matched,
        "request": message_text(request),
        "rcode": reply.rcode,
        # Nuclei concatenates a section's records with no separator; one per line keeps
        # regexes from running across records, and `$` still anchors at the last record.
        "question": "\n".join(question_text(q) for q in reply.questions),
        "extra": records_text(reply.additional),
        "answer": records_text(reply.answers),
        "ns": records_text(reply.authority),
        "raw": raw,
        "body": raw,
        "type": "dns",
        "duration": round(duration, 3),
    }
    by_type: dict[str, list[str]] = {}
    for record in reply.answers:
        by_type.setdefault(type_text(record.rtype).lower(), []).append(record_data_text(record))
    for key, found in by_type.items():
        out[key] = found[0] if len(found) == 1 else found
    return out


def _domain(state: RunState, block: DnsRequest, values: dict[str, Any]) -> str | None:
    """The name the target stands for: its host, or for PTR of an address the reverse
    name (Nuclei refuses an address as input for any other type)."""
    host = urlsplit(state.target).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.rstrip(".")
    if block.qtype != "PTR":
        state.note(t("templates_dns.run.ip_input", host=host, type=block.qtype))
        return None
    reverse = address.reverse_pointer
    values.update(FQDN=reverse, RDN=reverse, DN=reverse, TLD="", SD="")
    return reverse


def run_dns_block(state: RunState, block: DnsRequest) -> bool:
    """Run ``block`` against the target; True when its matchers matched."""
    values = state.base_variables()
    domain = _domain(state, block, values)
    if domain is None:
        return False
    missing = unresolved(block.query, values)
    if missing:
        state.note(t("templates.run.unresolved", names=", ".join(sorted(missing))))
        return False
    text = interpolate(block.query, values).strip()
    try:
        name = name_from_text(text)
        base = name_from_text(domain)
    except DnsError as exc:
        state.note(t("templates_dns.run.bad_name", name=text[:120], detail=exc))
        return False
    shown = text.rstrip(".")
    if not _within(name, base):
        state.note(t("templates_dns.run.name_out_of_scope", name=shown[:120], host=domain))
        return False
    resolvers = resolvers_for(state, block, values)
    if not resolvers:
        state.note(t("templates_dns.run.no_resolver", name=shown, path=str(RESOLV_CONF)))
        return False
    request = query(
        name,
        TYPES[block.qtype],
        qclass=QUERY_CLASSES[block.qclass],
        message_id=secrets.randbelow(0x10000),
        recursion=block.recursion,
    )
    started = time.monotonic()
    reply = _Exchange(state, request, shown).ask(resolvers, block.retries or DEFAULT_RETRIES)
    if reply is None:
        return False
    found = response_variables(request, reply, domain, shown, time.monotonic() - started)
    # As in Nuclei, the template's and target's variables are laid over the reply's.
    variables: dict[str, Any] = {**found, **values}
    evaluation = state.evaluate(block.operators, variables, default_part="raw")
    if not evaluation.found:
        return False
    state.report(
        "dns",
        block.operators,
        evaluation,
        matched_at=shown,
        request=found["request"],
        response=found["raw"],
    )
    return True
