"""``--engine nmap``: run ``nmap -sT [-sV] -n -Pn`` on given addresses and read its XML.

nmap is an optional, external program. Only the addresses passed in are scanned (the
caller has applied the scope guard; names are refused, so nmap resolves nothing), with
TCP connect scanning, no host discovery and no DNS; never OS detection or scripts unless
the caller adds them. Extra arguments come from an allow-list: anything that could add
targets, read target lists or redirect output is refused. The XML goes to a temporary
file read by the nmap importer (the same parser as ``shaobing import``). The run is
bounded by ``timeout`` and can be cancelled; either way the process is terminated.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from shaobing.core.errors import ShaobingError, ValidationError
from shaobing.core.i18n import t
from shaobing.findings.importers.base import HostInput, ImportFormatError
from shaobing.findings.importers.nmap import NmapImporter
from shaobing.scan.nmap_probes import cpe22_to_23

DEFAULT_TIMEOUT = 3600.0
_POLL = 0.05
_GRACE = 5.0
# Options that take no value, and options followed by one value.
_FLAG_OPTIONS = frozenset(
    {"-T0", "-T1", "-T2", "-T3", "-T4", "-T5", "-O", "-sC", "-r", "--reason", "--open"}
    | {"--version-light", "--version-all", "--osscan-guess", "--defeat-rst-ratelimit"}
    | {"--version-trace", "-v", "-vv"}
)
_VALUE_OPTIONS = frozenset(
    {"--version-intensity", "--max-retries", "--host-timeout", "--max-rate", "--min-rate"}
    | {"--scan-delay", "--max-scan-delay", "--initial-rtt-timeout", "--max-rtt-timeout"}
    | {"--min-rtt-timeout", "--min-parallelism", "--max-parallelism", "--min-hostgroup"}
    | {"--max-hostgroup", "--script", "--script-args", "--script-timeout", "--versiondb"}
    | {"--servicedb", "--datadir"}
)


class NmapError(ShaobingError):
    """nmap is missing, failed, timed out or produced unreadable output."""


class NmapCancelled(NmapError):
    """The run was cancelled and nmap terminated."""


def run_nmap(
    addresses: Sequence[str],
    ports: Iterable[int],
    *,
    service_detection: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    extra_args: Sequence[str] = (),
    nmap: str | None = None,
    cancel: threading.Event | None = None,
) -> list[HostInput]:
    """Scan ``ports`` (TCP) on ``addresses`` with nmap; one HostInput per host nmap reports.

    IPv4 and IPv6 addresses are scanned in separate runs (nmap needs ``-6``). Raises
    ValidationError for bad input, NmapError when nmap is missing, fails or exceeds
    ``timeout`` seconds in total, NmapCancelled when ``cancel`` is set.
    """
    groups = _address_groups(addresses)
    spec = port_spec(ports)
    options = check_extra_args(extra_args)
    if not timeout > 0:
        raise ValidationError(t("scan_fp.nmap_timeout_invalid", value=timeout))
    binary = nmap or shutil.which("nmap")
    if binary is None or not Path(binary).is_file() or not os.access(binary, os.X_OK):
        raise NmapError(t("scan_fp.nmap_missing", path=binary or "nmap"))
    deadline = time.monotonic() + timeout
    hosts: list[HostInput] = []
    for six, group in groups:
        argv = [binary, "-sT", *(["-sV"] if service_detection else []), "-n", "-Pn"]
        argv += ["-6"] if six else []
        argv += ["-p", spec, *options]
        hosts += _run_once(argv, group, deadline, timeout, cancel)
    return hosts


def _address_groups(addresses: Sequence[str]) -> list[tuple[bool, list[str]]]:
    if isinstance(addresses, str) or not addresses:
        raise ValidationError(t("scan_fp.nmap_no_addresses"))
    v4: list[str] = []
    v6: list[str] = []
    for item in addresses:
        try:
            if not isinstance(item, str):
                raise ValueError(item)
            ip = ipaddress.ip_address(item)
        except ValueError:
            raise ValidationError(t("scan_fp.address_invalid", item=item)) from None
        (v6 if ip.version == 6 else v4).append(str(ip))
    return [(six, group) for six, group in ((False, v4), (True, v6)) if group]


def port_spec(ports: Iterable[int]) -> str:
    """Ports as nmap's compact list (``22,80-82``); ValidationError on an invalid port."""
    numbers: set[int] = set()
    for port in ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError(t("scan_fp.port_invalid", item=port))
        numbers.add(port)
    if not numbers:
        raise ValidationError(t("scan_fp.nmap_no_ports"))
    ordered = sorted(numbers)
    ranges: list[tuple[int, int]] = []
    for port in ordered:
        if ranges and port == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], port)
        else:
            ranges.append((port, port))
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def check_extra_args(extra_args: Sequence[str]) -> list[str]:
    """The extra options if every one is allowed; ValidationError naming the first that is not.

    Values must follow their option (``--max-retries 2`` or ``--max-retries=2``); a bare
    word would be read by nmap as another target.
    """
    if isinstance(extra_args, str):
        raise ValidationError(t("scan_fp.nmap_arg_refused", item=extra_args))
    out: list[str] = []
    items = list(extra_args)
    index = 0
    while index < len(items):
        item = items[index]
        if not isinstance(item, str):
            raise ValidationError(t("scan_fp.nmap_arg_refused", item=item))
        name, equals, value = item.partition("=")
        if item in _FLAG_OPTIONS:
            out.append(item)
        elif name in _VALUE_OPTIONS and equals:
            if not value:
                raise ValidationError(t("scan_fp.nmap_arg_refused", item=item))
            out.append(item)
        elif item in _VALUE_OPTIONS:
            if index + 1 >= len(items) or not str(items[index + 1]):
                raise ValidationError(t("scan_fp.nmap_arg_value", item=item))
            out += [item, str(items[index + 1])]
            index += 1
        else:
            raise ValidationError(t("scan_fp.nmap_arg_refused", item=item))
        index += 1
    return out


