"""``check-config --connect`` for Telegram: ask the Bot API who the bot is (getMe), nothing else.

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


def probe_telegram(config: TelegramConfig, timeout: float = 20.0) -> str:
    """Resolve the token, call getMe, and describe the bot; raise :class:`MentorboxError` on failure."""
    token = config.token.resolve().reveal()
    REDACTOR.add(token)
    try:
        return asyncio.run(asyncio.wait_for(_get_me(token, config.api_base_url), timeout))
    except asyncio.TimeoutError:
        raise MentorboxError(f"Bot API at {config.api_base_url} did not answer within {timeout:.0f} s") from None
