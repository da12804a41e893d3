"""Processes as /proc shows them, for tests and benchmarks that look at the daemon's children."""

from __future__ import annotations

from pathlib import Path


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (the 4th field of /proc/N/stat; /proc/N/task/*/children is
    not there on every kernel)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass  # gone meanwhile
    return found
