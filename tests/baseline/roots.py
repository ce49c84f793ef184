"""Fixture roots: realistic filesystem trees of hardened and weak hosts (tests/baseline/roots/).

Git keeps neither permissions nor owners, so each tree lists them in its ``.modes`` file
(``/path MODE OWNER GROUP``, names resolved in the tree's own passwd/group); ``materialise``
copies a tree to a temporary folder and applies them, as an image unpacked by root would be.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOTS = Path(__file__).parent / "roots"


def _ids(root: Path, database: str) -> dict[str, int]:
    table: dict[str, int] = {}
    path = root / "etc" / database
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[2].isdigit():
                table.setdefault(fields[0], int(fields[2]))
    return table


def materialise(name: str, dest: Path) -> Path:
    """Copy root ``name`` to ``dest`` with the modes and owners of its ``.modes`` file."""
    target = dest / name
    shutil.copytree(ROOTS / name, target, symlinks=True)
    modes = target / ".modes"
    users = _ids(target, "passwd")
    groups = _ids(target, "group")
    for line in modes.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, mode, owner, group = line.split()
        real = target / path.lstrip("/")
        os.chmod(real, int(mode, 8), follow_symlinks=False)
        if os.geteuid() == 0:
            os.chown(real, users.get(owner, 0), groups.get(group, 0), follow_symlinks=False)
    modes.unlink()
    return target
