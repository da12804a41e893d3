"""Local mail for backlogs and offline use: an mbox file, a Maildir, a folder of .eml files, or one .eml.

Everything here only reads: the source is opened without locking or creating anything, so triaging a
mailbox that a mail client also has open cannot damage it.

At most ``max_bytes`` of one message are read (the daemon fetches no more over IMAP): the headers and the text
are at the start, and a 200 MB attachment behind them would otherwise be held in memory several times over
while it is parsed. An mbox is indexed by scanning it in blocks, so even a message with no line breaks is never
read whole.
"""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from bot.errors import SourceError

SourceKind = Literal["mbox", "maildir", "eml-dir", "eml"]

DEFAULT_MAX_BYTES = 10_000_000
"""``imap.max_message_bytes``'s default."""
_BLOCK = 1 << 20


@dataclass(frozen=True)
class LocalMessage:
    """One message of a local source: its key (path or mailbox key), its first bytes (all of them unless it is
    bigger than the source's ``max_bytes``) and its whole size."""

    key: str
    raw: bytes
    size: int = -1

    @property
    def cut(self) -> bool:
        """Whether only the start of the message was read."""
        return self.size > len(self.raw)


def mbox_offsets(fh: BinaryIO) -> list[tuple[int, int]]:
    """(start, stop) of each message body of an mbox: after its ``From `` line, up to the next one.

    The same split as :class:`mailbox.mbox` (a message starts at a line beginning ``From ``; the blank line
    before the next one is not part of it), found by searching 1 MB blocks rather than reading line by line,
    which would hold a message without line breaks in memory whole.
    """
    starts: list[int] = []  # offsets of the "From " lines
    fh.seek(0)
    if fh.read(5) == b"From ":
        starts.append(0)
    offset, tail = 0, b""
    fh.seek(0)
    while block := fh.read(_BLOCK):
        data = tail + block  # the last 5 bytes of the previous block: a "\nFrom " across the boundary is found
        base = offset - len(tail)
        at = data.find(b"\nFrom ")
        while at != -1:
            starts.append(base + at + 1)
            at = data.find(b"\nFrom ", at + 1)
        offset += len(block)
        tail = data[-5:]  # (too short to hold a whole match, so none is counted twice)
    size = offset
    offsets = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else size
        fh.seek(max(start, end - 2))
        if fh.read(2) == b"\n\n":
            end -= 1  # the blank line that separates messages
        fh.seek(start)
        line = fh.readline(_BLOCK)
        while line and not line.endswith(b"\n") and fh.tell() < end:  # a "From " line without an end
            line = fh.readline(_BLOCK)
        offsets.append((min(fh.tell(), end), end))
    return offsets


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

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.kind = detect_kind(self.path)
        self.max_bytes = max_bytes
        self._mailbox: mailbox.Maildir | None = None
        self._mbox: BinaryIO | None = None
        self._offsets: list[tuple[int, int]] = []
        self._keys: list[str]
        try:
            if self.kind == "mbox":
                self._mbox = self.path.open("rb")
                self._offsets = mbox_offsets(self._mbox)
                self._keys = [str(i) for i in range(len(self._offsets))]
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
                raw, size = self._read(key)
            except OSError as exc:
                raise SourceError(f"cannot read message {key!r} of {str(self.path)!r}: {exc.strerror or exc}") from exc
            yield LocalMessage(key, raw, size)

    def _read(self, key: str) -> tuple[bytes, int]:
        """The first ``max_bytes`` of a message and its whole size; the rest is skipped, never read."""
        if self._mbox is not None:
            start, stop = self._offsets[int(key)]
            self._mbox.seek(start)
            return self._mbox.read(min(stop - start, self.max_bytes)), stop - start
        if self._mailbox is not None:
            with self._mailbox.get_file(key) as proxy:
                raw = proxy.read(self.max_bytes)
                proxy.seek(0, os.SEEK_END)
                return raw, proxy.tell()
        if self.kind == "eml-dir":
            path = self.path / key
        else:
            path = self.path
        with path.open("rb") as fh:
            return fh.read(self.max_bytes), os.fstat(fh.fileno()).st_size

    def close(self) -> None:
        """Release the mbox file handle."""
        if self._mbox is not None:
            self._mbox.close()
            self._mbox = None
        if self._mailbox is not None:
            self._mailbox.close()
            self._mailbox = None
