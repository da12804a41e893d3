"""Local mail for backlogs and offline use: an mbox file, a Maildir, a folder of .eml files, or one .eml.

Everything here only reads: the source is opened without locking or creating anything, so triaging a
mailbox that a mail client also has open cannot damage it.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.errors import SourceError

SourceKind = Literal["mbox", "maildir", "eml-dir", "eml"]


@dataclass(frozen=True)
class LocalMessage:
    """One message of a local source: its key (path or mailbox key) and its raw bytes."""

    key: str
    raw: bytes


def detect_kind(path: Path) -> SourceKind:
    """Tell what kind of mail source ``path`` is, or raise :class:`SourceError` saying why it is none."""
    if not path.exists():
        raise SourceError(f"SOURCE {str(path)!r} does not exist")
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new")):
            return "maildir"
        return "eml-dir"
    if not os.access(path, os.R_OK):
        raise SourceError(f"SOURCE {str(path)!r} is not readable")
    if path.suffix.lower() == ".eml":
        return "eml"
    with path.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        return "mbox"
    if not head:
        raise SourceError(f"SOURCE {str(path)!r} is empty")
    return "eml"  # a single message saved without the .eml suffix


def _eml_files(root: Path) -> list[Path]:
    files = [
        Path(dirpath) / name
        for dirpath, _dirs, names in os.walk(root)
        for name in names
        if name.lower().endswith(".eml")
    ]
    return sorted(files)


class LocalSource:
    """A read-only view of a local mail source with a known message count (for progress bars)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.kind = detect_kind(self.path)
        self._mailbox: mailbox.mbox | mailbox.Maildir | None = None
        self._keys: list[str]
        try:
            if self.kind == "mbox":
                self._mailbox = mailbox.mbox(self.path, create=False)
                self._keys = [str(k) for k in self._mailbox.keys()]
            elif self.kind == "maildir":
                self._mailbox = mailbox.Maildir(self.path, factory=None, create=False)
                self._keys = sorted(self._mailbox.keys())
            elif self.kind == "eml-dir":
                self._keys = [p.relative_to(self.path).as_posix() for p in _eml_files(self.path)]
            else:
                self._keys = [self.path.name]
        except OSError as exc:
            raise SourceError(f"cannot read SOURCE {str(self.path)!r}: {exc.strerror or exc}") from exc

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[LocalMessage]:
        for key in self._keys:
            try:
                yield LocalMessage(key, self._read(key))
            except OSError as exc:
                raise SourceError(f"cannot read message {key!r} of {str(self.path)!r}: {exc.strerror or exc}") from exc

    def _read(self, key: str) -> bytes:
        if isinstance(self._mailbox, mailbox.mbox):
            return self._mailbox.get_bytes(int(key))  # type: ignore[arg-type]  # mbox keys are ints
        if isinstance(self._mailbox, mailbox.Maildir):
            return self._mailbox.get_bytes(key)
        if self.kind == "eml-dir":
            return (self.path / key).read_bytes()
        return self.path.read_bytes()

    def close(self) -> None:
        """Release the mailbox file handle (mbox keeps one open)."""
        if self._mailbox is not None:
            self._mailbox.close()
            self._mailbox = None
