"""TOML configuration -> frozen, typed settings, validated once at start-up.

Every problem is reported as a :class:`ConfigError` that names the key path (``imap.port``) and says what is
wrong, because the owner edits this file by hand and a daemon that dies at 3 a.m. on a typo is worse than
one that refuses to start. Unknown keys are errors too: a misspelt ``unsure_bellow`` silently ignored would
leave the default in force without anyone noticing.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs

from bot.errors import ConfigError
from bot.models import LABELS, LEAD_LABELS
from bot.secrets import SecretRef
from bot.textfiles import utf8_text

APP = "mentorbox"
CONFIG_ENV = "MENTORBOX_CONFIG"
TELEGRAM_API = "https://api.telegram.org/bot"


def default_config_path() -> Path:
    """Where mentorbox looks for its config when ``--config`` is not given."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def default_data_dir() -> Path:
    """The per-user data directory (store and model), e.g. ``~/.local/share/mentorbox``."""
    return Path(platformdirs.user_data_dir(APP))


@dataclass(frozen=True)
class ImapAccount:
    """One IMAP account to watch."""

    name: str = "default"
    host: str = ""
    port: int = 993
    tls: Literal["implicit", "starttls", "none"] = "implicit"
    username: str = ""
    auth: Literal["login", "plain", "xoauth2"] = "login"
    password: SecretRef = field(default_factory=lambda: SecretRef("imap.password"))
    oauth2_token: SecretRef = field(default_factory=lambda: SecretRef("imap.oauth2_token"))
    ca_file: str = ""
    folders: tuple[str, ...] = ("INBOX",)
    drafts_folder: str = ""
    sent_folder: str = ""
    watch_sent: bool = True
    idle: bool = True
    backlog_helpers: bool = True
    """Whether a backlog may borrow two more connections (drafts, and the reader process) while it lasts."""
    poll_seconds: int = 60
    backfill_days: int = 14
    batch_size: int = 100
    batch_bytes: int = 10_000_000
    """A batch also ends before the messages in it (each counted up to ``max_message_bytes``) pass this many
    bytes: a backlog of mail with attachments is then fetched a few messages at a time, not 100 at once."""
    timeout_seconds: int = 120
    max_message_bytes: int = 10_000_000
    tag_with_keywords: bool = False
    move_to_folders: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OwnerConfig:
    """Who the drafts are from and how they are signed."""

    name: str = ""
    address: str = ""
    signature: str = ""


@dataclass(frozen=True)
class StoreConfig:
    """Where the state database lives."""

    path: Path = field(default_factory=lambda: default_data_dir() / "state.sqlite3")


@dataclass(frozen=True)
class ClassifierConfig:
    """Where the model lives, when a decision counts as unsure, and which folders teach the model."""

    model_dir: Path = field(default_factory=lambda: default_data_dir() / "model")
    unsure_below: float = 0.6
    train_folders: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DraftsConfig:
    """Reply drafting."""

    enabled: bool = True
    templates_dir: Path | None = None
    labels: tuple[str, ...] = ("congratulation", "advice_request", "phd_offer", "job_lead")
    max_faq: int = 3


@dataclass(frozen=True)
class TelegramConfig:
    """The owner's Telegram bot."""

    enabled: bool = False
    token: SecretRef = field(default_factory=lambda: SecretRef("telegram.token"))
    allowed_chat_ids: tuple[int, ...] = ()
    api_base_url: str = TELEGRAM_API
    digest_time: str = "08:00"


@dataclass(frozen=True)
class PriorityConfig:
    """How leads are scored."""

    threshold: float = 0.47
    vip: tuple[str, ...] = ()


@dataclass(frozen=True)
class WatchdogConfig:
    """When the owner is told that something is wrong (on Telegram, once, and again when it recovers)."""

    stale_minutes: int = 30
    failing_messages: int = 3
    token_warning_minutes: int = 15


