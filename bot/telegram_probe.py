"""``check-config --connect`` for Telegram: ask the Bot API who the bot is (getMe), and which chats wrote to
it lately (getUpdates without confirming anything, so the daemon still receives them), which is how a new
owner finds the chat id to put in ``telegram.allowed_chat_ids``.

The token goes into the URL of every Bot API call, so errors are redacted before they are raised.
"""

from __future__ import annotations

import asyncio

from bot.config import TelegramConfig
from bot.errors import MentorboxError
from bot.logs import REDACTOR


async def _get_me(token: str, base_url: str) -> str:
    from telegram import Bot
    from telegram.error import InvalidToken, TelegramError

    bot = Bot(token, base_url=base_url)
    try:
        async with bot:  # initialize() calls getMe once and keeps the answer
            me = bot.bot
    except InvalidToken:
        raise MentorboxError("the Bot API rejected the token (check telegram.token_*)") from None
    except TelegramError as exc:
        raise MentorboxError(f"Bot API at {base_url} failed: {REDACTOR.redact(str(exc))}") from None
    return f"bot @{me.username} (id {me.id}) answers at {base_url}"


async def _recent_chats(token: str, base_url: str) -> dict[int, str]:
    """Chats with messages waiting for the bot (empty when the daemon is polling: Telegram allows one poller)."""
    from telegram import Bot
    from telegram.error import TelegramError

    chats: dict[int, str] = {}
    try:
        async with Bot(token, base_url=base_url) as bot:
            for update in await bot.get_updates(timeout=0, allowed_updates=["message"]):
                chat = update.effective_chat
                if chat is not None:
                    chats[chat.id] = chat.full_name or chat.title or chat.type
    except TelegramError:
        return {}
    return chats


def recent_chats(config: TelegramConfig, timeout: float = 20.0) -> dict[int, str]:
    """Chat id -> name of the chats that wrote to the bot lately (best effort, never raises)."""
    try:
        token = config.token.resolve().reveal()
        return asyncio.run(asyncio.wait_for(_recent_chats(token, config.api_base_url), timeout))
    except (MentorboxError, TimeoutError, OSError):
        return {}


def probe_telegram(config: TelegramConfig, timeout: float = 20.0) -> str:
    """Resolve the token, call getMe, and describe the bot; raise :class:`MentorboxError` on failure."""
    token = config.token.resolve().reveal()
    REDACTOR.add(token)
    try:
        return asyncio.run(asyncio.wait_for(_get_me(token, config.api_base_url), timeout))
    except asyncio.TimeoutError:
        raise MentorboxError(f"Bot API at {config.api_base_url} did not answer within {timeout:.0f} s") from None
