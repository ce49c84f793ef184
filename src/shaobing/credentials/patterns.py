"""Which targets a credential may be used on: host names, addresses, CIDR blocks, or ``*``.

Matching is literal, without DNS: an address target matches an address or a block that
contains it; a host-name target matches the same host name (case and a trailing dot
ignored). ``*`` matches any target; the engagement's scope still applies to every use.
"""

from __future__ import annotations

import ipaddress
import re

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

ANY = "*"
MAX_PATTERNS = 64
# RFC 1123 labels; a name must not look like an address (those are parsed as addresses).
_HOST = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        return None


def normalise_pattern(text: str) -> str:
    """One pattern in canonical form; raises ValidationError naming it when invalid."""
    value = text.strip()
    if value == ANY:
        return ANY
    network = _network(value)
    if network is not None:
        if "/" not in value:
            return str(network.network_address)
        return str(network)
    name = value.rstrip(".").lower()
    if _HOST.match(name) and not name.replace(".", "").isdigit():
        return name
    raise ValidationError(t("credentials.bad_pattern", pattern=text[:100]))


def normalise_patterns(values: list[str]) -> list[str]:
    """Canonical, de-duplicated patterns (at least one; ``*`` alone when given)."""
    found: list[str] = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                item = normalise_pattern(part)
                if item not in found:
                    found.append(item)
    if not found:
        raise ValidationError(t("credentials.no_patterns"))
    if len(found) > MAX_PATTERNS:
        raise ValidationError(t("credentials.too_many_patterns", limit=MAX_PATTERNS))
    return [ANY] if ANY in found else found


def matches(patterns: list[str], host: str) -> bool:
    """Whether ``host`` (an address or a host name) is allowed by ``patterns``."""
    target = host.strip().strip("[]").rstrip(".").lower()
    if not target:
        return False
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(target)
    except ValueError:
        address = None
    for pattern in patterns:
        if pattern == ANY:
            return True
        network = _network(pattern)
        if network is not None:
            if address is not None and address.version == network.version and address in network:
                return True
        elif address is None and pattern == target:
            return True
    return False