@dataclass(frozen=True)
class FollowupsConfig:
    """Nudges: promised dates that pass in silence, and leads the owner has not answered in time."""

    enabled: bool = True
    respond_within: Mapping[str, int] = field(default_factory=lambda: {"job_lead": 86_400, "phd_offer": 3 * 86_400})
    """Seconds per label before an unanswered lead is nudged."""
    follow_up_drafts: bool = True
    """Put a polite follow-up draft in Drafts when a promised date passes."""


@dataclass(frozen=True)
class LoggingConfig:
    """Log verbosity and shape."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``source`` is the file it came from (None: built-in defaults)."""

    accounts: tuple[ImapAccount, ...] = ()
    owner: OwnerConfig = field(default_factory=OwnerConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    drafts: DraftsConfig = field(default_factory=DraftsConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    priority: PriorityConfig = field(default_factory=PriorityConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    source: Path | None = None
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    followups: FollowupsConfig = field(default_factory=FollowupsConfig)


# --------------------------------------------------------------------------- reading one table

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list"}
_SECRET_WORDS = ("password", "token", "secret")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _describe(value: object) -> str:
    """The type and a short, safe rendering of a wrong value (strings are cut: they could be a pasted secret)."""
    kind = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "table"}.get(
        type(value), type(value).__name__
    )
    if isinstance(value, (int, float, bool)):
        return f"{kind} {value!r}"
    if isinstance(value, str) and len(value) <= 24:
        return f"{kind} {value!r}"
    return kind


class _Table:
    """Reads typed values out of one TOML table and remembers which keys were used."""

    def __init__(self, data: object, path: str, base: Path) -> None:
        if not isinstance(data, dict):
            raise ConfigError(path, f"must be a table, got {_describe(data)}")
        self.data: dict[str, Any] = data
        self.path = path
        self.base = base
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def _get(self, name: str, kind: type, default: Any) -> Any:
        self.used.add(name)
        if name not in self.data:
            return default
        value = self.data[name]
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            raise ConfigError(self.key(name), f"expected {_TYPE_NAMES[kind]}, got {_describe(value)}")
        return value

    def string(self, name: str, default: str = "", choices: tuple[str, ...] = (), required: bool = False) -> str:
        value: str = self._get(name, str, default)
        if required and not value.strip():
            raise ConfigError(self.key(name), "must be set (a non-empty string)" + self._misspelt(name))
        if choices and value not in choices:
            raise ConfigError(self.key(name), f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
        return value

    def integer(self, name: str, default: int, low: int | None = None, high: int | None = None) -> int:
        value: int = self._get(name, int, default)
        if (low is not None and value < low) or (high is not None and value > high):
            raise ConfigError(self.key(name), f"must be between {low} and {high}, got {value}")
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value: float = self._get(name, float, default)
        if not low <= value <= high:
            raise ConfigError(self.key(name), f"must be between {low} and {high}, got {value}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value: bool = self._get(name, bool, default)
        return value

    def str_list(self, name: str, default: tuple[str, ...], nonempty: bool = False) -> tuple[str, ...]:
        value = self._get(name, list, list(default))
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise ConfigError(f"{self.key(name)}[{i}]", f"expected a non-empty string, got {_describe(item)}")
        if nonempty and not value:
            raise ConfigError(self.key(name), "must list at least one entry")
        return tuple(value)

    def path_value(self, name: str, default: Path | None) -> Path | None:
        value = self.string(name, "")
        if not value:
            return default
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.base / path)

    def str_map(self, name: str, values: tuple[str, ...] = ()) -> dict[str, str]:
        self.used.add(name)
        raw = self.data.get(name, {})
        if not isinstance(raw, dict):
            raise ConfigError(self.key(name), f"must be a table, got {_describe(raw)}")
        for k, v in raw.items():
            if not isinstance(v, str):
                raise ConfigError(f"{self.key(name)}.{k}", f"expected a string, got {_describe(v)}")
            if values and v not in values:
                raise ConfigError(f"{self.key(name)}.{k}", f"must be one of {', '.join(values)}, got {v!r}")
        return dict(raw)

    def secret(self, name: str) -> SecretRef:
        """``name_env`` / ``name_file`` / ``name_command``: at most one of them."""
        env = self.string(f"{name}_env")
        if env and not _ENV_NAME.match(env):
            raise ConfigError(self.key(f"{name}_env"), "must be the name of an environment variable (A-Z, 0-9, _)")
        file = self.string(f"{name}_file")
        self.used.add(f"{name}_command")
        command_raw = self.data.get(f"{name}_command", [])
        if isinstance(command_raw, str):
            command = tuple(shlex.split(command_raw))
        elif isinstance(command_raw, list) and all(isinstance(c, str) for c in command_raw):
            command = tuple(command_raw)
        else:
            raise ConfigError(self.key(f"{name}_command"), "expected a string or a list of strings")
        given = [k for k, v in ((f"{name}_env", env), (f"{name}_file", file), (f"{name}_command", command)) if v]
        if len(given) > 1:
            raise ConfigError(self.key(name), f"set only one of {', '.join(self.key(g) for g in given)}")
        if file:
            path = Path(file).expanduser()
            file = str(path if path.is_absolute() else self.base / path)
        return SecretRef(self.key(name), env=env, file=file, command=command)

    def sub(self, name: str) -> _Table:
        self.used.add(name)
        return _Table(self.data.get(name, {}), self.key(name), self.base)

    def _misspelt(self, name: str) -> str:
        """``"; is 'hostt' a misspelling of it?"`` when the table has an unknown key close to ``name``: the
        missing key is reported first, and would otherwise hide the typo behind it."""
        close = _closest(name, [k for k in self.data if k not in self.used])
        return f"; is {self.key(close)!r} a misspelling of it?" if close else ""

    def finish(self) -> None:
        """Reject keys nobody read: misspellings, and secrets written into the file."""
        for name in self.data:
            if name in self.used:
                continue
            if any(word in name.lower() for word in _SECRET_WORDS) and not name.endswith(("_env", "_file", "_command")):
                raise ConfigError(
                    self.key(name),
                    f"secrets are not allowed in the config file; use {self.key(name)}_env, "
                    f"{self.key(name)}_file or {self.key(name)}_command",
                )
            close = _closest(name, self.used)
            raise ConfigError(self.key(name), "unknown setting" + (f"; did you mean {self.key(close)!r}?"
                                                                    if close else ""))


def _closest(name: str, keys: Iterable[str]) -> str | None:
    """The one of ``keys`` that ``name`` most likely misspells (or is misspelt by), if any is close."""
    import difflib

    close = difflib.get_close_matches(name, sorted(keys), n=1, cutoff=0.75)
    return close[0] if close else None


# --------------------------------------------------------------------------- sections

_CHAT_ID = re.compile(r"^-?\d+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_IMAP_KEYS_DOC = "host, port, tls, username, auth, password_*, oauth2_token_*, ca_file, folders, ..."


def _account(t: _Table, name: str) -> ImapAccount:
    tls = t.string("tls", "implicit", ("implicit", "starttls", "none"))
    auth = t.string("auth", "login", ("login", "plain", "xoauth2"))
    account = ImapAccount(
        name=name,
        host=t.string("host", required=True),
        port=t.integer("port", 993 if tls == "implicit" else 143, 1, 65535),
        tls=tls,  # type: ignore[arg-type]
        username=t.string("username", required=True),
        auth=auth,  # type: ignore[arg-type]
        password=t.secret("password"),
        oauth2_token=t.secret("oauth2_token"),
        ca_file=str(t.path_value("ca_file", None) or ""),
        folders=t.str_list("folders", ("INBOX",), nonempty=True),
        drafts_folder=t.string("drafts_folder"),
        sent_folder=t.string("sent_folder"),
        watch_sent=t.flag("watch_sent", True),
        idle=t.flag("idle", True),
        backlog_helpers=t.flag("backlog_helpers", True),
        poll_seconds=t.integer("poll_seconds", 60, 5, 86_400),
        backfill_days=t.integer("backfill_days", 14, 0, 36_500),
        batch_size=t.integer("batch_size", 100, 1, 5_000),
        batch_bytes=t.integer("batch_bytes", 10_000_000, 100_000, 1_000_000_000),
        timeout_seconds=t.integer("timeout_seconds", 120, 5, 3_600),
        max_message_bytes=t.integer("max_message_bytes", 10_000_000, 10_000, 1_000_000_000),
        tag_with_keywords=t.flag("tag_with_keywords", False),
        move_to_folders=t.str_map("move_to_folders"),
    )
    t.finish()
    for label in account.move_to_folders:
        if label not in LABELS:
            raise ConfigError(t.key(f"move_to_folders.{label}"), f"unknown label; use one of {', '.join(LABELS)}")
    if auth == "xoauth2" and not account.oauth2_token.configured:
        raise ConfigError(t.key("oauth2_token"), "auth = 'xoauth2' needs oauth2_token_env, _file or _command")
    if auth != "xoauth2" and not account.password.configured:
        raise ConfigError(t.key("password"), "set password_env, password_file or password_command")
    return account


def _accounts(root: _Table) -> tuple[ImapAccount, ...]:
    has_single = "imap" in root.data
    has_many = "accounts" in root.data
    root.used.update(("imap", "accounts"))
    if has_single and has_many:
        raise ConfigError("accounts", "use either [imap] (one account) or [[accounts]] (several), not both")
    if has_single:
        return (_account(_Table(root.data["imap"], "imap", root.base), "default"),)
    if not has_many:
        return ()
    raw = root.data["accounts"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError("accounts", "must be an array of tables ([[accounts]]) with at least one entry")
    accounts = []
    for i, item in enumerate(raw):
        t = _Table(item, f"accounts[{i}]", root.base)
        name = t.string("name", required=True)
        accounts.append(_account(t, name))
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise ConfigError("accounts", "every account needs a distinct name")
    return tuple(accounts)


def _classifier(t: _Table) -> ClassifierConfig:
    default = ClassifierConfig()
    cfg = ClassifierConfig(
        model_dir=t.path_value("model_dir", default.model_dir) or default.model_dir,
        unsure_below=t.number("unsure_below", 0.6, 0.0, 1.0),
        train_folders=t.str_map("train_folders", LABELS),
    )
    t.finish()
    return cfg


def _drafts(t: _Table) -> DraftsConfig:
    labels = t.str_list("labels", DraftsConfig.labels)
    for i, label in enumerate(labels):
        if label not in LABELS:
            raise ConfigError(f"drafts.labels[{i}]", f"unknown label {label!r}; use one of {', '.join(LABELS)}")
    cfg = DraftsConfig(
        enabled=t.flag("enabled", True),
        templates_dir=t.path_value("templates_dir", None),
        labels=labels,
        max_faq=t.integer("max_faq", 3, 0, 10),
    )
    if cfg.templates_dir is not None and not cfg.templates_dir.is_dir():
        raise ConfigError("drafts.templates_dir", f"{cfg.templates_dir} is not a directory")
    t.finish()
    return cfg


def _telegram(t: _Table) -> TelegramConfig:
    self_ids = t._get("allowed_chat_ids", list, [])
    ids: list[int] = []
    for i, item in enumerate(self_ids):
        if isinstance(item, bool) or not isinstance(item, (int, str)) or not _CHAT_ID.match(str(item)):
            raise ConfigError(f"telegram.allowed_chat_ids[{i}]", f"expected a numeric chat id, got {_describe(item)}")
        ids.append(int(item))
    base_url = t.string("api_base_url", TELEGRAM_API) or TELEGRAM_API
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError("telegram.api_base_url", f"must start with http:// or https://, got {base_url!r}")
    digest = t.string("digest_time", "08:00")
    if not _HHMM.match(digest):
        raise ConfigError("telegram.digest_time", f"expected HH:MM (24 h), got {digest!r}")
    cfg = TelegramConfig(
        enabled=t.flag("enabled", False),
        token=t.secret("token"),
        allowed_chat_ids=tuple(ids),
        api_base_url=base_url.rstrip("/"),
        digest_time=digest,
    )
    if cfg.enabled and not cfg.token.configured:
        raise ConfigError("telegram.token", "telegram is enabled: set token_env, token_file or token_command")
    if cfg.enabled and not cfg.allowed_chat_ids:
        raise ConfigError("telegram.allowed_chat_ids", "telegram is enabled: list the owner's chat id(s)")
    t.finish()
    return cfg


def parse_config(data: Mapping[str, Any], source: Path | None = None) -> Config:
    """Build a :class:`Config` from parsed TOML; raise :class:`ConfigError` on the first problem."""
    base = source.parent if source else Path.cwd()
    root = _Table(dict(data), "", base)
    accounts = _accounts(root)

    owner_t = root.sub("owner")
    owner = OwnerConfig(
        name=owner_t.string("name"), address=owner_t.string("address"), signature=owner_t.string("signature")
    )
    if owner.address and "@" not in owner.address:
        raise ConfigError("owner.address", f"not an email address: {owner.address!r}")
    owner_t.finish()

    store_t = root.sub("store")
    store = StoreConfig(path=store_t.path_value("path", StoreConfig().path) or StoreConfig().path)
    store_t.finish()

    classifier = _classifier(root.sub("classifier"))
    drafts = _drafts(root.sub("drafts"))
    telegram = _telegram(root.sub("telegram"))

    prio_t = root.sub("priority")
    priority = PriorityConfig(threshold=prio_t.number("threshold", 0.47, 0.0, 1.0), vip=prio_t.str_list("vip", ()))
    prio_t.finish()

    log_t = root.sub("logging")
    logging_cfg = LoggingConfig(
        level=log_t.string("level", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),  # type: ignore[arg-type]
        format=log_t.string("format", "text", ("text", "json")),  # type: ignore[arg-type]
    )
    log_t.finish()
    watchdog = _watchdog(root.sub("watchdog"))
    followups = _followups(root.sub("followups"))
    root.finish()
    return Config(accounts, owner, store, classifier, drafts, telegram, priority, logging_cfg, source, watchdog,
                  followups)


def _watchdog(t: _Table) -> WatchdogConfig:
    cfg = WatchdogConfig(
        stale_minutes=t.integer("stale_minutes", 30, 1, 7 * 24 * 60),
        failing_messages=t.integer("failing_messages", 3, 1, 10_000),
        token_warning_minutes=t.integer("token_warning_minutes", 15, 1, 24 * 60),
    )
    t.finish()
    return cfg


def _followups(t: _Table) -> FollowupsConfig:
    from bot.durations import parse_duration

    default = FollowupsConfig()
    raw = t.str_map("respond_within")
    within = dict(default.respond_within)
    for label, text in raw.items():
        if label not in LEAD_LABELS:
            raise ConfigError(f"followups.respond_within.{label}", f"not a lead label; use {' or '.join(LEAD_LABELS)}")
        seconds = parse_duration(text)
        if seconds is None:
            raise ConfigError(f"followups.respond_within.{label}",
                              f"expected a duration like \"1d\", \"36h\" or \"1w\", got {text!r}")
        within[label] = seconds
    cfg = FollowupsConfig(enabled=t.flag("enabled", True), respond_within=within,
                          follow_up_drafts=t.flag("follow_up_drafts", True))
    t.finish()
    return cfg


def load_config(path: str | os.PathLike[str] | None = None, *, required: bool = False) -> Config:
    """Load the config from ``path`` (or the default location).

    With no ``path`` and no file at the default location, built-in defaults are used unless ``required``
    (commands that talk to a mailbox need a config; offline triage does not).
    """
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    file = Path(path).expanduser() if path is not None else default_config_path()
    if not file.exists():
        if explicit or required:
            raise ConfigError("", f"config file {str(file)!r} not found (copy config.example.toml there to start)")
        return parse_config({}, None)
    try:
        data = tomllib.loads(_config_text(file))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{file}: not valid TOML: {exc}") from None
    return parse_config(data, file.resolve())


def _config_text(file: Path) -> str:
    """The config file as text (see :func:`bot.textfiles.utf8_text`: a byte-order mark is read past, a file
    that is not UTF-8 text is named as such)."""
    try:
        return utf8_text(file.read_bytes(), f"config file {str(file)!r}")
    except OSError as exc:
        raise ConfigError("", f"cannot read config file {str(file)!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ConfigError("", str(exc)) from None
