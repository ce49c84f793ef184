"""Opening feed files: gzip transparently, size caps, file digests, and kind sniffing."""

from __future__ import annotations

import gzip
import hashlib
import re
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from shaobing.core.errors import ValidationError
from shaobing.core.i18n import t

#: Most input read from one file after decompression. NVD's largest yearly file is a few
#: hundred MB and a full API dump a few GB; 16 GiB is an organisation-defined ceiling that
#: bounds a decompression bomb's running time.
MAX_FEED_BYTES = 16 << 30
#: Bytes looked at to recognise a feed (organisation-defined: the NVD/KEV headers and a
#: CSV header line all fit comfortably).
SNIFF_BYTES = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952, section 2.3.1 (ID1, ID2)
_HASH_CHUNK = 1 << 20


class FeedKind(StrEnum):
    """The feed formats ``vulndb import`` understands."""

    NVD = "nvd"
    CVE5 = "cve5"
    KEV = "kev"
    EPSS = "epss"
    CNVD = "cnvd"


class _Reader:
    """A binary reader that caps total output and turns decompression errors into ours."""

    def __init__(self, inner: BinaryIO, name: str, limit: int) -> None:
        self._inner = inner
        self._name = name
        self._limit = limit
        self._count = 0

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all remaining, capped, when negative)."""
        if size < 0:
            size = self._limit - self._count + 1
        try:
            data = self._inner.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            # gzip.BadGzipFile is an OSError; a cut-off gzip stream raises EOFError.
            raise ValidationError(t("vulndb.bad_gzip", file=self._name, error=exc)) from exc
        self._count += len(data)
        if self._count > self._limit:
            raise ValidationError(t("vulndb.file_too_large", file=self._name, limit=self._limit))
        return data

    def readline(self, limit: int = -1) -> bytes:
        """Read one line of at most ``limit`` bytes (CSV readers)."""
        try:
            data = self._inner.readline(limit)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValidationError(t("vulndb.bad_gzip", file=self._name, error=exc)) from exc
        self._count += len(data)
        if self._count > self._limit:
            raise ValidationError(t("vulndb.file_too_large", file=self._name, limit=self._limit))
        return data


@contextmanager
def open_feed(path: Path, limit: int = MAX_FEED_BYTES) -> Iterator[_Reader]:
    """Open ``path`` for reading, decompressing gzip (detected by its magic bytes)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ValidationError(t("vulndb.unreadable", file=path, error=exc.strerror or exc)) from exc
    with handle:
        try:
            magic = handle.read(2)
            handle.seek(0)
        except OSError as exc:
            raise ValidationError(
                t("vulndb.unreadable", file=path, error=exc.strerror or exc)
            ) from exc
        if magic == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
                yield _Reader(unzipped, str(path), limit)  # type: ignore[arg-type]
        else:
            yield _Reader(handle, str(path), limit)


def file_sha256(path: Path) -> str:
    """SHA-256 of the file as stored on disk (compressed bytes for .gz)."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(_HASH_CHUNK):
                digest.update(block)
    except OSError as exc:
        raise ValidationError(t("vulndb.unreadable", file=path, error=exc.strerror or exc)) from exc
    return digest.hexdigest()


def head_text(path: Path) -> str:
    """The first bytes of the (decompressed) file as text, for sniffing; never raises."""
    try:
        with open_feed(path) as reader:
            head = reader.read(SNIFF_BYTES)
    except ValidationError:
        return ""
    text = head.decode("utf-8", errors="ignore")
    if not text.strip() and head:
        return ""
    if "\ufffd" in head.decode("utf-8", errors="replace")[:200]:
        # GBK mapping files: decode the head leniently as GB18030 instead.
        text = head.decode("gb18030", errors="ignore")
    return text.removeprefix("\ufeff").lstrip()


_CVE5_RE = re.compile(r'"dataType"\s*:\s*"CVE_RECORD"|"cveMetadata"\s*:')
_KEV_RE = re.compile(r'"catalogVersion"\s*:|"cveID"\s*:')
_NVD_RE = re.compile(r'"vulnerabilities"\s*:\s*\[\s*(\{\s*"cve"\s*:|\])|"format"\s*:\s*"NVD_CVE"')


def sniff_kind(path: Path) -> FeedKind | None:
    """Recognise a feed by its content; None when it is none of the known kinds."""
    text = head_text(path)
    if text.startswith("{"):
        if _CVE5_RE.search(text):
            return FeedKind.CVE5
        if _KEV_RE.search(text):
            return FeedKind.KEV
        if _NVD_RE.search(text):
            return FeedKind.NVD
        return None
    first = text.split("\n", 1)[0].strip().lower()
    if first.startswith("#model_version") or first.replace(" ", "") == "cve,epss,percentile":
        return FeedKind.EPSS
    header = {cell.strip().strip('"').lower() for cell in first.split(",")}
    if {"cveid", "dateadded"} <= header:
        return FeedKind.KEV
    if header & {"cve", "cve编号"} and header & {"cnvd", "cnnvd", "cnvd编号", "cnnvd编号"}:
        return FeedKind.CNVD
    return None
