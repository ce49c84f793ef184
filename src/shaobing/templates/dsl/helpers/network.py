"""Address helpers that need no network: ip_format and getNetworkPort."""

from __future__ import annotations

import ipaddress
from typing import Any

from shaobing.templates.dsl.errors import HelperFailure, detail
from shaobing.templates.dsl.helpers.registry import helper
from shaobing.templates.dsl.values import as_int, as_text, render, short


def _ipv4_formats(address: ipaddress.IPv4Address, number: int) -> str:
    octets = list(address.packed)
    value = int(address)
    formats = {
        1: ".".join(str(o) for o in octets),
        2: f"{octets[0]}.{value & 0xFFFFFF}" if octets[1:3] == [0, 0] else str(address),
        3: ".".join(f"0{o:o}" for o in octets),
        4: ".".join(f"0x{o:x}" for o in octets),
        5: str(value),
        6: f"{value:032b}",
        7: f"0x{value:08x}",
        8: "".join(f"%{b:02x}" for b in str(address).encode()),
        9: f"::ffff:{address}",
        10: str(ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + address.packed)),
        11: f"[::ffff:{address}]",
    }
    return formats[number]


@helper("ip_format", 2)
def ip_format(args: list[Any]) -> str:
    """Rewrite an IPv4 address in one of 11 alternative notations (1 = dotted decimal)."""
    number = as_int(args[1])
    if not 1 <= number <= 11:
        raise HelperFailure(detail("bad_argument", value=number))
    text = as_text(args[0]).strip()
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise HelperFailure(detail("bad_argument", value=short(text))) from None
    if isinstance(address, ipaddress.IPv6Address):
        return str(address) if number == 1 else address.exploded
    return _ipv4_formats(address, number)


@helper("getNetworkPort", 2)
def get_network_port(args: list[Any]) -> str:
    """The port argument when it is a valid port, else the default port."""
    port = render(args[0]).strip()
    if port.isdigit() and 0 < int(port) < 65536:
        return port
    return render(args[1])
