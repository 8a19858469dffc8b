"""Files under one directory, named by generated keys (never by anything a phone system or a
user supplied), written whole or not at all. Holds sealed recordings; what it holds is opaque
to it."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

PARTIAL = ".part"  # a file being written; left behind only by a write that was cut off


class Missing(Exception):
    pass


class Directory:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._prefix = os.path.abspath(self.root) + os.sep
        self._folders: set[Path] = set()  # made already: one mkdir per folder, not per file

    def path(self, name: str) -> Path:
        # Names are ours (generated keys), but a stored one is checked all the same; by its
        # text, which costs nothing, rather than by resolving links on every access.
        path = os.path.normpath(os.path.join(self._prefix, name))
        if not path.startswith(self._prefix):
            raise ValueError("recording key escapes the storage directory")
        return Path(path)

    def write(self, name: str, parts: Iterable[bytes]) -> int:
        """Write the parts aside, make them durable, then put them in place; their length."""
        path = self.path(name)
        if path.parent not in self._folders:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(path.parent)
        aside = path.with_name(path.name + PARTIAL)
        written = 0
        try:
            try:
                f = open(aside, "wb")  # noqa: SIM115 -- closed below
            except FileNotFoundError:  # the folder went away since it was made
                path.parent.mkdir(parents=True, exist_ok=True)
                f = open(aside, "wb")  # noqa: SIM115
            with f:
                for part in parts:
                    written += f.write(part)
                f.flush()
                os.fsync(f.fileno())
            os.replace(aside, path)
        except BaseException:
            aside.unlink(missing_ok=True)
            raise
        return written

    def size(self, name: str) -> int:
        try:
            return self.path(name).stat().st_size
        except FileNotFoundError as exc:
            raise Missing(name) from exc

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self.path(name), "rb")  # the caller closes it
        except FileNotFoundError as exc:
            raise Missing(name) from exc

    def delete(self, name: str) -> None:
        self.path(name).unlink(missing_ok=True)

    def walk(self) -> Iterator[tuple[str, int, float]]:
        """Every file under the root: its name, size and modification time."""
        if not self.root.is_dir():
            return
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                info = path.stat()
                yield path.relative_to(self.root).as_posix(), info.st_size, info.st_mtime
