"""The Telegram side: pushes from the outbox, the owner's commands and buttons, the watchdog.

It runs in its own thread with its own asyncio loop, in the same process as the IMAP workers, and shares
nothing with them but the state store and two thread-safe objects (:class:`~bot.health.Health` and the
``paused`` event). So a Telegram outage never slows triage: workers record what is to be pushed in the
outbox and go on; this side delivers it when it can.

Delivery semantics (the outbox row is claimed before the send and completed after it):

* connection refused, 429 (``RetryAfter``) and 5xx mean *not delivered*: retried later, not marked;
* a send that *timed out* may have been delivered and Telegram cannot be asked: it is retried and the
  retry is marked "possible repeat" — the only case in which the owner can see a push twice;
* a crash between send and completion leaves the row claimed: on restart it is sent again, marked too.

Only chats in ``telegram.allowed_chat_ids`` are served. Every update passes one gate (a ``TypeHandler``
in group -1 that stops the rest), because a ``CallbackQueryHandler`` has no chat filter; only messages and
callback queries are polled (edited messages would re-run old commands). Button data is parsed strictly
and must belong to the card it was pressed on.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot import tgformat as fmt
from bot.backoff import Backoff
from bot.config import Config
from bot.durations import parse_duration
from bot.health import Health, evaluate, transitions
from bot.housekeeping import DRAFT_TEXT_DAYS, digest_text
from bot.models import LABELS
from bot.parser import parse_mail
from bot.promises import extract_promises
from bot.recipient import draft_recipient, redirected, warning
from bot.store import Store
from classifier.artifact import ModelStore

log = logging.getLogger("mentorbox.telegram")

# PTB 22 warns that RetryAfter.retry_after becomes a timedelta in its next major version; opt in now (this
# module handles both) so the owner's log is not left with a deprecation warning at every rate limit.
os.environ.setdefault("PTB_TIMEDELTA", "1")

POLL_TIMEOUT = 10
"""Seconds a getUpdates long poll is held open by the server."""
ALLOWED_UPDATES = ["message", "callback_query"]
SEND_RETRY = (1.0, 30.0)
REFUSAL_INTERVAL = 3600.0
"""A stranger gets at most one polite refusal per hour (and nothing else, ever)."""


class PollClock(HTTPXRequest):
    """The request object used for getUpdates, remembering when a poll last came back.

    A getUpdates that hangs is retried by PTB silently (no error callback): this timestamp is how the
    watchdog notices and restarts polling.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_ok = time.monotonic()

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Perform the request; a completed answer (any status) proves the poll loop is alive."""
        result = await super().do_request(*args, **kwargs)
        self.last_ok = time.monotonic()
        return result


@dataclass
class TelegramOptions:
    """Timing knobs (tests shorten them)."""

    poll_timeout: int = POLL_TIMEOUT
    watch_interval: float = 30.0
    stall_after: float = POLL_TIMEOUT + 45.0
    """Seconds without a completed getUpdates before polling is restarted."""
    read_timeout: float = 15.0
    connect_timeout: float = 5.0
    send_retry: tuple[float, float] = SEND_RETRY
    startup_retry: tuple[float, float] = (1.0, 60.0)


def _markup(buttons: fmt.Buttons | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                 for row in buttons])


def _retry_after_seconds(exc: RetryAfter) -> float:
    value: Any = exc.retry_after
    return float(value.total_seconds() if hasattr(value, "total_seconds") else value)


class TelegramService:
    """The bot: owns a PTB Application and a store connection, both used only from its own thread."""

    def __init__(self, config: Config, health: Health, paused: threading.Event, stop: threading.Event, *,
                 token: str, clock: Callable[[], float] = time.time, options: TelegramOptions | None = None,
                 on_pause: Callable[[bool], None] | None = None) -> None:
        self.config = config
        self.health = health
        self.paused = paused
        self.stop = stop
        self.clock = clock
        self.options = options or TelegramOptions()
        self.allowed = frozenset(config.telegram.allowed_chat_ids)
        self._token = token
        self._on_pause = on_pause
        self.store: Store | None = None
        self.app: Application | None = None  # type: ignore[type-arg]
        self.poll_clock: PollClock | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self._wake: asyncio.Event | None = None
        self._refused: dict[int, float] = {}
        self._retraining = False
        self.thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> threading.Thread:
        """Run the bot in a daemon thread; returns the thread."""
        self.thread = threading.Thread(target=self._thread_main, name="telegram", daemon=True)
        self.thread.start()
        return self.thread

    def _thread_main(self) -> None:
        try:
            asyncio.run(self.main())
        except Exception:
            log.exception("the Telegram side stopped by an unexpected error (mail triage goes on)")

    def wake(self) -> None:
        """Thread-safe: something was added to the outbox, deliver it now rather than at the next tick."""
        loop, event = self.loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # the loop is shutting down

    def alert_now(self, text: str, *, timeout: float = 10.0) -> bool:
        """Thread-safe: send ``text`` (HTML) to every allowed chat now and wait for it, at most ``timeout``
        seconds; whether it went out. Not through the outbox: it tells the owner that mentorbox stops, and
        the state store that holds the outbox may be what failed."""
        self.ready.wait(timeout)  # (a fault at start-up comes before the bot has connected)
        loop, app = self.loop, self.app
        if loop is None or app is None or loop.is_closed() or not self.ready.is_set():
            log.warning("the owner could not be told on Telegram: the bot is not connected")
            return False

        async def send() -> None:
            for chat in sorted(self.allowed):
                await app.bot.send_message(chat, text, parse_mode=ParseMode.HTML)

        try:
            asyncio.run_coroutine_threadsafe(send(), loop).result(timeout)
        except Exception as exc:  # noqa: BLE001 - best effort: the log line has said it already
            log.warning("the owner could not be told on Telegram: %s", exc)
            return False
        return True

    def _build(self) -> Application:  # type: ignore[type-arg]
        base = self.config.telegram.api_base_url
        file_base = base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
        o = self.options
        self.poll_clock = PollClock(connect_timeout=o.connect_timeout, read_timeout=o.poll_timeout + o.read_timeout)
        app = (ApplicationBuilder().token(self._token).base_url(base).base_file_url(file_base)
               .request(HTTPXRequest(connect_timeout=o.connect_timeout, read_timeout=o.read_timeout,
                                     write_timeout=o.read_timeout, connection_pool_size=8))
               .get_updates_request(self.poll_clock)
               .rate_limiter(AIORateLimiter(max_retries=3))
               .build())
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        commands: dict[str, Callable[..., Any]] = {
            "start": self._help, "help": self._help, "status": self._status, "leads": self._leads,
            "pending": self._pending, "show": self._show, "draft": self._draft, "label": self._label,
            "done": self._done, "snooze": self._snooze, "pause": self._pause, "resume": self._resume,
            "retrain": self._retrain, "digest": self._digest,
        }
        for name, handler in commands.items():
            app.add_handler(CommandHandler(name, handler))
        app.add_handler(MessageHandler(filters.Regex(r"^/(show|draft)_(\d{1,12})(@\w+)?$"), self._shortcut))
        app.add_handler(MessageHandler(filters.ALL, self._unknown))
        app.add_handler(CallbackQueryHandler(self._on_callback))
        app.add_error_handler(self._on_error)
        return app

    async def main(self, *, flush_only: bool = False) -> None:
        """Connect (retrying with back-off while the Bot API is unreachable), poll, deliver, watch.

        ``flush_only`` (``mentorbox run --once``): connect once, deliver what the outbox holds, and return;
        whatever cannot be delivered now stays queued for the next run.
        """
        self.loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self.store = Store(self.config.store.path, clock=self.clock)
        app = self.app = self._build()
        startup = Backoff(*self.options.startup_retry)
        try:
            while not self.stop.is_set():
                try:
                    await app.initialize()
                    break
                except InvalidToken:
                    log.error("Telegram rejected the bot token (check telegram.token_*); retrying in 10 min")
                    if flush_only:
                        return
                    await self._sleep(600)
                except (NetworkError, TelegramError) as exc:
                    if flush_only:
                        log.warning("Telegram Bot API unreachable (%s): pushes wait for the next run", exc)
                        return
                    delay = startup.next()
                    log.warning("Telegram Bot API unreachable at start-up (%s); retrying in %.0f s", exc, delay)
                    await self._sleep(delay)
            if self.stop.is_set():
                return
            if flush_only:
                await self._flush()
                return
            try:
                await app.bot.set_my_commands([BotCommand(n, d) for n, d in fmt.COMMANDS])
            except TelegramError as exc:
                log.warning("could not register the command list (setMyCommands): %s", exc)
            await app.start()
            await self._start_polling()
            self.ready.set()
            log.info("Telegram bot connected as @%s; serving %d chat(s)", app.bot.username, len(self.allowed))
            tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._watch_loop())]
            while not self.stop.is_set():
                await asyncio.sleep(0.2)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
        finally:
            try:
                await app.shutdown()
            except Exception:  # noqa: BLE001 - best effort at exit (the API may be down)
                log.debug("shutdown of the Telegram application failed", exc_info=True)
            self.store.close()
            self.loop = None

    async def _start_polling(self) -> None:
        assert self.app is not None and self.app.updater is not None
        if self.poll_clock is not None:
            self.poll_clock.last_ok = time.monotonic()
        await self.app.updater.start_polling(timeout=self.options.poll_timeout, poll_interval=0,
                                             allowed_updates=ALLOWED_UPDATES, bootstrap_retries=-1,
                                             error_callback=self._poll_error)

    @staticmethod
    def _poll_error(exc: TelegramError) -> None:
        # Called by PTB for each failed getUpdates (it retries by itself, backing off to 30 s).
        log.warning("Telegram polling failed: %s (retrying)", exc)

    async def _sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self.stop.is_set() and time.monotonic() < end:
            await asyncio.sleep(min(0.2, end - time.monotonic()))

    # ------------------------------------------------------------------ the gate

    async def _gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let the owner's chats through; stop everything else here, before any handler runs."""
        chat, user = update.effective_chat, update.effective_user
        if chat is not None and chat.id in self.allowed and (
                chat.type != "private" or (user is not None and user.id == chat.id)):
            return  # the owner's chat (in a private chat, the owner themself)
        log.warning("refused an update from chat %s (user %s): not in telegram.allowed_chat_ids",
                    chat.id if chat else "?", user.id if user else "?")
        if update.callback_query is not None:
            try:
                await update.callback_query.answer()
            except TelegramError:
                pass
        elif update.message is not None and chat is not None and chat.type == "private":
            now = time.monotonic()
            last = self._refused.get(chat.id)
            if last is None or now - last > REFUSAL_INTERVAL:
                self._refused[chat.id] = now
                if len(self._refused) > 10_000:
                    self._refused.clear()
                try:
                    await update.message.reply_text("Sorry, this is a private bot.")
                except TelegramError:
                    pass
        raise ApplicationHandlerStop

    # ------------------------------------------------------------------ replies

    async def _reply(self, update: Update, text: str, buttons: fmt.Buttons | None = None,
                     card: str | None = None) -> None:
        """Send ``text`` (HTML, split below the limit) to the chat of ``update``; buttons on the last piece."""
        chat = update.effective_chat
        assert chat is not None and self.store is not None and self.app is not None
        pieces = fmt.split_message(text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            sent = await self.app.bot.send_message(chat.id, piece, parse_mode=ParseMode.HTML,
                                                   reply_markup=_markup(buttons) if last else None,
                                                   disable_web_page_preview=True)
            if last and card:
                self.store.add_card(chat.id, sent.message_id, card)

    def _row_arg(self, context: ContextTypes.DEFAULT_TYPE) -> int | None:
        args = context.args or []
        if not args:
            return None
        text = args[0].lstrip("#")
        return int(text) if text.isdigit() and len(text) <= 12 else None

    def _render(self, row_id: int, what: str) -> tuple[str, fmt.Buttons] | None:
        assert self.store is not None
        row = self.store.get(row_id)
        if row is None or row["label"] is None:
            return None
        lead = self.store.lead_by_message(row_id)
        promise = ""
        if what == "nudge-promise":
            promise = self._promise_sentence(row)
        return fmt.card(dict(row), dict(lead) if lead is not None else None, what=what,
                        has_draft=self.store.has_draft(row_id), promise=promise, recipient=self._recipient(row_id))

    def _recipient(self, row_id: int) -> str:
        """The To of a message's draft, read from the draft itself ("" without one, or once its text is
        dropped)."""
        assert self.store is not None
        item = self.store.draft_of(row_id)
        raw = item.payload.get("message") if item is not None else None
        return draft_recipient(raw) if isinstance(raw, bytes) else ""

    @staticmethod
    def _promise_sentence(row: Any) -> str:
        try:
            ref = datetime.fromisoformat(row["date"]).date() if row["date"] else None
        except ValueError:
            ref = None
        found = extract_promises(row["body"] or "", ref) if ref else []
        return fmt.short(found[0].sentence, 200) if found else ""

    # ------------------------------------------------------------------ commands

    async def _help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, fmt.HELP)

    async def _status(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.store is not None
        now = self.clock()
        snapshot = self.health.snapshot()
        problems = [p.text for p in self._problems(now)]
        folders = []
        stored = self.store.folders()
        for account in self.config.accounts:
            for folder in account.folders:
                where = f"{account.name}/{folder}"
                h = snapshot.get(where)
                row = stored.get((account.name, folder))
                last_ok = h.last_ok if h and h.last_ok else (row["last_sync"] if row else None)
                _, failed = self.store.folder_summary(account.name, folder)
                folders.append({"where": where, "last_ok": last_ok, "error": h.error if h else "", "failed": failed})
        models = ModelStore(self.config.classifier.model_dir)
        version = models.pointer()["current"] or "none"
        metrics = (models.meta(version).get("metrics") or {}).get("held_out") or {} if version != "none" else {}
        await self._reply(update, fmt.status_text(
            now=now, paused=self.paused.is_set(), folders=folders, counts=self.store.counts_by_label(),
            leads=self.store.open_leads(), outbox=self.store.outbox_counts(), model=version, metrics=metrics,
            problems=problems))

    async def _leads(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.store is not None
        await self._reply(update, fmt.leads_text([dict(r) for r in self.store.leads()], self.clock()))

    async def _pending(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.store is not None
        await self._reply(update, fmt.pending_text(self.store.drafts_waiting(), [dict(r) for r in self.store.recent(10)]))

    async def _show(self, update: Update, context: ContextTypes.DEFAULT_TYPE, row_id: int | None = None) -> None:
        row_id = row_id if row_id is not None else self._row_arg(context)
        if row_id is None:
            await self._reply(update, "Usage: /show ID (the number after # in a push or in /leads)")
            return
        rendered = self._render(row_id, "show")
        if rendered is None:
            await self._reply(update, f"No message #{row_id}.")
            return
        text, buttons = rendered
        await self._reply(update, text, buttons, card=f"m:{row_id}")

    async def _draft(self, update: Update, context: ContextTypes.DEFAULT_TYPE, row_id: int | None = None) -> None:
        row_id = row_id if row_id is not None else self._row_arg(context)
        if row_id is None:
            await self._reply(update, "Usage: /draft ID")
            return
        await self._reply(update, self._draft_text(row_id))

    def _draft_text(self, row_id: int) -> str:
        assert self.store is not None
        item = self.store.draft_of(row_id)
        if item is None:
            return f"No draft for #{row_id}."
        if "message" not in item.payload:  # dropped from the store after DRAFT_TEXT_DAYS
            return (f"📝 The draft for #{row_id} is in your Drafts folder; mentorbox keeps a draft's text only for "
                    f"{DRAFT_TEXT_DAYS} days after putting it there.")
        raw = item.payload["message"]
        mail = parse_mail(raw)
        where = "in Drafts" if item.state == "done" else "waiting to be put in Drafts"
        to = draft_recipient(raw)  # (the draft's From is the owner: what the owner must check is where it goes)
        row = self.store.get(row_id)
        alarm = ""
        if to and row is not None and redirected(to, str(row["address"] or "")):
            alarm = f"<b>{fmt.esc(warning(fmt.short(to, 300)))}</b>\n"
        return (f"📝 <b>Draft for #{row_id}</b> ({where})\n<b>To:</b> {fmt.esc(fmt.short(to, 300) or '(nobody)')}\n"
                f"{alarm}<b>Subject:</b> {fmt.esc(fmt.short(mail.subject, 300))}\n\n{fmt.esc(mail.text.strip())}")

    async def _shortcut(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        match = context.matches[0] if context.matches else None
        if match is None:
            return
        row_id = int(match.group(2))
        if match.group(1) == "show":
            await self._show(update, context, row_id)
        else:
            await self._draft(update, context, row_id)

    async def _label(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        row_id = self._row_arg(context)
        args = context.args or []
        label = args[1].lower().replace(" ", "_") if len(args) > 1 else ""
        if row_id is None or label not in LABELS:
            await self._reply(update, "Usage: /label ID LABEL, with LABEL one of " + ", ".join(LABELS))
            return
        await self._reply(update, self._relabel(row_id, label))

    def _relabel(self, row_id: int, label: str) -> str:
        assert self.store is not None
        try:
            old = self.store.correct(row_id, label)
        except KeyError:
            return f"No message #{row_id}."
        waiting = len(self.store.feedback())
        log.info("relabelled from Telegram", extra={"row": row_id, "label": label})
        return (f"🏷 #{row_id}: {fmt.esc((old or 'unlabelled').replace('_', ' '))} → "
                f"<b>{fmt.esc(label.replace('_', ' '))}</b>. {waiting} correction(s) so far; /retrain learns "
                f"from them.")

    async def _done(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.store is not None
        row_id = self._row_arg(context)
        if row_id is None:
            await self._reply(update, "Usage: /done ID")
            return
        ok = self.store.mark_done(row_id)
        await self._reply(update, f"✅ #{row_id} is done." if ok else f"No message #{row_id}.")

    async def _snooze(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        row_id = self._row_arg(context)
        args = context.args or []
        seconds = parse_duration("".join(args[1:])) if len(args) > 1 else None
        if row_id is None or seconds is None:
            await self._reply(update, "Usage: /snooze ID DURATION, e.g. /snooze 12 2d (m, h, d, w; up to a year)")
            return
        await self._reply(update, self._do_snooze(row_id, seconds))

    def _do_snooze(self, row_id: int, seconds: int) -> str:
        assert self.store is not None
        until = self.clock() + seconds
        if not self.store.snooze(row_id, until):
            return f"#{row_id} is not a lead: only leads can be snoozed (/done it instead)."
        when = datetime.fromtimestamp(until).strftime("%a %d %b %H:%M")
        return f"💤 #{row_id} snoozed until {when}; it will be pushed again then."

    async def _pause(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._set_paused(True)
        await self._reply(update, "⏸ Paused: no new mail is processed until /resume (mail stays on the server).")

    async def _resume(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self._set_paused(False)
        await self._reply(update, "▶️ Resumed: catching up with what arrived meanwhile.")

    def _set_paused(self, paused: bool) -> None:
        assert self.store is not None
        self.store.set_setting("paused", "1" if paused else "0")
        if paused:
            self.paused.set()
        else:
            self.paused.clear()
        if self._on_pause is not None:
            self._on_pause(paused)
        log.info("processing %s from Telegram", "paused" if paused else "resumed")

    async def _digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert self.store is not None
        await self._reply(update, fmt.esc(digest_text(self.store, self.clock())))

    async def _retrain(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if self._retraining:
            await self._reply(update, "A retrain is already running; its report comes here when it ends.")
            return
        self._retraining = True
        await self._reply(update, "🧠 Retraining in the background (about a minute); the report comes here.")
        try:
            candidate = await asyncio.to_thread(self._train)
        except Exception as exc:  # noqa: BLE001 - report any failure to the owner instead of dying silently
            log.exception("retrain from Telegram failed")
            await self._reply(update, f"Retrain failed: {fmt.esc(type(exc).__name__)}: {fmt.esc(exc)}")
            return
        finally:
            self._retraining = False
        version = candidate.version or ""
        text = (f"<b>Retrain report</b> — new model {fmt.esc(version)}: <b>{fmt.esc(candidate.verdict)}</b> "
                f"({fmt.esc(candidate.why)})\n<pre>{fmt.esc(candidate.report)}</pre>")
        if len(text) > fmt.LIMIT:  # a <pre> block cannot be split safely: keep the summary lines only
            text = text[: text.index("<pre>")] + "\n(full report: mentorbox retrain --dry-run)"
        await self._reply(update, text, fmt.retrain_buttons(version), card=f"r:{version}")

    def _train(self) -> Any:
        from bot.retraining import build_candidate_in_child

        def quiet(text: str) -> None:
            log.info("retrain: %s", text)

        return build_candidate_in_child(self.config, say=quiet)

    # ------------------------------------------------------------------ buttons

    async def _on_callback(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button press: parsed strictly, and only honoured on the card it belongs to."""
        assert self.store is not None
        query = update.callback_query
        if query is None:
            return
        cb = fmt.parse_callback(query.data)
        message = query.message
        ref = self.store.card_ref(message.chat.id, message.message_id) if message is not None else None
        if cb is None or message is None or ref != cb.card:
            log.warning("ignored a button press that does not belong to its message: %r", (query.data or "")[:64])
            await query.answer("This button is not valid.")
            return
        chat_id, message_id = message.chat.id, message.message_id
        if cb.verb in ("ri", "rx"):
            await query.answer()
            await self._model_decision(cb.verb == "ri", cb.ref, chat_id, message_id)
            return
        row_id = int(cb.ref)
        rendered = self._render(row_id, "show")
        if rendered is None:
            await query.answer("That message is gone.")
            return
        text, buttons = rendered
        note = ""
        if cb.verb == "d":
            self.store.mark_done(row_id)
            note, buttons = "✅ Done.", []
        elif cb.verb == "z":
            note = self._do_snooze(row_id, fmt.SNOOZES[cb.arg])
            buttons = [] if self.store.lead_by_message(row_id) is not None else buttons
        elif cb.verb == "r":
            await query.answer()
            await self._edit(chat_id, message_id, None, fmt.label_buttons(row_id))
            return
        elif cb.verb == "b":
            await query.answer()
            await self._edit(chat_id, message_id, None, buttons)
            return
        elif cb.verb == "l":
            note = self._relabel(row_id, cb.arg)
            text, buttons = self._render(row_id, "show") or (text, buttons)
        elif cb.verb == "v":
            await query.answer()
            chat = update.effective_chat
            assert chat is not None
            for piece in fmt.split_message(self._draft_text(row_id)):
                await context.bot.send_message(chat.id, piece, parse_mode=ParseMode.HTML)
            return
        await query.answer(_plain(note)[:190])
        await self._edit(chat_id, message_id, f"{text}\n\n{note}", buttons)

    async def _edit(self, chat_id: int, message_id: int, text: str | None, buttons: fmt.Buttons | None) -> None:
        assert self.app is not None
        try:
            if text is None:
                await self.app.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=_markup(buttons))
            else:
                await self.app.bot.edit_message_text(fmt.split_message(text)[0], chat_id, message_id,
                                                     parse_mode=ParseMode.HTML, reply_markup=_markup(buttons),
                                                     disable_web_page_preview=True)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("could not update a Telegram message: %s", exc)

    async def _model_decision(self, install: bool, version: str, chat_id: int, message_id: int) -> None:
        models = ModelStore(self.config.classifier.model_dir)
        if install:
            try:
                models.install(version)
            except Exception as exc:  # noqa: BLE001 - tell the owner what went wrong
                await self._edit(chat_id, message_id, f"Could not install {fmt.esc(version)}: {fmt.esc(exc)}", None)
                return
            log.info("model %s installed from Telegram", version)
            note = f"✅ Installed model {fmt.esc(version)} (undo: mentorbox retrain --rollback)."
        else:
            note = f"🗑 Discarded: model {fmt.esc(version)} stays saved but is not used."
        await self._edit(chat_id, message_id, note, None)

    async def _unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._reply(update, "I did not understand that. /help lists what I can do.")

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        exc = context.error
        if isinstance(exc, NetworkError):
            log.warning("Telegram request failed: %s", exc)
        else:
            log.error("error in a Telegram handler: %s", exc, exc_info=exc)

    # ------------------------------------------------------------------ outbox delivery

    async def _send_loop(self) -> None:
        assert self.store is not None and self._wake is not None
        backoff = Backoff(*self.options.send_retry)
        while not self.stop.is_set():
            items = self.store.due(["telegram"], limit=20)
            if not items:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), 1.0)
                except TimeoutError:
                    pass
                continue
            for item in items:
                try:
                    outcome = await self._deliver(item, backoff)
                except Exception:  # noqa: BLE001 - one bad item must not stop every later push
                    log.exception("could not deliver outbox item %d; retrying it in 5 min", item.id)
                    self.store.retry_later(item.id, "unexpected error (see the log)", 300, max_attempts=5)
                    continue
                if outcome == "down":
                    await self._sleep(backoff.next())
                    break
                backoff.reset()

    async def _flush(self) -> None:
        """Deliver everything due now, once; stop at the first sign that Telegram is down."""
        assert self.store is not None
        backoff = Backoff(*self.options.send_retry)
        seen: set[int] = set()
        while True:
            items = [i for i in self.store.due(["telegram"], limit=50) if i.id not in seen]
            if not items:
                return
            for item in items:
                seen.add(item.id)
                if await self._deliver(item, backoff) == "down":
                    left = len(self.store.due(["telegram"], limit=10_000))
                    log.warning("Telegram is not answering: %d push(es) wait for the next run", left)
                    return

    async def _deliver(self, item: Any, backoff: Any) -> str:
        """Send one outbox item: ``sent``, ``skipped``, ``failed`` (bad request) or ``down`` (retry later)."""
        assert self.store is not None and self.app is not None
        uncertain = item.uncertain or item.state == "claimed"  # claimed: we crashed mid-send last time
        self.store.claim(item.id)
        payload = item.payload
        chat = int(payload.get("chat_id", 0))
        if chat not in self.allowed:
            self.store.complete(item.id, "skipped: chat not in telegram.allowed_chat_ids")
            return "skipped"
        what = str(payload.get("what", "text"))
        card: str | None = None
        if what == "text":
            text, buttons = str(payload.get("text", "")), None
        else:
            row_id = item.message_row
            rendered = self._render(int(row_id), what) if row_id else None
            if rendered is None:
                self.store.complete(item.id, "skipped: message not found")
                return "skipped"
            text, buttons = rendered
            card = f"m:{row_id}"
        if uncertain:
            text = fmt.possible_repeat(text)
        pieces = fmt.split_message(text)
        try:
            sent = None
            for i, piece in enumerate(pieces):
                last = i == len(pieces) - 1
                sent = await self.app.bot.send_message(chat, piece, parse_mode=ParseMode.HTML,
                                                       reply_markup=_markup(buttons) if last else None,
                                                       disable_web_page_preview=True)
        except RetryAfter as exc:
            delay = _retry_after_seconds(exc)
            self.store.retry_later(item.id, f"rate limited: retry after {delay:.0f} s", delay)
            log.warning("Telegram rate limit: waiting %.0f s", delay)
            return "down"
        except TimedOut as exc:
            self.store.retry_later(item.id, f"timed out (may have been delivered): {exc}", 0, uncertain=True)
            log.warning("a Telegram send timed out; it will be resent marked as a possible repeat")
            return "down"
        except (BadRequest, Forbidden) as exc:
            state = self.store.retry_later(item.id, f"refused by Telegram: {exc}", 300, max_attempts=3)
            log.error("Telegram refused a message to chat %s: %s%s", chat, exc,
                      " (given up)" if state == "failed" else " (will retry)")
            return "failed"
        except InvalidToken as exc:
            self.store.retry_later(item.id, f"token rejected: {exc}", 600)
            log.error("Telegram rejected the bot token")
            return "down"
        except NetworkError as exc:
            self.store.retry_later(item.id, f"not delivered: {exc}", 0)
            log.warning("Telegram unreachable (%s); the push waits in the outbox", exc)
            return "down"
        assert sent is not None
        if card:
            self.store.add_card(chat, sent.message_id, card)
        self.store.complete(item.id, str(sent.message_id))
        if item.message_row and what in ("lead", "wake"):
            self.store.lead_notified(int(item.message_row))
        log.info("pushed to Telegram", extra={"what": what, "row": item.message_row, "repeat": uncertain})
        return "sent"

    # ------------------------------------------------------------------ watchdog

    def _problems(self, now: float) -> list[Any]:
        w = self.config.watchdog
        return evaluate(self.health.snapshot(), now, stale_minutes=w.stale_minutes,
                        failing_messages=w.failing_messages, token_warning_minutes=w.token_warning_minutes,
                        paused=self.paused.is_set())

    async def _watch_loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.watch_once()
                await self._check_polling()
            except Exception:  # noqa: BLE001 - the watchdog itself must keep running
                log.exception("watchdog check failed")
            await self._sleep(self.options.watch_interval)

    def watch_once(self) -> None:
        """Announce new problems and recoveries (once each), through the outbox."""
        assert self.store is not None
        now = self.clock()
        problems = self._problems(now)
        active = set(json.loads(self.store.setting("watchdog.active", "[]")))
        new, recovered = transitions(active, problems)
        stamp = int(now)
        for problem in new:
            log.warning("watchdog: %s", problem.text)
            self._enqueue_text(f"alert:{problem.key}:{stamp}", f"⚠️ <b>mentorbox problem</b>\n{fmt.esc(problem.text)}")
        for key in recovered:
            log.info("watchdog: recovered: %s", key)
            self._enqueue_text(f"recovered:{key}:{stamp}", f"✅ <b>Recovered</b>: {fmt.esc(_describe(key))}")
        if new or recovered:
            self.store.set_setting("watchdog.active", json.dumps(sorted(p.key for p in problems)))
            self.wake()

    def _enqueue_text(self, key: str, text: str) -> None:
        assert self.store is not None
        for chat in sorted(self.allowed):
            self.store.enqueue("telegram", f"tg:{key}:{chat}", {"chat_id": chat, "what": "text", "text": text})

    async def _check_polling(self) -> None:
        app, clock = self.app, self.poll_clock
        if app is None or app.updater is None or clock is None or not app.updater.running:
            return
        stale = time.monotonic() - clock.last_ok
        if stale > self.options.stall_after:
            log.warning("Telegram polling stalled (no answer for %.0f s): restarting it", stale)
            await app.updater.stop()
            await self._start_polling()


def _plain(text: str) -> str:
    """Text for a callback answer (shown as a toast, no HTML)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _describe(key: str) -> str:
    kind, _, where = key.partition(":")
    what = {"auth": "login works again", "idle": "IDLE works again", "stale": "syncing again",
            "failing": "messages are processed again", "token": "the OAuth token is fresh"}.get(kind, kind)
    return f"{where}: {what}"

