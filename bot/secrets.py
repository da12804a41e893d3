"""Secrets from where they belong: an environment variable, a file, or a command's output.

The config file names *where* a secret is, never the secret itself, so the file can be shared, backed up and
pasted into a bug report. Resolved values are wrapped in :class:`Secret`, whose ``repr``/``str`` never show
the value, so a stray log line or traceback cannot leak it.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bot.errors import SecretError

COMMAND_TIMEOUT = 30


class Secret:
    """A secret value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value, for the one place that needs it (a login call)."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives; exactly one of ``env``, ``file``, ``command`` is set."""

    key: str
    """The config key path of the setting family, e.g. ``imap.password`` (for error messages)."""
    env: str = ""
    file: str = ""
    command: tuple[str, ...] = ()

    @property
    def configured(self) -> bool:
        """Whether any source is set."""
        return bool(self.env or self.file or self.command)

    def describe(self) -> str:
        """Where the secret comes from, without its value."""
        if self.env:
            return f"environment variable {self.env}"
        if self.file:
            return f"file {self.file}"
        if self.command:
            return f"command {self.command[0]}"
        return "nowhere (not configured)"

    def resolve(self) -> Secret:
        """Read the secret now; raise :class:`SecretError` naming the setting (never the value) on failure."""
        if self.env:
            value = os.environ.get(self.env)
            if not value:
                raise SecretError(f"{self.key}_env", f"environment variable {self.env} is not set or empty")
            return Secret(value.strip())
        if self.file:
            return Secret(_read_secret_file(f"{self.key}_file", Path(self.file).expanduser()))
        if self.command:
            return Secret(_run_secret_command(f"{self.key}_command", self.command))
        raise SecretError(self.key, f"not configured: set {self.key}_env, {self.key}_file or {self.key}_command")


def _read_secret_file(key: str, path: Path) -> str:
    try:
        st = path.stat()
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise SecretError(key, f"{path} is readable by other users: run chmod 600 {shlex.quote(str(path))}")
        value = path.read_text(encoding="utf-8").strip()
    except SecretError:
        raise
    except OSError as exc:
        raise SecretError(key, f"cannot read {path}: {exc.strerror or exc}") from None
    if not value:
        raise SecretError(key, f"{path} is empty")
    return value


def _run_secret_command(key: str, command: tuple[str, ...]) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - the owner's own command from their config
            list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise SecretError(key, f"command {command[0]!r} not found") from None
    except subprocess.TimeoutExpired:
        raise SecretError(key, f"command {command[0]!r} did not finish within {COMMAND_TIMEOUT} s") from None
    except OSError as exc:
        raise SecretError(key, f"command {command[0]!r} could not run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        # stderr may hold the secret (or part of it) on some tools: report only the exit status.
        raise SecretError(key, f"command {command[0]!r} exited with status {done.returncode}")
    value = done.stdout.strip().splitlines()[0] if done.stdout.strip() else ""
    if not value:
        raise SecretError(key, f"command {command[0]!r} printed nothing")
    return value
