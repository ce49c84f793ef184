"""Payload lists: files next to templates, and the three Nuclei attack modes.

A payload file named by a template is read only when it lies inside the template's
folder or the collection folder the user named (looked up from the template's folder
upwards, as Nuclei resolves ``helpers/...`` against the collection root); an absolute
path or one that climbs out of those folders is refused, so a template cannot read
arbitrary files of the machine.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from pathlib import Path

MAX_PAYLOAD_FILE_BYTES = 4 * 2**20
MAX_PAYLOAD_LINES = 100_000
# Requests one block may generate from its payloads (clusterbomb grows fast).
MAX_COMBINATIONS = 10_000


class PayloadFileError(Exception):
    """A payload file that may not or cannot be read; ``feature``/``key`` name why."""

    def __init__(self, feature: str, key: str) -> None:
        super().__init__(feature)
        self.feature = feature
        self.key = key


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
    except ValueError:
        return False
    return True


def _candidates(value: str, template: Path, root: Path | None) -> list[tuple[Path, Path]]:
    """(candidate, folder it must stay in) from the template's folder up to ``root``."""
    here = template.parent.resolve()
    top = root.resolve() if root is not None else here
    if not _inside(here, top):
        top = here
    out: list[tuple[Path, Path]] = []
    folder = here
    while True:
        out.append((folder / value, top))
        if folder in (top, folder.parent):
            break
        folder = folder.parent
    return out


def read_payload_file(value: str, template: Path, root: Path | None) -> tuple[str, ...]:
    """The non-empty lines of the payload file ``value`` named by ``template``."""
    if Path(value).is_absolute() or value.startswith("~"):
        raise PayloadFileError("payload-file-outside", "payload_outside")
    for candidate, top in _candidates(value, template, root):
        resolved = candidate.resolve()
        if not _inside(resolved, top):
            raise PayloadFileError("payload-file-outside", "payload_outside")
        if resolved.is_file():
            try:
                if resolved.stat().st_size > MAX_PAYLOAD_FILE_BYTES:
                    raise PayloadFileError("payload-file-too-large", "payload_too_large")
                text = resolved.read_text(encoding="utf-8", errors="replace")
            except OSError:
                raise PayloadFileError("payload-file-missing", "payload_missing") from None
            lines = [line.strip("\r") for line in text.split("\n")]
            values = tuple(line for line in lines if line.strip())
            return values[:MAX_PAYLOAD_LINES]
    raise PayloadFileError("payload-file-missing", "payload_missing")


def combinations(payloads: Mapping[str, tuple[str, ...]], attack: str) -> Iterator[dict[str, str]]:
    """The payload value sets one request block iterates over (one empty set when none).

    batteringram: each value of the first list, put in every position;
    pitchfork: the n-th value of every list together (stops at the shortest);
    clusterbomb: every combination.
    """
    if not payloads:
        yield {}
        return
    names = list(payloads)
    lists = [payloads[name] for name in names]
    if attack == "pitchfork":
        produced: Iterator[tuple[str, ...]] = zip(*lists, strict=False)
    elif attack == "clusterbomb":
        produced = itertools.product(*lists)
    else:
        # Battering ram: one payload set, the same value in all positions.
        produced = ((value,) * len(names) for value in lists[0])
    for values in itertools.islice(produced, MAX_COMBINATIONS):
        yield dict(zip(names, values, strict=True))
