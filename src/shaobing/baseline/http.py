"""A minimal HTTP/1.1 client for ``http`` probes (status, headers, a capped body).

Only the service under test is asked, at the base URL the user gave; the caller checks the
engagement's scope before any request. TLS certificates are not verified: the probe looks
at the server's configuration, and test servers use self-signed certificates.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from shaobing.baseline.collectors.base import CollectorUnavailable

# Body bytes read per response: header checks and error pages need little.
MAX_BODY = 256 * 1024
TIMEOUT = 10.0


async def fetch(method: str, url: str) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of one request; CollectorUnavailable on network errors."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise CollectorUnavailable(f"bad url {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    context = None
    if parts.scheme == "https":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port, ssl=context), TIMEOUT
        )
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise CollectorUnavailable(f"{url}: {exc}") from exc
    try:
        request = (
            f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "User-Agent: shaobing-baseline\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        writer.write(request.encode("latin-1"))
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        body = b"" if method == "HEAD" else await _read_body(reader, _content_length(head))
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise CollectorUnavailable(f"{url}: {exc}") from exc
    finally:
        writer.close()
    lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError) as exc:
        raise CollectorUnavailable(f"{url}: not HTTP") from exc
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    encoding = {k.lower(): v for k, v in headers.items()}.get("transfer-encoding", "")
    if "chunked" in encoding.lower():
        body = _dechunk(body)
    return status, headers, body.decode("utf-8", "replace")


def _content_length(head: bytes) -> int | None:
    """The Content-Length header of a response head, if it has a valid one."""
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    return None


async def _read_body(reader: asyncio.StreamReader, length: int | None) -> bytes:
    """Up to MAX_BODY bytes: the announced length, else until the server closes.

    One read returns only what has arrived so far, hence the loop.
    """
    wanted = MAX_BODY if length is None else min(length, MAX_BODY)
    parts: list[bytes] = []
    size = 0
    while size < wanted:
        try:
            chunk = await asyncio.wait_for(reader.read(wanted - size), TIMEOUT)
        except TimeoutError:
            break  # a server that keeps the connection open: what arrived is enough
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _dechunk(data: bytes) -> bytes:
    """The payload of a chunked body (tolerates a body cut at MAX_BODY)."""
    out: list[bytes] = []
    rest = data
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        except ValueError:
            return data  # not chunked after all: keep the raw bytes
        if not sep or size == 0:
            break
        out.append(rest[:size])
        rest = rest[size + 2 :]
    return b"".join(out)
