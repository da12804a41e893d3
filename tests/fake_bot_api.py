"""A fake Telegram Bot API server for the suite: the real HTTP+JSON protocol on 127.0.0.1.

PTB talks to it through ``telegram.api_base_url`` (PTB's ``base_url``), the same code path as production.
It runs its own asyncio loop in a thread so that tests can drive it synchronously next to a real Dovecot:
inject updates from the owner or from strangers, go down and come back on the same port, answer 429, 5xx
or hang. Like Telegram it validates what it is sent (HTML entities, 4,096 characters, 64-byte callback
data) so that a formatting bug fails a test rather than a push in production.

Wire format PTB 22 uses: ``POST /bot<token>/<method>`` with an urlencoded form in which every non-string
field is JSON-encoded; getUpdates is long polling.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "mentorbox", "username": "mentorbox_test_bot",
            "can_join_groups": False, "can_read_all_group_messages": False, "supports_inline_queries": False}

_HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code", "pre",
              "blockquote", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def html_error(text: str) -> str | None:
    """Telegram's HTML parse_mode validation, roughly: known tags only, balanced, entities escaped."""
    stack: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "<":
            m = _TAG.match(text, i)
            if not m or m.group(2).lower() not in _HTML_TAGS:
                return f"can't parse entities: Unsupported start tag at byte offset {i}"
            name = m.group(2).lower()
            if m.group(1):
                if not stack or stack.pop() != name:
                    return f"can't parse entities: Unexpected end tag at byte offset {i}"
            else:
                stack.append(name)
            i = m.end()
            continue
        if c == "&":
            m = _ENTITY.match(text, i)
            if not m:
                return f"can't parse entities: Unsupported entity at byte offset {i}"
            i = m.end()
            continue
        i += 1
    if stack:
        return f"can't parse entities: Can't find end tag corresponding to start tag {stack[-1]}"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FakeBotApi:
    """The fake server; every public method is synchronous and thread-safe."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.port = _free_port()
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []
        """Every sendMessage the fake accepted (what reached the owner's phone)."""
        self.edits: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.commands: list[Any] = []
        self.fail_next: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        self.hang: dict[str, float] = {}
        """method -> seconds to wait before answering, *after* the call took effect (a lost answer)."""
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update = 1
        self._next_message = 1000
        self._runner: web.AppRunner | None = None
        self.loop = asyncio.new_event_loop()
        self._cond: asyncio.Condition | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="fake-bot-api", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        """What goes in ``telegram.api_base_url``."""
        return f"http://127.0.0.1:{self.port}/bot"

    def _run(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # ------------------------------------------------------------------ up and down

    def start(self) -> None:
        """Listen (again, on the same port)."""
        self._run(self._start())

    async def _start(self) -> None:
        if self._cond is None:
            self._cond = asyncio.Condition()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    def stop(self) -> None:
        """Go down: the port closes and open long polls are cut, as in a real outage."""
        self._run(self._stop())

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def close(self) -> None:
        """Stop for good (end of test): close the port, finish every pending handler, stop the loop."""
        self._run(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    async def _shutdown(self) -> None:
        await self._stop()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ injecting updates

    def inject_message(self, text: str, chat_id: int, *, user_id: int | None = None, chat_type: str = "private",
                       kind: str = "message", first_name: str = "Someone") -> dict[str, Any]:
        """The user of ``chat_id`` (called ``first_name``) writes ``text`` (a command gets its bot_command
        entity)."""
        message: dict[str, Any] = {
            "message_id": self._new_message_id(), "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, "first_name": first_name},
            "from": {"id": user_id or chat_id, "is_bot": False, "first_name": first_name}, "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if kind == "edited_message":
            message["edit_date"] = message["date"]
        return self._run(self._push({kind: message}))

    def inject_callback(self, data: str, message: dict[str, Any], *, user_id: int | None = None) -> dict[str, Any]:
        """Somebody presses a button with ``data`` under ``message`` (as the fake stored it)."""
        chat_id = message["chat"]["id"]
        query = {"id": f"cq{self._next_update}", "chat_instance": f"ci{chat_id}",
                 "from": {"id": user_id or chat_id, "is_bot": False, "first_name": "Someone"},
                 "message": message, "data": data}
        return self._run(self._push({"callback_query": query}))

    async def _push(self, payload: dict[str, Any]) -> dict[str, Any]:
        assert self._cond is not None
        update = {"update_id": self._next_update, **payload}
        self._next_update += 1
        async with self._cond:
            self._updates.append(update)
            self._cond.notify_all()
        return update

    def _new_message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    # ------------------------------------------------------------------ waiting (tests)

    def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def sent_to(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages sent to one chat, in order."""
        return [m for m in list(self.sent) if int(m["chat_id"]) == chat_id]

    def count(self, method: str) -> int:
        """How many times ``method`` was called."""
        return sum(1 for m, _ in list(self.calls) if m == method)

    def stored(self, chat_id: int, text_part: str) -> dict[str, Any]:
        """The last message the bot sent to ``chat_id`` containing ``text_part`` (as a Message object)."""
        found = [m for (chat, _), m in sorted(self.messages.items()) if chat == chat_id and text_part in m["text"]]
        assert found, f"no message to {chat_id} containing {text_part!r}"
        return found[-1]

    # ------------------------------------------------------------------ HTTP

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            raw.update(await request.json())
        elif request.can_read_body:
            raw.update(await request.post())
        out = {}
        for key, value in raw.items():
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out[key] = value
        return out

    @staticmethod
    def _ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _err(code: int, description: str, **parameters: Any) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=code)

    async def _dispatch(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._err(401, "Unauthorized")
        params = await self._params(request)
        self.calls.append((method, params))
        if self.fail_next.get(method):
            status, body = self.fail_next[method].pop(0)
            return web.json_response(body, status=status)
        handler = getattr(self, "m_" + method, None)
        if handler is None:
            return self._err(404, "Not Found")
        response = await handler(params)
        if self.hang.get(method):  # the call took effect, but its answer comes too late (or never)
            await asyncio.sleep(self.hang[method])
        return response

    # ------------------------------------------------------------------ methods

    async def m_getMe(self, p: dict[str, Any]) -> web.Response:
        return self._ok(BOT_USER)

    async def m_deleteWebhook(self, p: dict[str, Any]) -> web.Response:
        return self._ok(True)

    async def m_setMyCommands(self, p: dict[str, Any]) -> web.Response:
        self.commands = p.get("commands", [])
        return self._ok(True)

    async def m_getMyCommands(self, p: dict[str, Any]) -> web.Response:
        return self._ok(self.commands)

    async def m_close(self, p: dict[str, Any]) -> web.Response:
        return self._ok(True)

    m_logOut = m_close

    async def m_getUpdates(self, p: dict[str, Any]) -> web.Response:
        assert self._cond is not None
        offset, timeout = int(p.get("offset") or 0), float(p.get("timeout") or 0)
        limit = int(p.get("limit") or 100)
        allowed = set(p.get("allowed_updates") or ())
        deadline = time.monotonic() + timeout
        async with self._cond:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset
                                 and (not allowed or allowed & set(u))]
                left = deadline - time.monotonic()
                if self._updates or left <= 0:
                    return self._ok(self._updates[:limit])
                try:
                    await asyncio.wait_for(self._cond.wait(), left)
                except TimeoutError:
                    pass

    def _check(self, p: dict[str, Any], *, text_required: bool = True) -> web.Response | None:
        text = p.get("text")
        if text_required and (not text or not str(text).strip()):
            return self._err(400, "Bad Request: message text is empty")
        if text is not None and len(str(text).encode("utf-16-le", "surrogatepass")) // 2 > 4096:  # UTF-16 units
            return self._err(400, "Bad Request: message is too long")
        if text is not None and p.get("parse_mode") == "HTML":
            problem = html_error(str(text))
            if problem:
                return self._err(400, "Bad Request: " + problem)
        for row in (p.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if "callback_data" in button and not 1 <= len(button["callback_data"].encode()) <= 64:
                    return self._err(400, "Bad Request: BUTTON_DATA_INVALID")
        return None

    async def m_sendMessage(self, p: dict[str, Any]) -> web.Response:
        if "chat_id" not in p:
            return self._err(400, "Bad Request: chat_id is empty")
        problem = self._check(p)
        if problem is not None:
            return problem
        chat_id = int(p["chat_id"])
        message = {"message_id": self._new_message_id(), "date": int(time.time()),
                   "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                   "from": BOT_USER, "text": str(p["text"])}
        if "reply_markup" in p:
            message["reply_markup"] = p["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        self.sent.append(p)
        return self._ok(message)

    async def m_editMessageText(self, p: dict[str, Any]) -> web.Response:
        return self._edit(p, text=True)

    async def m_editMessageReplyMarkup(self, p: dict[str, Any]) -> web.Response:
        return self._edit(p, text=False)

    def _edit(self, p: dict[str, Any], *, text: bool) -> web.Response:
        """editMessageText / editMessageReplyMarkup: like Telegram, refuse an unknown or unchanged message."""
        problem = self._check(p, text_required=text)
        if problem is not None:
            return problem
        message = self.messages.get((int(p["chat_id"]), int(p["message_id"])))
        if message is None:
            return self._err(400, "Bad Request: message to edit not found")
        if text:
            if message["text"] == str(p["text"]) and message.get("reply_markup") == p.get("reply_markup"):
                return self._err(400, "Bad Request: message is not modified")
            message["text"] = str(p["text"])
        message.pop("reply_markup", None)
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        self.edits.append(p)
        return self._ok(message)

    async def m_answerCallbackQuery(self, p: dict[str, Any]) -> web.Response:
        if "callback_query_id" not in p:
            return self._err(400, "Bad Request: query_id is empty")
        self.answers.append(p)
        return self._ok(True)