def _run_once(
    argv: list[str],
    addresses: list[str],
    deadline: float,
    timeout: float,
    cancel: threading.Event | None,
) -> list[HostInput]:
    with tempfile.TemporaryDirectory(prefix="shaobing-nmap-") as tmp:
        xml = Path(tmp) / "nmap.xml"
        errors = Path(tmp) / "stderr.txt"
        command = [*argv, "-oX", str(xml), "--", *addresses]
        with errors.open("wb") as stderr:
            try:
                process = subprocess.Popen(  # noqa: S603 - argv built from checked parts
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                )
            except OSError as exc:
                raise NmapError(t("scan_fp.nmap_missing", path=argv[0])) from exc
            try:
                _wait(process, deadline, timeout, cancel)
            finally:
                _stop(process)
        if process.returncode != 0:
            detail = _first_line(errors) or str(process.returncode)
            raise NmapError(t("scan_fp.nmap_failed", code=process.returncode, detail=detail))
        try:
            hosts = [r for r in NmapImporter().parse(xml) if isinstance(r, HostInput)]
        except (ImportFormatError, OSError) as exc:
            raise NmapError(t("scan_fp.nmap_bad_output", detail=exc)) from None
    for host in hosts:
        for service in host.services:
            service.cpe = [_cpe23(item) for item in service.cpe]
    return hosts


def _cpe23(value: str) -> str:
    # nmap writes CPE 2.2 URIs; the platform stores CPE 2.3 formatted strings.
    try:
        return cpe22_to_23(value) if value.startswith("cpe:/") else value
    except ValueError:
        return value


def _wait(
    process: subprocess.Popen[bytes],
    deadline: float,
    timeout: float,
    cancel: threading.Event | None,
) -> None:
    while True:
        remaining = deadline - time.monotonic()
        if cancel is not None and cancel.is_set():
            raise NmapCancelled(t("scan_fp.nmap_cancelled"))
        if remaining <= 0:
            raise NmapError(t("scan_fp.nmap_timeout", seconds=round(timeout, 1)))
        try:
            process.wait(timeout=min(_POLL, remaining))
            return
        except subprocess.TimeoutExpired:
            continue


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _first_line(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""
