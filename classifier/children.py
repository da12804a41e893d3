"""Running a piece of mentorbox in a child Python process, for the long-running daemon.

Training a model, building the FAQ topic model and retraining import scikit-learn, and a process keeps that
memory (about 80 MB) for good. The daemon therefore runs them as ``python -m <module>`` children: their
memory goes when they end. This is the one place that starts such a child and turns its failure (an exit
code, a time-out) into a clear error naming what failed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence

from bot.errors import ModelError


def run_module(module: str, args: Sequence[str], *, what: str, timeout: float, stdin: bytes | None = None,
               stderr_lines: Callable[[str], None] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m module args`` and return it when it succeeded.

    ``stderr_lines`` gets each line the child wrote on stderr (its progress), failed or not. A failure raises :class:`ModelError` ``"<what> failed: <the child's last line on stderr>"``; a child
    still running after ``timeout`` seconds is stopped and reported the same way.
    """
    try:
        done = subprocess.run([sys.executable, "-m", module, *args], input=stdin, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ModelError(f"{what} took longer than {timeout / 60:.0f} minutes and was stopped") from None
    said = lines(done.stderr)
    if stderr_lines is not None:
        for line in said:
            stderr_lines(line)
    if done.returncode != 0:
        last = [line for line in said if line.strip()]
        raise ModelError(f"{what} failed: {last[-1] if last else f'exit code {done.returncode}'}")
    return done


def lines(output: bytes) -> list[str]:
    """A child's output as text lines."""
    return output.decode("utf-8", "replace").splitlines()
