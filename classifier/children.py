"""Running a piece of mentorbox in a child Python process, for the long-running daemon.

Training a model, building the FAQ topic model and retraining import scikit-learn, and a process keeps that
memory (about 80 MB) for good. The daemon therefore runs them as ``python -m <module>`` children: their
memory goes when they end. This is the one place that starts such a child and turns its failure (an exit
code, a time-out) into a clear error naming what failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.errors import ModelError


def module_command(module: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``python -m module`` from this very copy of mentorbox.

    ``-m`` alone puts the current directory first on the child's path, so a ``bot/`` or ``classifier/``
    folder wherever the daemon was started from (another checkout, another version) would be imported in
    place of mentorbox's own; ``-P`` leaves it out, and PYTHONPATH names this copy first.
    """
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
    return [sys.executable, "-P", "-m", module], env


def run_module(module: str, args: Sequence[str], *, what: str, timeout: float, stdin: bytes | None = None,
               stderr_lines: Callable[[str], None] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m module args`` and return it when it succeeded.

    ``stderr_lines`` gets each line the child wrote on stderr (its progress), failed or not. A failure raises
    :class:`ModelError` ``"<what> failed: <the child's last line on stderr>"``; a child still running after
    ``timeout`` seconds is stopped and reported the same way.
    """
    command, env = module_command(module)
    try:
        done = subprocess.run([*command, *args], input=stdin, capture_output=True, timeout=timeout, check=False,
                              env=env)
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
