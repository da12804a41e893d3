"""Config loading: typed values, defaults, and errors that name the key path and never echo a secret."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.config import Config, load_config, parse_config
from bot.errors import ConfigError, SecretError
from bot.secrets import Secret, SecretRef

IMAP = {"host": "imap.example.org", "username": "kai", "password_env": "MBX_PW"}


def test_empty_config_gives_defaults() -> None:
    config = parse_config({})
    assert isinstance(config, Config)
    assert config.accounts == ()
    assert config.classifier.unsure_below == 0.6
    assert config.telegram.api_base_url == "https://api.telegram.org/bot"
    assert config.store.path.name == "state.sqlite3"


def test_example_config_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[2] / "config.example.toml")
    (account,) = config.accounts
    assert account.tls == "implicit" and account.port == 993 and account.folders == ("INBOX",)
    assert account.password.env == "MENTORBOX_IMAP_PASSWORD"


def test_port_defaults_follow_tls() -> None:
    config = parse_config({"imap": {**IMAP, "tls": "starttls"}})
    assert config.accounts[0].port == 143


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        pytest.param({"imap": {**IMAP, "port": "993x"}}, "imap.port", "expected an integer, got string '993x'", id="type"),
        pytest.param({"imap": {**IMAP, "port": 70000}}, "imap.port", "between 1 and 65535", id="range"),
        pytest.param({"imap": {**IMAP, "tls": "maybe"}}, "imap.tls", "must be one of", id="choice"),
        pytest.param({"imap": {**IMAP, "folders": []}}, "imap.folders", "at least one", id="empty-list"),
        pytest.param({"imap": {**IMAP, "folders": ["INBOX", 3]}}, "imap.folders[1]", "non-empty string", id="list-item"),
        pytest.param({"imap": {**IMAP, "hots": "x"}}, "imap.hots", "unknown setting", id="typo"),
        pytest.param({"imap": {**IMAP, "backfil_days": 3}}, "imap.backfil_days",
                     "unknown setting; did you mean 'imap.backfill_days'?", id="typo-hint"),
        pytest.param({"imap": {"username": "kai", "password_env": "X"}}, "imap.host", "must be set", id="missing"),
        pytest.param({"imap": {"hostt": "h", "username": "kai", "password_env": "X"}}, "imap.host",
                     "must be set (a non-empty string); is 'imap.hostt' a misspelling of it?", id="missing-typo"),
        pytest.param({"imap": {"host": "h", "username": "u"}}, "imap.password", "password_env", id="no-secret"),
        pytest.param({"imap": {**IMAP, "password_file": "/x"}}, "imap.password", "only one", id="two-secrets"),
        pytest.param({"classifier": {"unsure_below": 1.5}}, "classifier.unsure_below", "between 0.0 and 1.0", id="float"),
        pytest.param({"classifier": {"train_folders": {"Jobs": "jobs"}}}, "classifier.train_folders.Jobs",
                     "must be one of", id="label"),
        pytest.param({"telegram": {"allowed_chat_ids": ["abc"]}}, "telegram.allowed_chat_ids[0]", "numeric", id="chat"),
        pytest.param({"telegram": {"enabled": True, "token_env": "T"}}, "telegram.allowed_chat_ids", "owner",
                     id="tg-no-chat"),
        pytest.param({"telegram": {"digest_time": "25:00"}}, "telegram.digest_time", "HH:MM", id="time"),
        pytest.param({"drafts": {"labels": ["spam"]}}, "drafts.labels[0]", "unknown label", id="draft-label"),
        pytest.param({"imap": IMAP, "accounts": [{"name": "a", **IMAP}]}, "accounts", "not both", id="both"),
        pytest.param({"accounts": [{"name": "a", **IMAP}, {"name": "a", **IMAP}]}, "accounts", "distinct", id="dup"),
        pytest.param({"accounts": [{**IMAP}]}, "accounts[0].name", "must be set", id="account-name"),
        pytest.param({"logging": {"level": "LOUD"}}, "logging.level", "must be one of", id="log-level"),
        pytest.param({"imap": {**IMAP, "password_env": "not a name!"}}, "imap.password_env", "environment variable",
                     id="env-name"),
        pytest.param({"bogus": {}}, "bogus", "unknown setting", id="unknown-section"),
        pytest.param({"followups": {"respond_within": {"job_lead": "soon"}}}, "followups.respond_within.job_lead",
                     "duration", id="duration"),
        pytest.param({"followups": {"respond_within": {"other": "1d"}}}, "followups.respond_within.other",
                     "not a lead label", id="respond-label"),
        pytest.param({"watchdog": {"stale_minutes": 0}}, "watchdog.stale_minutes", "between", id="stale"),
        pytest.param({"watchdog": {"stale": 5}}, "watchdog.stale", "unknown setting", id="watchdog-typo"),
    ],
)
def test_errors_name_the_key(data: dict, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert info.value.key == key
    assert fragment in str(info.value)


@pytest.mark.parametrize("key", ["password", "token", "api_secret"])
def test_secret_in_config_text_is_refused_without_echoing_it(key: str) -> None:
    section = "telegram" if key == "token" else "imap"
    data = {section: {**(IMAP if section == "imap" else {}), key: "hunter2-very-secret"}}
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert "not allowed in the config file" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.toml"
    path.parent.mkdir()
    path.write_text('[store]\npath = "state/db.sqlite3"\n[classifier]\nmodel_dir = "~/models"\n')
    config = load_config(path)
    assert config.store.path == tmp_path / "sub" / "state" / "db.sqlite3"
    assert config.classifier.model_dir == Path("~/models").expanduser()


def test_bad_toml_is_reported_with_its_position(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[imap\nhost = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML.*line 1"):
        load_config(path)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_missing_default_file_gives_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MENTORBOX_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config().source is None


def test_config_is_frozen() -> None:
    config = parse_config({})
    with pytest.raises(AttributeError):
        config.classifier.unsure_below = 0.1  # type: ignore[misc]


# --------------------------------------------------------------------------- secrets


def test_secret_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MBX_PW", "s3cret\n")
    secret = SecretRef("imap.password", env="MBX_PW").resolve()
    assert secret.reveal() == "s3cret"
    assert "s3cret" not in repr(secret) and "s3cret" not in str(secret)


def test_secret_env_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MBX_PW", raising=False)
    with pytest.raises(SecretError, match="imap.password_env: environment variable MBX_PW is not set"):
        SecretRef("imap.password", env="MBX_PW").resolve()


def test_secret_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("file-secret\n")
    os.chmod(path, 0o644)
    with pytest.raises(SecretError, match="readable by other users") as info:
        SecretRef("imap.password", file=str(path)).resolve()
    assert "file-secret" not in str(info.value)
    os.chmod(path, 0o600)
    assert SecretRef("imap.password", file=str(path)).resolve().reveal() == "file-secret"


def test_secret_command(tmp_path: Path) -> None:
    assert SecretRef("t", command=("printf", "tok-1\\nignored")).resolve().reveal() == "tok-1"
    with pytest.raises(SecretError, match="exited with status 3") as info:
        SecretRef("t", command=("sh", "-c", "echo leaked-secret >&2; exit 3")).resolve()
    assert "leaked" not in str(info.value)
    with pytest.raises(SecretError, match="not found"):
        SecretRef("t", command=("/nonexistent/helper",)).resolve()


def test_secret_value_type_hides_itself() -> None:
    assert repr(Secret("abc")) == "Secret('***')"
