"""Local sources: every kind is detected and read, and the source is never changed."""

from __future__ import annotations

import hashlib
import mailbox
from pathlib import Path

import pytest

from bot.errors import SourceError
from bot.local_source import LocalSource, detect_kind

MSG = b"From: a@x\r\nSubject: s%d\r\nMessage-ID: <m%d@x>\r\n\r\nbody %d\r\n"


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    return {str(p): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in files}


def _mbox(path: Path, n: int) -> Path:
    box = mailbox.mbox(path)
    for i in range(n):
        box.add(MSG % (i, i, i))
    box.flush()
    box.close()
    return path


def _maildir(path: Path, n: int) -> Path:
    box = mailbox.Maildir(path)
    for i in range(n):
        box.add(MSG % (i, i, i))
    return path


def test_mbox_is_read_and_not_changed(tmp_path: Path) -> None:
    path = _mbox(tmp_path / "in.mbox", 3)
    before = _snapshot(path)
    source = LocalSource(path)
    assert source.kind == "mbox" and len(source) == 3
    items = list(source)
    source.close()
    assert [i.key for i in items] == ["0", "1", "2"]
    assert b"Subject: s1" in items[1].raw
    assert _snapshot(path) == before


def test_maildir_is_read_and_not_changed(tmp_path: Path) -> None:
    path = _maildir(tmp_path / "Maildir", 2)
    before = _snapshot(path)
    source = LocalSource(path)
    assert source.kind == "maildir"
    assert sorted(i.raw.split(b"\r\n")[1] for i in source) == [b"Subject: s0", b"Subject: s1"]
    assert _snapshot(path) == before


def test_eml_directory_is_searched_recursively(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "one.eml").write_bytes(MSG % (1, 1, 1))
    (tmp_path / "a" / "b" / "two.EML").write_bytes(MSG % (2, 2, 2))
    (tmp_path / "notes.txt").write_text("not mail")
    source = LocalSource(tmp_path)
    assert source.kind == "eml-dir"
    assert [i.key for i in source] == ["a/b/two.EML", "one.eml"]


def test_single_eml(tmp_path: Path) -> None:
    path = tmp_path / "x.eml"
    path.write_bytes(MSG % (1, 1, 1))
    assert detect_kind(path) == "eml"
    assert [i.key for i in LocalSource(path)] == ["x.eml"]


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_unusable_sources_are_clear_errors(tmp_path: Path, make: str) -> None:
    path = tmp_path / "src"
    if make == "empty":
        path.write_bytes(b"")
    with pytest.raises(SourceError, match="does not exist" if make == "missing" else "is empty"):
        LocalSource(path)
