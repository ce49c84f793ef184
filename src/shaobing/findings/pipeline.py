"""Parse a large scanner file in a child process while the database work goes on.

Parsing (XML/JSON decoding and field mapping) and ingest (fingerprints, SQL) each take
about half of a large import, and both are CPU-bound Python: on a machine with two or more
cores, running the parser in its own process overlaps them. Records travel in pickled
batches through a bounded queue, so memory stays flat; a parse error in the child is
re-raised in the parent as the same ImportFormatError, and the child is stopped if the
parent gives up early.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shaobing.core.i18n import t
from shaobing.findings.importers.base import ImportFormatError, Record
from shaobing.findings.importers.registry import get_importer

# Below this size the child's start-up (about half a second) costs more than it saves.
BACKGROUND_MIN_BYTES = 8 * 1024 * 1024
_BATCH = 1000
_QUEUE_BATCHES = 8
# How long the parent waits for the next batch before checking that the child still lives.
_POLL_SECONDS = 2.0


def _child(format_name: str, path: str, out: Any) -> None:
    try:
        batch: list[Record] = []
        for record in get_importer(format_name).parse(Path(path)):
            batch.append(record)
            if len(batch) >= _BATCH:
                out.put(("records", batch))
                batch = []
        out.put(("records", batch))
        out.put(("done", None))
    except ImportFormatError as exc:
        out.put(("format_error", (exc.path, exc.problem)))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, never swallowed
        out.put(("crash", f"{type(exc).__name__}: {exc}"))


def parse_records(format_name: str, path: Path) -> Iterator[Record]:
    """The importer's records for ``path``, parsed in a child process for large files."""
    if (os.cpu_count() or 1) < 2 or path.stat().st_size < BACKGROUND_MIN_BYTES:
        yield from get_importer(format_name).parse(path)
        return
    context = multiprocessing.get_context("spawn")
    channel = context.Queue(maxsize=_QUEUE_BATCHES)
    child = context.Process(target=_child, args=(format_name, str(path), channel), daemon=True)
    child.start()
    try:
        while True:
            try:
                kind, payload = channel.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                if not child.is_alive():
                    raise ImportFormatError(path, t("findings.problem.parser_died")) from None
                continue
            if kind == "records":
                yield from payload
            elif kind == "done":
                return
            elif kind == "format_error":
                raise ImportFormatError(payload[0], payload[1])
            else:
                raise RuntimeError(f"parser failed: {payload}")
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=10)
        channel.close()
