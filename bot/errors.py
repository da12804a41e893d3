"""One exception hierarchy for mentorbox.

Lower layers (tomllib, sqlite3, imapclient, joblib, the filesystem) raise their own errors; the module that
talks to them translates those into one of these at its boundary, so the CLI and the daemon only need to
know this tree to print one actionable line and pick an exit code.
"""

from __future__ import annotations


class MentorboxError(Exception):
    """Base class: something the user can act on; its message is safe to print (no secrets, no traceback)."""

    exit_code = 1


class UsageError(MentorboxError):
    """The command line or its inputs are wrong (a missing SOURCE, an unknown format)."""

    exit_code = 2


class ConfigError(UsageError):
    """The configuration is invalid; the message names the key path and what is wrong with it."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}" if key else problem)


class SecretError(ConfigError):
    """A secret could not be read from its env var, file or command (the value itself is never shown)."""


class SourceError(UsageError):
    """A local mail source (mbox, Maildir, .eml folder) cannot be read."""


class ModelError(MentorboxError):
    """The classifier model is missing, damaged, unsafe to load or from another scikit-learn version."""


class StoreError(MentorboxError):
    """The state database cannot be opened or is from a newer mentorbox."""


class StoreBusy(StoreError):
    """Another mentorbox process (a daemon or a backfill) works on the same state store: two would each draft
    and push the same mail."""


class TemplateError(MentorboxError):
    """A reply template cannot be compiled or rendered; the message names the file and line."""

    exit_code = 2
