"""The variables a template sees: target parts ({{BaseURL}}, {{Hostname}}, ...), the
template's own ``variables`` and the parts of each response (body, header, status_code,
... with ``_N`` copies for the N-th request of a block)."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from shaobing.templates.dsl import interpolate, random_text
from shaobing.templates.httpclient import DEFAULT_PORTS, HttpResponse
from shaobing.templates.model import Template
from shaobing.templates.oob import allocate_url, request_texts_use_url, with_url

_ALPHABET = string.ascii_lowercase + string.digits


class TargetError(ValueError):
    """A target that is not an http(s) URL or host[:port]."""


def normalise_target(target: str) -> str:
    """``host``, ``host:port`` or a URL as an absolute URL (http unless port 443)."""
    text = target.strip()
    if "://" not in text:
        port_443 = text.rsplit(":", 1)[-1] == "443" and not text.endswith("]")
        text = ("https://" if port_443 else "http://") + text
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise TargetError(target) from None
    if parts.scheme.lower() not in ("http", "https", "tcp", "tls") or not parts.hostname:
        raise TargetError(target)
    return text


def random_string(length: int = 27) -> str:
    """Random lower-case letters and digits (Nuclei's ``randstr``)."""
    # One OS random call per string (random_text): per-character calls are system calls
    # that also hand the GIL over, and cost a quarter of a template run's CPU.
    return random_text(_ALPHABET, length)


def target_variables(target: str) -> dict[str, Any]:
    """{{BaseURL}}, {{RootURL}}, {{Hostname}}, {{Host}}, {{Port}}, {{Path}}, {{File}},
    {{Scheme}}, {{Input}} and the domain parts for ``target`` (an absolute URL)."""
    parts = urlsplit(target)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    default = DEFAULT_PORTS.get(scheme)
    port = parts.port or default or 0
    bracketed = f"[{host}]" if ":" in host else host
    hostname = bracketed if parts.port is None else f"{bracketed}:{port}"
    root = f"{scheme}://{hostname}"
    path = parts.path.rstrip("/")
    base = root + path + (f"?{parts.query}" if parts.query else "")
    labels = host.split(".")
    domain_like = len(labels) >= 2 and not host.replace(".", "").isdigit() and ":" not in host
    return {
        "BaseURL": base,
        "RootURL": root,
        "Hostname": hostname,
        "Host": host,
        "Port": str(port),
        "Path": path or "/",
        "File": path.rsplit("/", 1)[-1] if path else "",
        "Scheme": scheme,
        "Input": target,
        "FQDN": host,
        "RDN": ".".join(labels[-2:]) if domain_like else host,
        "DN": labels[-2] if domain_like else host,
        "TLD": labels[-1] if domain_like else "",
        "SD": ".".join(labels[:-2]) if domain_like and len(labels) > 2 else "",
        "randstr": random_string(),
        "ip": host if not domain_like else "",
    }


def header_variables(response: HttpResponse) -> dict[str, str]:
    """Each response header as a variable: lower case, ``-`` as ``_`` (``content_type``)."""
    out: dict[str, str] = {}
    for name, value in response.headers:
        key = name.strip().lower().replace("-", "_")
        if key in out:
            out[key] = f"{out[key]} {value}"
        else:
            out[key] = value
    return out


def response_variables(response: HttpResponse) -> dict[str, Any]:
    """The parts of one response, named as Nuclei names them."""
    body = response.body.decode("utf-8", errors="replace")
    length_header = response.header("content-length")
    content_length = (
        int(length_header) if length_header and length_header.strip().isdigit() else len(body)
    )
    whole = response.head + "\r\n" + body  # one string shared by "response" and "raw"
    out: dict[str, Any] = header_variables(response)
    out.update(
        {
            "body": body,
            "header": response.head,
            "all_headers": response.head,
            "status_code": response.status,
            "content_length": content_length,
            "content_type": response.header("content-type") or "",
            "response": whole,
            "raw": whole,
            "duration": round(response.duration, 3),
            "request": response.request,
            "matched": response.url,
            "host": urlsplit(response.url).hostname or "",
        }
    )
    return out


def with_suffix(values: Mapping[str, Any], number: int) -> dict[str, Any]:
    """``body`` → ``body_2`` etc. for the ``number``-th request of a block."""
    return {f"{key}_{number}": value for key, value in values.items()}


def template_variables(template: Template, base: Mapping[str, Any]) -> dict[str, Any]:
    """Evaluate the template's ``variables`` in order (each may use the ones before).

    ``{{interactsh-url}}`` in them is one callback host name for the whole run (its id
    belongs to every request); without a configured zone it stays unresolved and the
    run is refused before any request."""
    values: dict[str, Any] = dict(base)
    if request_texts_use_url(raw for _, raw in template.variables):
        url = allocate_url()
        if url is not None:
            values.update(with_url({}, url))
    out: dict[str, Any] = {}
    for name, raw in template.variables:
        text = interpolate(raw, values)
        values[name] = text
        out[name] = text
    return out
