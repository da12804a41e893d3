"""check-config --connect for Telegram, against a local fake Bot API (the same HTTP+JSON as Telegram)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_bot_api import TOKEN, FakeBotApi
from tests.test_cli import run


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    api = FakeBotApi()
    api.start()
    yield api
    api.close()


def _config(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(f'[telegram]\nenabled = true\ntoken_env = "MBX_TG_TOKEN"\nallowed_chat_ids = [42]\n'
                    f'api_base_url = "{base_url}"\n')
    return path


def test_connect_reports_the_bot(fake_api: FakeBotApi, tmp_path: Path, isolated_env: dict[str, str]) -> None:
    done = run("check-config", "--connect", "--config", str(_config(tmp_path, fake_api.base_url)),
               env={**isolated_env, "MBX_TG_TOKEN": TOKEN})
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"telegram: bot @mentorbox_test_bot (id 123456789) answers at {fake_api.base_url}" in done.stdout
    assert [method for method, _ in fake_api.calls] == ["getMe", "getMe", "getUpdates"]
    assert TOKEN not in done.stdout + done.stderr


def test_connect_lists_the_chats_that_wrote_to_the_bot(fake_api: FakeBotApi, tmp_path: Path,
                                                       isolated_env: dict[str, str]) -> None:
    """How a new owner finds their chat id: send /start to the bot, run check-config --connect."""
    fake_api.inject_message("/start", 777001)
    done = run("check-config", "--connect", "--config", str(_config(tmp_path, fake_api.base_url)),
               env={**isolated_env, "MBX_TG_TOKEN": TOKEN})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "telegram: chat 777001 (Someone) wrote to the bot — not in telegram.allowed_chat_ids" in done.stdout
    polls = [p for method, p in fake_api.calls if method == "getUpdates"]
    assert polls and "offset" not in polls[0], "nothing is confirmed: the daemon still gets the update"


def test_rejected_token_is_reported_without_the_token(fake_api: FakeBotApi, tmp_path: Path,
                                                      isolated_env: dict[str, str]) -> None:
    wrong = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    done = run("check-config", "--connect", "--config", str(_config(tmp_path, fake_api.base_url)),
               env={**isolated_env, "MBX_TG_TOKEN": wrong})
    assert done.returncode == 1
    assert "telegram: the Bot API rejected the token" in done.stdout
    assert wrong not in done.stdout + done.stderr and "ZZHdq" not in done.stdout + done.stderr


def test_unreachable_bot_api(tmp_path: Path, isolated_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run("check-config", "--connect", "--config", str(_config(tmp_path, f"http://127.0.0.1:{port}/bot")),
               env={**isolated_env, "MBX_TG_TOKEN": TOKEN})
    assert done.returncode == 1
    assert "telegram: Bot API at http://127.0.0.1" in done.stdout and TOKEN not in done.stdout + done.stderr


def test_a_strangers_chat_name_is_shown_as_text(fake_api: FakeBotApi, tmp_path: Path,
                                                isolated_env: dict[str, str]) -> None:
    """Given a stranger whose Telegram name carries an escape sequence and a newline with a forged check line,
    when check-config --connect lists the chats, then the name is one visible line and nothing is forged."""
    fake_api.inject_message("/start", 777002, first_name="Eve\x1b]0;pwned\x07\n  ok    all checks passed")
    done = run("check-config", "--connect", "--config", str(_config(tmp_path, fake_api.base_url)),
               env={**isolated_env, "MBX_TG_TOKEN": TOKEN})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout
    assert "telegram: chat 777002 (Eve␛]0;pwned␇␊  ok    all checks passed) wrote to the bot" in done.stdout
    assert not any(line.startswith("  ok    all checks passed") for line in done.stdout.splitlines())
