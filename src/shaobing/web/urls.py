"""URL normalisation, the web scope (origin and path prefix) and URL patterns.

A *pattern* abstracts what varies between pages of one family — numbers, ids and hashes
in path segments, and every query value — so ``/news?id=1`` … ``/news?id=500`` are one
pattern the crawler visits a few times, not five hundred.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_VARIABLE_SEGMENT = re.compile(
    r"""(?ix)^(?:
        \d+                                   # numeric id
      | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}   # UUID
      | [0-9a-f]{16,}                         # hashes and hex ids
      | \d{4}-\d{2}-\d{2}                     # dates
      | .*\d{3,}.*                            # slugs with long numbers (article-2024123)
    )$"""
)


class UrlError(ValueError):
    """Not an absolute http(s) URL."""


def origin(url: str) -> str:
    """``scheme://host:port`` with the default port written out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UrlError(url)
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise UrlError(url) from None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}"


def normalise(url: str) -> str:
    """A canonical form: lower-case scheme and host, no default port, no fragment, dot
    segments resolved, percent-encoding made uniform."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UrlError(url)
    try:
        port = parts.port
    except ValueError:
        raise UrlError(url) from None
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = parts.path or "/"
    trailing = path.endswith("/")
    path = posixpath.normpath(path) if path not in ("", "/") else "/"
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    if trailing and not path.endswith("/"):
        path += "/"
    path = quote(unquote(path), safe="/:@!$&'()*+,;=-._~%")
    # As browsers do: non-ASCII and unsafe characters of the query are percent-encoded
    # (UTF-8); what is already encoded, and the separators, stay as they are.
    query = quote(parts.query, safe="=&;%+/:?@!$'()*,~-._[]")
    return urlunsplit((scheme, netloc, path, query, ""))


def pattern(method: str, url: str, body_names: tuple[str, ...] = ()) -> str:
    """The page family ``url`` belongs to (see the module docstring)."""
    parts = urlsplit(url)
    segments = [
        "{v}" if _VARIABLE_SEGMENT.match(unquote(segment)) else segment
        for segment in parts.path.split("/")
    ]
    names = sorted({name for name, _ in parse_qsl(parts.query, keep_blank_values=True)})
    query = "&".join(f"{name}=" for name in names)
    suffix = ("|" + ",".join(sorted(body_names))) if body_names else ""
    return f"{method.upper()} {parts.netloc.lower()}{'/'.join(segments)}?{query}{suffix}"


def strip_query_values(url: str) -> str:
    """``url`` with every query value emptied (for grouping in reports)."""
    parts = urlsplit(url)
    pairs = [(name, "") for name, _ in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(pairs)))


@dataclass
class WebScope:
    """Which URLs the scan may request: the start origin(s) and a path prefix, minus
    excluded path prefixes. The engagement's network scope is checked separately by the
    scan context on every connection."""

    origins: set[str]
    path_prefix: str = "/"
    excluded: list[str] = field(default_factory=list)

    @classmethod
    def for_start(cls, start: str, *, excluded: list[str] | None = None) -> WebScope:
        """Scope of a scan starting at ``start``: its origin and its directory."""
        parts = urlsplit(start)
        path = parts.path or "/"
        prefix = path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"
        return cls({origin(start)}, prefix, list(excluded or []))

    def allows(self, url: str) -> bool:
        """Whether ``url`` is inside the scope."""
        try:
            if origin(url) not in self.origins:
                return False
        except UrlError:
            return False
        path = urlsplit(url).path or "/"
        if not path.startswith(self.path_prefix) and path + "/" != self.path_prefix:
            return False
        return not any(path.startswith(prefix) for prefix in self.excluded)
