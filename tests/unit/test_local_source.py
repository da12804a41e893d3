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


@pytest.mark.parametrize("kind", ["mbox", "maildir", "eml-dir", "eml"])
def test_a_message_is_read_only_up_to_max_bytes(tmp_path: Path, kind: str) -> None:
    """Given a message of 50 KB between two small ones, when the source is read with max_bytes=10,000, then the
    big one yields its first 10,000 bytes and its whole size, and its neighbours are whole."""
    big = b"From: a@x\nSubject: big\n\n" + b"A" * 50_000 + b"\n"
    small = [MSG.replace(b"\r\n", b"\n") % (i, i, i) for i in (1, 3)]
    messages = [small[0], big, small[1]]
    if kind == "mbox":
        path = tmp_path / "in.mbox"
        box = mailbox.mbox(path)
        for m in messages:
            box.add(m)
        box.flush()
        box.close()
    elif kind == "maildir":
        path = tmp_path / "md"
        box = mailbox.Maildir(path)
        for m in messages:
            box.add(m)
    elif kind == "eml-dir":
        path = tmp_path / "dir"
        path.mkdir()
        for i, m in enumerate(messages):
            (path / f"{i}.eml").write_bytes(m)
    else:
        path = tmp_path / "big.eml"
        path.write_bytes(big)
        messages = [big]
    source = LocalSource(path, max_bytes=10_000)
    read = sorted(source, key=lambda m: -m.size)
    source.close()
    assert len(read) == len(messages)
    assert read[0].raw == big[:10_000] and read[0].size == len(big) and read[0].cut
    assert sorted(m.raw for m in read[1:]) == sorted(m for m in messages if m is not big)
    assert not any(m.cut for m in read[1:])


def test_mbox_split_is_the_same_as_the_standard_library(tmp_path: Path) -> None:
    """Given mboxes with blank lines, "From " in bodies, no final newline and a message without line breaks,
    when read, then each message is byte for byte what mailbox.mbox gives (the block scan finds the same
    boundaries, also across a block edge)."""
    import bot.local_source as local

    cases = [b"From a\nSubject: x\n\nbody\n\nFrom b\nSubject: y\n\nbody2\n",
             b"From a\nSubject: x\n\nbody\nFrom b\nSubject: y\n\nbody2", b"From a\n\nFrom b\n\n",
             b"From a\nx\n\n\n\nFrom b\ny\n\n", b"From a", b"From a\n" + b"x" * 3000 + b"\nFrom b\n>From c\n"]
    path = tmp_path / "t.mbox"
    for block in (local._BLOCK, 7):
        for case in cases:
            path.write_bytes(case)
            box = mailbox.mbox(path, create=False)
            want = [box.get_bytes(k) for k in box.keys()]
            box.close()
            original, local._BLOCK = local._BLOCK, block
            try:
                source = LocalSource(path)
                got = [m.raw for m in source]
                source.close()
            finally:
                local._BLOCK = original
            assert got == want, case
