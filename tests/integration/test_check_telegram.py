"""check-config --connect for Telegram, against a local fake Bot API (the same HTTP+JSON as Telegram)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.test_cli import run

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


class FakeBotApi:
    """Answers getMe for one token like the Bot API does (401 for any other token)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.loop = asyncio.new_event_loop()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}/bot"

    async def handle(self, request: web.Request) -> web.Response:
        token, _, method = request.match_info["path"].partition("/")
        self.calls.append(method)
        if token != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": 123456789, "is_bot": True, "first_name": "Box",
                                                             "username": "mentorbox_test_bot"}})
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{path:.*}", self.handle)
        runner = web.AppRunner(app)
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(runner.setup())
            self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
            ready.set()
            self.loop.run_forever()
            self.loop.run_until_complete(runner.cleanup())

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        assert ready.wait(10), "fake Bot API did not start"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def fake_api() -> Iterator[FakeBotApi]:
    api = FakeBotApi()
    api.start()
    yield api
    api.stop()


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
    assert fake_api.calls == ["getMe"]
    assert TOKEN not in done.stdout + done.stderr


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
