"""Parse a large scanner file in a child process while the database work goes on.

Parsing (XML/JSON decoding and field mapping) and ingest (fingerprints, SQL) each take
a large share of a big import, and both are CPU-bound Python: on a machine with two or
more cores, running the parser in its own interpreter overlaps them. The child is started
as ``python -m shaobing.findings.pipeline FORMAT PATH`` (never by re-importing the
caller's main module) and streams pickled batches of records through a pipe; the pipe's
back-pressure keeps memory flat. A parse error in the child is re-raised in the parent as
the same ImportFormatError, and the child is stopped if the parent gives up early.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from shaobing.core.i18n import t
from shaobing.findings.importers.base import ImportFormatError, Record
from shaobing.findings.importers.registry import get_importer

# Below this size the child's start-up (about half a second) costs more than it saves.
BACKGROUND_MIN_BYTES = 8 * 1024 * 1024
_BATCH = 1000
# Parsed batches buffered in the parent: enough to keep both processes busy, small enough
# to keep memory flat (about 16,000 records).
_QUEUE_BATCHES = 16


def parse_records(format_name: str, path: Path) -> Iterator[Record]:
    """The importer's records for ``path``, parsed in a child process for large files.

    Only parsing moves to the child: preparing rows there as well was measured slower,
    because the child then becomes the bottleneck and pickling rows costs more than
    pickling the records.
    """
    if (os.cpu_count() or 1) < 2 or path.stat().st_size < BACKGROUND_MIN_BYTES:
        yield from get_importer(format_name).parse(path)
        return
    get_importer(format_name)  # an unknown format fails here, in the caller's language
    child = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        [
            sys.executable,
            "-m",
            "shaobing.findings.pipeline",
            format_name,
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    batches: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=_QUEUE_BATCHES)
    stop = threading.Event()

    def reader() -> None:
        # Reading in a thread keeps the pipe drained, so the child parses ahead while the
        # caller is busy with the database (a pipe buffer alone holds only 64 KiB).
        assert child.stdout is not None
        while not stop.is_set():
            try:
                message = pickle.load(child.stdout)  # noqa: S301 - our own child process
            except (EOFError, OSError, pickle.UnpicklingError):
                message = ("eof", None)
            while not stop.is_set():
                try:
                    batches.put(message, timeout=0.5)
                    break
                except queue.Full:
                    continue
            if message[0] != "records":
                return

    thread = threading.Thread(target=reader, name="import-parser-reader", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = batches.get()
            if kind == "records":
                yield from payload
            elif kind == "done":
                return
            elif kind == "format_error":
                raise ImportFormatError(payload[0], payload[1])
            elif kind == "eof":
                child.wait(timeout=30)
                error = child.stderr.read().decode(errors="replace")[-500:] if child.stderr else ""
                raise ImportFormatError(
                    path, t("findings.problem.parser_died") + (f": {error}" if error else "")
                )
            else:
                raise RuntimeError(f"parser failed: {payload}")
    finally:
        stop.set()
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
        thread.join(timeout=30)
        child.stdout.close()
        if child.stderr is not None:
            child.stderr.close()


def _serve(format_name: str, path: str, out: BinaryIO) -> None:
    try:
        batch: list[Record] = []
        for record in get_importer(format_name).parse(Path(path)):
            batch.append(record)
            if len(batch) >= _BATCH:
                pickle.dump(("records", batch), out, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
        pickle.dump(("records", batch), out, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump(("done", None), out, protocol=pickle.HIGHEST_PROTOCOL)
    except ImportFormatError as exc:
        pickle.dump(("format_error", (exc.path, exc.problem)), out)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, never swallowed
        pickle.dump(("crash", f"{type(exc).__name__}: {exc}"), out)
    out.flush()


def main() -> None:
    """Child entry point: stream the records of one file to standard output."""
    # The data channel is the original stdout; anything printed goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # A broken pipe means the parent stopped reading: nothing left to do.
    with contextlib.suppress(BrokenPipeError):
        _serve(sys.argv[1], sys.argv[2], out)


if __name__ == "__main__":
    main()
