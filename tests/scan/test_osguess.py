"""The OS guess from identified services (no packets: banners and headers only)."""

from __future__ import annotations

from typing import Any

import pytest

from shaobing.scan.fingerprint import ServiceMatch
from shaobing.scan.osguess import guess_os


def _match(
    banner: str = "",
    *,
    service: str = "ssh",
    product: str | None = None,
    os: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ServiceMatch:
    return ServiceMatch(
        service=service,
        product=product,
        version=None,
        info=None,
        cpe=(),
        os=os,
        probe="banner",
        banner=banner,
        extra=extra or {},
    )


@pytest.mark.parametrize(
    ("banner", "label", "family", "cpe"),
    [
        (
            "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\\r\\n",
            "Debian 12",
            "Linux",
            "cpe:2.3:o:debian:debian_linux:12:*:*:*:*:*:*:*",
        ),
        (
            "SSH-2.0-OpenSSH_8.4p1 Debian-5\\r\\n",
            "Debian 11",
            "Linux",
            "cpe:2.3:o:debian:debian_linux:11:*:*:*:*:*:*:*",
        ),
        (
            "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6\\r\\n",
            "Ubuntu 22.04",
            "Linux",
            "cpe:2.3:o:canonical:ubuntu_linux:22.04:*:*:*:*:*:*:*",
        ),
        (
            "SSH-2.0-OpenSSH_7.1p2 Ubuntu-9\\r\\n",
            "Ubuntu",
            "Linux",
            "cpe:2.3:o:canonical:ubuntu_linux:*:*:*:*:*:*:*:*",
        ),
        ("SSH-2.0-OpenSSH_8.2 Kylin-V10\\r\\n", "Kylin (银河麒麟) 10", "Linux", None),
        ("220 ProFTPD Server (UOS) [127.0.0.1]\\r\\n", "UnionTech OS (统信 UOS)", "Linux", None),
        ("SSH-2.0-OpenSSH_7.4 FreeBSD-20170903\\r\\n", "FreeBSD", "BSD", None),
    ],
)
def test_banner_hints(banner: str, label: str, family: str, cpe: str | None) -> None:
    guess = guess_os([_match(banner)])
    assert guess is not None
    assert (guess.label, guess.family) == (label, family)
    if cpe is not None:
        assert guess.cpe == cpe
    assert (guess.evidence and guess.evidence[0].startswith("ssh: ")) or "ftp" in banner.lower()


def test_iis_names_the_windows_release() -> None:
    http = _match(
        "HTTP/1.1 200 OK",
        service="http",
        product="Microsoft IIS httpd",
        extra={"http": {"server": "Microsoft-IIS/8.5"}},
    )
    guess = guess_os([http])
    assert guess is not None
    assert guess.label == "Microsoft Windows Server 2012 R2 / 8.1"
    assert (guess.family, guess.cpe) == ("Windows", "cpe:2.3:o:microsoft:windows:*:*:*:*:*:*:*:*")


def test_agreeing_services_raise_confidence() -> None:
    one = guess_os([_match("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")])
    two = guess_os(
        [
            _match("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3"),
            _match(
                "HTTP/1.1 200 OK", service="http", extra={"http": {"server": "Apache (Debian)"}}
            ),
        ]
    )
    assert one is not None and two is not None
    assert two.name == "Debian" and two.release == "12"
    assert two.confidence > one.confidence
    assert len(two.evidence) == 2


def test_specific_beats_generic_and_os_field_counts() -> None:
    redis = _match(service="redis", os="Linux 6.1.0-18-amd64 x86_64")
    alone = guess_os([redis])
    assert alone is not None
    assert (alone.label, alone.confidence) == ("Linux 6.1.0-18-amd64", 35)
    both = guess_os([redis, _match("SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5")])
    assert both is not None
    assert both.label == "Ubuntu 24.04"
    # An OS word inside a banner is not read as the OS field.
    assert guess_os([_match("220 Linux lovers FTP")]) is None


def test_windows_services() -> None:
    rdp = _match(service="ms-wbt-server", product="Microsoft Terminal Services", os="Windows")
    guess = guess_os([None, rdp])
    assert guess is not None
    assert (guess.name, guess.family) == ("Microsoft Windows", "Windows")


def test_no_evidence() -> None:
    assert guess_os([]) is None
    assert guess_os([_match("SSH-2.0-dropbear_2022.83")]) is None
