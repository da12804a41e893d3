"""The ``mentorbox`` command: parses arguments, calls the library, maps errors to one line and an exit code.

Exit codes: 0 success; 1 a runtime problem (a model, store or server error); 2 bad input (arguments,
config, SOURCE); 130 interrupted. Every :class:`MentorboxError` is printed as one ``mentorbox: error: ...``
line, never as a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bot import __version__
from bot.config import Config, default_config_path, load_config
from bot.errors import MentorboxError, UsageError
from bot.logs import REDACTOR, setup_logging
from bot.safe_text import json_line, one_line, visible

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger("mentorbox")

BATCH = 256


def _say(message: str) -> None:
    """A progress or problem line on stderr; made visible because some quote mail (a subject, a server's
    answer about a message)."""
    print(f"mentorbox: {visible(message)}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- triage


def _policy(config: Config) -> Any:
    from bot.triage import TriagePolicy

    return TriagePolicy(
        unsure_below=config.classifier.unsure_below,
        priority_threshold=config.priority.threshold,
        vips=config.priority.vip,
        draft_labels=config.drafts.labels if config.drafts.enabled else (),
        max_faq=config.drafts.max_faq,
    )


def _drafter(config: Config) -> Any:
    from bot.drafting import Drafter, Owner, shipped_templates_dir

    owner = Owner(config.owner.name, config.owner.address, config.owner.signature)
    return Drafter(config.drafts.templates_dir or shipped_templates_dir(), owner)


def _templates_dir(config: Config) -> Path:
    from bot.drafting import shipped_templates_dir

    return config.drafts.templates_dir or shipped_templates_dir()


def _matcher(config: Config) -> Any:
    from bot.faq import FaqMatcher, load_faq
    from classifier.faq_topics import topic_model

    templates = _templates_dir(config)
    entries = load_faq(templates)
    if not entries:
        return FaqMatcher([])
    return FaqMatcher(entries, topic_model(entries, templates, config.classifier.model_dir, _say))


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _draft_filename(index: int, key: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(key).stem if key.endswith(".eml") else key).strip("._")[:60]
    return f"{index:05d}-{stem or 'message'}.eml"


def _message_limit(config: Config) -> int:
    """How much of one local message is read: the bound the daemon fetches over IMAP (the largest any account
    allows, the default without one), so a 200 MB mail in an mbox costs no more memory offline than online."""
    from bot.config import ImapAccount

    return max((a.max_message_bytes for a in config.accounts), default=ImapAccount().max_message_bytes)


def _parsed(item: Any, parse: Callable[[bytes], Any]) -> Any:
    """``item`` parsed; a message read only in part says so among its defects (it is still triaged)."""
    import dataclasses

    mail = parse(item.raw)
    if item.size > len(item.raw):
        cut = f"message cut at {len(item.raw)} of {item.size} bytes (max_message_bytes)"
        mail = dataclasses.replace(mail, defects=(*mail.defects, cut))
    return mail


def _write_private(path: Path, data: bytes) -> None:
    """Write a draft readable by the owner alone (0600, like the store): it quotes private mail."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)  # (an existing file keeps its mode through O_CREAT)
        fh.write(data)


def triage_rows(config: Config, source: Any, drafts_dir: Path | None = None,
                progress: Callable[[int], None] | None = None) -> Iterator[dict[str, Any]]:
    """Triage every message of a local source (a ``LocalSource``, closed at the end) and yield one output row
    (the jsonl object) per message."""
    from bot.drafting import Owner, build_reply, reply_address
    from bot.parser import parse_mail
    from bot.recipient import redirected
    from bot.triage import decide, needs_faq
    from classifier.manager import ensure_model

    model = ensure_model(config.classifier.model_dir, _say)
    policy, drafter, matcher = _policy(config), _drafter(config), _matcher(config)
    owner = Owner(config.owner.name, config.owner.address, config.owner.signature)
    gaps: list[tuple[str, str, str | None, tuple[str, ...]]] = []
    if drafts_dir is not None:
        try:
            drafts_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # drafts quote private mail
        except OSError as exc:
            raise UsageError(f"--drafts-dir {str(drafts_dir)!r}: {exc.strerror or exc}") from None
    index = 0
    try:
        for chunk in _chunks(iter(source), BATCH):
            mails = [_parsed(m, parse_mail) for m in chunk]
            predictions = _predict_each(model, mails)
            asking = [i for i, p in enumerate(predictions) if p is not None and needs_faq(p)]
            try:
                topics = dict(zip(asking, matcher.topics([mails[i].clean_text for i in asking])))
            except Exception:  # noqa: BLE001 - matched one message at a time in decide()
                log.exception("batch FAQ matching failed")
                topics = {}
            for position, (item, mail, prediction) in enumerate(zip(chunk, mails, predictions)):
                index += 1
                if mail.defects:
                    log.info("message %s has defects: %s", item.key, "; ".join(mail.defects[:5]))
                try:
                    if prediction is None:
                        prediction = model.predict([mail])[0]
                    decision = decide(mail, prediction, policy, drafter, matcher, topics=topics.get(position))
                    draft = build_reply(mail, decision.draft, owner) if drafts_dir and decision.draft else None
                except Exception as exc:  # noqa: BLE001 - one message's failure is its row, never the run's end
                    log.error("message %s failed: %s: %s", item.key, type(exc).__name__, exc)
                    yield _failed_row(item.key, mail, exc)
                    if progress:
                        progress(1)
                    continue
                if decision.unanswered:
                    key = mail.message_id or f"{source.path}#{item.key}"
                    gaps.append((key, mail.sender, mail.date.isoformat() if mail.date else None, decision.unanswered))
                if drafts_dir is not None and draft is not None:
                    _write_private(drafts_dir / _draft_filename(index, item.key), draft)
                recipient = reply_address(mail)
                yield {
                    "source": item.key,
                    "message_id": mail.message_id or None,
                    "from": mail.sender,
                    "recipient": recipient or None,
                    "reply_to": mail.reply_to or None,
                    "replies_elsewhere": redirected(recipient, mail.sender_address),
                    "subject": mail.subject,
                    "label": decision.label,
                    "confidence": decision.confidence,
                    "unsure": decision.unsure,
                    "priority": decision.priority,
                    "reasons": list(decision.reasons),
                    "faq": list(decision.faq),
                    "draft": decision.draft,
                    "error": None,
                }
                if progress:
                    progress(1)
    finally:
        source.close()
        if gaps:
            _keep_gaps(config, gaps)


def _predict_each(model: Any, mails: list[Any]) -> list[Any]:
    """The model's predictions for a batch; ``None`` for each when the batch call failed (then every message
    is classified on its own, so that one bad message fails alone)."""
    try:
        return list(model.predict(mails))
    except Exception:  # noqa: BLE001 - retried one message at a time
        log.exception("batch classification failed; classifying one message at a time")
        return [None] * len(mails)


def _failed_row(key: str, mail: Any, exc: BaseException) -> dict[str, Any]:
    """The row of a message whose triage failed: filed as ``other``, unsure, with the error as its reason."""
    return {
        "source": key, "message_id": mail.message_id or None, "from": mail.sender, "recipient": None,
        "reply_to": mail.reply_to or None, "replies_elsewhere": False, "subject": mail.subject,
        "label": "other", "confidence": 0.0, "unsure": True, "priority": False,
        "reasons": [f"failed: {type(exc).__name__}: {exc}"], "faq": [], "draft": None,
        "error": f"{type(exc).__name__}: {exc}",
    }


def _keep_gaps(config: Config, gaps: list[tuple[str, str, str | None, tuple[str, ...]]]) -> None:
    """Remember unanswered questions in the store (mentorbox's own state; the source is not touched)."""
    from bot.store import Store

    try:
        store = Store(config.store.path)
    except MentorboxError as exc:
        log.warning("unanswered questions not kept: %s", exc)
        return
    try:
        for key, sender, date, questions in gaps:
            store.add_faq_gaps(key, sender, date, questions)
    finally:
        store.close()


def _print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    """The rows as a Rich table. Every cell from mail is a ``Text`` of :func:`one_line`: Rich reads no markup
    in it (a subject ``[/b]`` is shown, not obeyed) and no control character reaches the terminal."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from bot.recipient import warning

    table = Table(title=f"{len(rows)} messages", show_lines=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("label", no_wrap=True)
    table.add_column("conf", justify="right", no_wrap=True)
    table.add_column("!", no_wrap=True)
    table.add_column("from", overflow="ellipsis", max_width=32, no_wrap=True)
    table.add_column("subject", overflow="ellipsis", max_width=40, no_wrap=True)
    table.add_column("why", overflow="ellipsis", max_width=40, no_wrap=True)
    colours = {"congratulation": "green", "advice_request": "cyan", "phd_offer": "magenta",
               "job_lead": "bold yellow", "other": "dim"}
    for i, row in enumerate(rows, 1):
        flags = ("P" if row["priority"] else "") + ("?" if row["unsure"] else "") + \
            ("R" if row.get("replies_elsewhere") else "")
        sender = Text(one_line(row["from"], 200))
        if row.get("replies_elsewhere"):  # the draft's To: under the sender, where the eye already is
            sender.append("\n→ " + one_line(row["recipient"] or "", 200), style="bold red")
        table.add_row(str(i), Text(row["label"], style=colours.get(row["label"], "")), f"{row['confidence']:.2f}",
                      flags, sender, Text(one_line(row["subject"] or "(no subject)", 200)),
                      Text(one_line("; ".join(row["reasons"][:2]), 200)))
    console = Console(file=out, width=None if out.isatty() else 160, highlight=False, markup=True)
    console.print(table)
    elsewhere = [(i, row) for i, row in enumerate(rows, 1) if row.get("replies_elsewhere")]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["label"]] = counts.get(row["label"], 0) + 1
    legend = "P = priority, ? = unsure" + (", R = replies go elsewhere than to the sender" if elsewhere else "")
    console.print(Text("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + f"   ({legend})"))
    if elsewhere:
        n = len(elsewhere)
        console.print(Text(f"⚠ {n} {'reply goes' if n == 1 else 'replies go'} to another address than "
                           f"{'its' if n == 1 else 'their'} sender's (Reply-To): check before sending",
                           style="bold red"))
        for i, row in elsewhere[:20]:
            console.print(Text(f"  #{i}: {warning(one_line(row['recipient'] or '', 300))} "
                               f"({one_line(row['from'], 200)})"))
        if n > 20:
            console.print(f"  ... and {n - 20} more (--format jsonl: replies_elsewhere)")


def cmd_triage(args: argparse.Namespace) -> int:
    """mentorbox triage SOURCE."""
    config = load_config(args.config)
    setup_logging("INFO" if args.verbose else "WARNING")
    from bot.local_source import LocalSource

    # Opened once: an mbox is scanned for its message count here.
    source = LocalSource(args.source, max_bytes=_message_limit(config))
    total = len(source)
    if sys.stderr.isatty() and not args.no_progress and total >= 50:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(stderr=True), redirect_stdout=False,
                      redirect_stderr=False) as bar:
            task = bar.add_task("triaging", total=total)
            rows = _emit(triage_rows(config, source, args.drafts_dir, lambda n: bar.advance(task, n)),
                         args.format)
    else:
        rows = _emit(triage_rows(config, source, args.drafts_dir), args.format)
    if args.format == "table":
        _print_table(rows, sys.stdout)
    return 0


def _emit(rows: Iterator[dict[str, Any]], fmt: str) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    for row in rows:
        if fmt == "jsonl":
            sys.stdout.write(json_line(row) + "\n")
            sys.stdout.flush()
        else:
            kept.append(row)
    return kept


# --------------------------------------------------------------------------- check-config


def cmd_check_config(args: argparse.Namespace) -> int:
    """mentorbox check-config: validate the config, its secrets, templates and paths (and servers)."""
    path = args.config or default_config_path()
    config = load_config(path, required=True)
    problems: list[str] = []

    # (visible: a line may quote what a server or a stranger wrote, e.g. the name of a chat that wrote to the bot)
    def ok(text: str) -> None:
        print(f"  ok    {visible(text)}")

    def bad(text: str) -> None:
        print(f"  FAIL  {visible(text)}")
        problems.append(text)

    print(f"config {config.source}: syntax and values ok")
    for account in config.accounts:
        ref = account.oauth2_token if account.auth == "xoauth2" else account.password
        try:
            ref.resolve()
            ok(f"account {account.name!r}: {ref.key} readable from {ref.describe()}")
        except MentorboxError as exc:
            bad(f"account {account.name!r}: {exc}")
    if config.telegram.enabled:
        try:
            config.telegram.token.resolve()
            ok(f"telegram.token readable from {config.telegram.token.describe()}")
        except MentorboxError as exc:
            bad(str(exc))
    drafter = _drafter(config)
    template_problems = drafter.check()
    try:
        from bot.faq import load_faq

        entries = load_faq(_templates_dir(config))  # validating the file needs no topic model
        ok(f"FAQ {drafter.dir / 'faq.toml'}: {len(entries)} entries")
    except MentorboxError as exc:
        template_problems.append(str(exc))
    for problem in template_problems:
        bad(f"template {problem}")
    if not template_problems:
        ok(f"templates in {drafter.dir}: {len(drafter.template_names())} compiled and rendered")
    for what, target in (("store", config.store.path.parent), ("model dir", config.classifier.model_dir)):
        existing = next((p for p in [target, *target.parents] if p.exists()), None)
        if existing is None or not (existing.is_dir() and os.access(existing, os.W_OK)):
            bad(f"{what} {target}: not writable")
        else:
            ok(f"{what} {target}: writable" + ("" if existing == target else " (it will be created)"))
    if config.store.path.is_file():  # a damaged store opens without complaint: read every page once
        from bot.store import Store

        try:
            with closing(Store(config.store.path)) as store:
                store.check()
            ok(f"store {config.store.path}: a sound database")
        except MentorboxError as exc:
            bad(str(exc))
    if args.connect:
        _check_connect(config, ok, bad)
    if problems:
        print(f"{len(problems)} problem(s) found")
        return 1
    print("all checks passed")
    return 0


def _check_connect(config: Config, ok: Callable[[str], None], bad: Callable[[str], None]) -> None:
    """Log in to every account (and Telegram); each failure goes to ``bad``, which counts it."""
    from bot.imap_source import probe

    for account in config.accounts:
        try:
            result = probe(account)
        except MentorboxError as exc:
            bad(f"account {account.name!r}: {exc}")
            continue
        folders = ", ".join(f"{k} ({v} messages)" for k, v in result.folders.items())
        ok(f"account {account.name!r}: logged in; IDLE {'yes' if 'IDLE' in result.capabilities else 'no'}; "
           f"folders: {folders or 'none'}; drafts: {result.drafts_folder or 'not found'}"
           + (" (does not exist)" if result.drafts_folder in result.missing_folders else ""))
        if result.drafts_folder is None:  # `run` stops at this: it is a failed check, not a remark
            bad(f"account {account.name!r}: no Drafts folder found (none is flagged \\Drafts or named Drafts): "
                f"set drafts_folder (in [imap], or in the account's [[accounts]] entry) to the folder your mail "
                f"program keeps drafts in")
        for fault in result.uid_faults:
            bad(f"account {account.name!r}: {fault}")
        for missing in result.missing_folders:
            bad(f"account {account.name!r}: folder {missing!r} does not exist")
    if config.telegram.enabled:
        from bot.telegram_probe import probe_telegram

        try:
            ok(f"telegram: {probe_telegram(config.telegram)}")
        except MentorboxError as exc:
            bad(f"telegram: {exc}")
        else:
            from bot.telegram_probe import recent_chats

            for chat_id, name in recent_chats(config.telegram).items():
                known = chat_id in config.telegram.allowed_chat_ids
                ok(f"telegram: chat {chat_id} ({name}) wrote to the bot"
                   + ("" if known else " — not in telegram.allowed_chat_ids: add it if it is you"))


def _existing_store(config: Config, missing: str) -> Store | None:
    """The state store, or None after printing ``missing`` when nothing has created it yet (a read-only
    command must not create an empty store as a side effect)."""
    from bot.store import Store

    if not config.store.path.exists():
        print(missing)
        return None
    return Store(config.store.path)


# --------------------------------------------------------------------------- faq-gaps


MAX_GAPS = 5000
"""Questions ``faq-gaps`` groups at most (the newest): enough for the owner's next FAQ entries."""


def cmd_faq_gaps(args: argparse.Namespace) -> int:
    """mentorbox faq-gaps: unanswered questions grouped by similarity, biggest group first."""
    from bot.faq import group_questions

    config = load_config(args.config)
    store = _existing_store(config, "no unanswered questions yet (nothing has been triaged with this store)")
    if store is None:
        return 0
    with closing(store):
        rows = store.faq_gaps()
    if len(rows) > MAX_GAPS:  # (grouping takes time by the square of the questions in the worst case)
        print(f"the newest {MAX_GAPS} of {len(rows)} kept questions:")
        rows = rows[-MAX_GAPS:]
    matcher = _matcher(config)
    # A question the FAQ answers now (an entry was added since) is no longer a gap.
    open_rows = [r for r in rows if not matcher.match(r["question"], limit=1)[0]]
    groups = group_questions([r["question"] for r in open_rows])
    if not groups:
        print(f"no unanswered questions ({len(rows)} kept, all answered by the FAQ now)")
        return 0
    print(f"{len(open_rows)} unanswered questions in {len(groups)} groups (biggest first):\n")
    for rank, group in enumerate(groups[: args.top], 1):
        example = open_rows[group[0]]
        senders = {open_rows[i]["sender"] for i in group}
        print(f"{rank:>3}. {len(group)} question(s) from {len(senders)} sender(s)")
        print(f'     e.g. "{one_line(example["question"], 300)}"')
        if args.all:
            for i in group[1:]:
                print(f'          "{one_line(open_rows[i]["question"], 300)}"')
    if len(groups) > args.top:
        print(f"\n... and {len(groups) - args.top} smaller groups (--top N to see more)")
    print("\nAdd an entry for a group to faq.toml (in your templates dir) and it is answered from then on.")
    return 0


# --------------------------------------------------------------------------- retrain

EXIT_REFUSED = 3
"""``retrain`` trained a model but did not install it because it is worse than the current one."""


def cmd_retrain(args: argparse.Namespace) -> int:
    """mentorbox retrain: train on corpus + corrections + training folders, report, install if not worse."""
    import time

    from bot.retraining import build_candidate
    from classifier.artifact import ModelStore

    config = load_config(args.config)
    models = ModelStore(config.classifier.model_dir)
    if args.rollback:
        if args.dry_run or args.force:
            raise UsageError("--rollback cannot be combined with --dry-run or --force")
        version = models.rollback()
        meta = models.meta(version)
        held = (meta.get("metrics") or {}).get("held_out") or {}
        print(f"rolled back: now using model {version} (held-out macro-F1 {held.get('macro_f1', '?')}); "
              f"the replaced one is kept as previous")
        return 0

    started = time.perf_counter()
    stages = 6  # corpus, corrections, folders, cross-validation, fit, scoring
    stage = iter(range(1, stages + 1))

    def step(text: str) -> None:
        _say(f"[{next(stage, stages)}/{stages}] {text} ({time.perf_counter() - started:.1f} s elapsed)")

    built = build_candidate(config, say=_say, step=step, candidate=args.candidate, save=not args.dry_run)
    report, current_version = built.report, built.current_version
    print(report.render())
    if built.version is None:
        print("dry run: nothing was saved or installed")
        return 0
    version = built.version
    if report.acceptable or args.force:
        models.install(version)
        forced = " (forced)" if not report.acceptable else ""
        print(f"installed model {version}{forced}; previous: {current_version or 'none'} "
              f"(undo with: mentorbox retrain --rollback)")
        return 0
    print(f"not installed: the new model {version} is worse than {current_version} "
          f"(saved; install it anyway with --force)")
    return EXIT_REFUSED


# --------------------------------------------------------------------------- run, backfill, status


def cmd_run(args: argparse.Namespace) -> int:
    """mentorbox run: the daemon."""
    from bot.daemon import run_daemon
    from bot.store import StoreLock

    config = load_config(args.config, required=True)
    _require_env_secrets(config)
    setup_logging(config.logging.level, args.log_format or config.logging.format)
    with StoreLock(config.store.path):  # a second daemon on this store would draft and push everything twice
        _check_store(config)
        return run_daemon(config, once=args.once, say=lambda text: log.info("%s", text))


def _check_store(config: Config) -> None:
    """Stop with one line, before any work, if the store is damaged (see :meth:`Store.check`)."""
    from bot.store import Store

    if config.store.path.exists():
        with closing(Store(config.store.path)) as store:
            store.check()


def _require_env_secrets(config: Config) -> None:
    """Stop at once (exit 2, one line naming the key) when a secret's environment variable is not set: unlike
    a file or a command, which may be fixed while the daemon waits and retries, the variable cannot appear in
    a running process, so retrying would only repeat the error until someone looked."""
    refs = [account.oauth2_token if account.auth == "xoauth2" else account.password for account in config.accounts]
    if config.telegram.enabled:
        refs.append(config.telegram.token)
    for ref in refs:
        if ref.env:
            ref.resolve()  # raises SecretError naming the key and the variable


def cmd_backfill(args: argparse.Namespace) -> int:
    """mentorbox backfill --since DATE: triage older mail the first start skipped."""
    import datetime as dt

    from bot.store import StoreLock

    try:
        since = dt.date.fromisoformat(args.since)
    except ValueError:
        raise UsageError(f"--since {args.since!r}: expected a date like 2026-01-31") from None
    config = load_config(args.config, required=True)
    setup_logging("WARNING" if not args.verbose else "INFO")
    if not config.accounts:
        raise UsageError("no IMAP account configured: add an [imap] section")
    _require_env_secrets(config)
    with StoreLock(config.store.path):  # (not beside a running daemon: both would draft the same mail)
        _check_store(config)
        return _backfill(config, since)


def _backfill(config: Config, since: Any) -> int:
    """Backfill every watched folder from ``since``, holding the store."""
    import threading

    from bot.daemon import FolderWorker, start_services
    from bot.imap_source import Mailbox

    services = start_services(config, _say)  # (a broken reply template is reported now, not once a message)
    stop = threading.Event()
    total, code = 0, 0
    for account in config.accounts:
        for folder in account.folders:
            worker = FolderWorker(account, folder, services, stop)
            mailbox = Mailbox(account)
            try:
                if sys.stderr.isatty():
                    from rich.console import Console
                    from rich.progress import Progress

                    with Progress(console=Console(stderr=True), transient=True, redirect_stdout=False) as bar:
                        task = bar.add_task(f"{account.name}/{folder}", total=None)

                        def advance(n: int, t: int, bar: Any = bar, task: Any = task) -> None:
                            bar.update(task, completed=n, total=t)

                        done = worker.sync(mailbox, backfill_since=since, progress=advance)
                else:
                    where = f"{account.name}/{folder}"

                    def report(n: int, t: int, where: str = where) -> None:
                        _say(f"{where}: {n}/{t}")

                    done = worker.sync(mailbox, backfill_since=since, progress=report)
                if worker.tell_refused_drafts():
                    code = 1
            finally:
                mailbox.close()
                worker.close()
            print(f"{account.name}/{folder}: {done} older message(s) triaged since {since}")
            total += done
    return code


def _synced_at(row: Any) -> str:
    """A folder row's last sync, in local time ("-" before the first)."""
    import datetime as dt

    return dt.datetime.fromtimestamp(row["last_sync"]).strftime("%Y-%m-%d %H:%M:%S") if row["last_sync"] else "-"


def cmd_status(args: argparse.Namespace) -> int:
    """mentorbox status: what the store knows, per account and folder, and the model in use."""
    from bot.daemon import MAX_ATTEMPTS, sent_folder_key
    from classifier.artifact import ModelStore

    config = load_config(args.config)
    models = ModelStore(config.classifier.model_dir)
    current = models.pointer()["current"]
    if current:
        held = (models.meta(current).get("metrics") or {}).get("held_out") or {}
        print(f"model: {current} (held-out macro-F1 {held.get('macro_f1', '?')})")
    else:
        print("model: none yet (the first command that needs one trains it)")
    store = _existing_store(config, f"store: {config.store.path} does not exist yet (nothing processed)")
    if store is None:
        return 0
    with closing(store):
        print(f"store: {config.store.path}")
        if store.setting("paused") == "1":
            print("  processing is PAUSED (send /resume to the Telegram bot)")
        folders = store.folders()
        names = [(a.name, f) for a in config.accounts for f in a.folders] or sorted(folders)
        for account, folder in names:
            row = folders.get((account, folder))
            counts, failed = store.folder_summary(account, folder)
            if row is None:
                print(f"  {account}/{folder}: never synced" + (f"; failed {failed}" if failed else ""))
            else:
                when = _synced_at(row)
                labels = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no messages"
                print(f"  {account}/{folder}: last sync {when}, highest UID {row['last_uid']} "
                      f"(UIDVALIDITY {row['uidvalidity']}); {labels}; failed {failed}")
            for bad in store.failed_messages(account, folder, limit=10):
                tries = int(bad["attempts"])
                state = ("given up" if tries >= MAX_ATTEMPTS else "to be tried again" if tries == 0
                         else f"{tries} of {MAX_ATTEMPTS} tries")
                print(f"    failed: UID {bad['uid']} {one_line(bad['message_id'] or '(no Message-ID)', 200)} "
                      f"({state}): {one_line(bad['error'] or '', 120)}")
            if failed > 10:
                print(f"    ... and {failed - 10} more")
            if failed:
                print(f"    (mentorbox retry-failed --account {account} --folder {folder} tries them again)")
        for account, folder in sorted(set(folders) - set(names)):
            # Synced but not triaged: the Sent folder, or a folder the config no longer names.
            row = folders[(account, folder)]
            why = ("Sent, read for your replies to leads" if store.setting(sent_folder_key(account)) == folder
                   else "no longer in the config")
            when = _synced_at(row)
            print(f"  {account}/{folder} ({why}): last sync {when}, highest UID {row['last_uid']} "
                  f"(UIDVALIDITY {row['uidvalidity']})")
        outbox = store.outbox_counts()
        backlog = outbox.get("pending", 0) + outbox.get("claimed", 0)
        print(f"  backlog: {backlog} action(s) waiting, {outbox.get('failed', 0)} given up, "
              f"{outbox.get('done', 0)} done")
        leads, priority = store.open_leads()
        print(f"  open leads: {leads} ({priority} priority)")
    return 0


def cmd_retry_failed(args: argparse.Namespace) -> int:
    """mentorbox retry-failed: give failed messages their attempts back, so the daemon tries them again."""
    from bot.daemon import MAX_ATTEMPTS

    config = load_config(args.config)
    known = {a.name: a for a in config.accounts}
    if args.account is not None and args.account not in known:
        raise UsageError(f"no account {args.account!r} in the config (accounts: {', '.join(known) or 'none'})")
    store = _existing_store(config, "no failed messages: the store does not exist yet (nothing processed)")
    if store is None:
        return 0
    with closing(store):
        count = store.reset_failed(args.account, args.folder)
    if not count:
        print("no failed messages" + (f" in {args.account or 'any account'}/{args.folder or 'any folder'}"
                                      if args.account or args.folder else ""))
        return 0
    print(f"{count} failed message(s) will be tried again ({MAX_ATTEMPTS} more attempts) at the next sync of "
          f"their folder: at once with `mentorbox run --once` or a restart, within 25 minutes by a running daemon")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    """mentorbox digest: the daily digest, printed."""
    import time

    from bot.housekeeping import digest_text

    config = load_config(args.config)
    store = _existing_store(config, "nothing to report yet: the store does not exist (nothing processed)")
    if store is None:
        return 0
    with closing(store):
        print(visible(digest_text(store, time.time()), keep_newlines=True))
    return 0


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used by the docs test that checks every command has help)."""
    parser = argparse.ArgumentParser(
        prog="mentorbox",
        description="Inbox triage for people who suddenly get more mail than they can answer.",
    )
    parser.add_argument("--version", action="version", version=f"mentorbox {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", metavar="FILE", help=f"config file (default: {default_config_path()})")
        return p

    p = add("triage", "Classify the mail of an mbox, Maildir, .eml folder or .eml file (read-only).")
    p.add_argument("source", metavar="SOURCE", help="mbox file, Maildir, folder searched for *.eml, or one .eml")
    p.add_argument("--format", choices=("table", "jsonl"), default="table", help="output format (default: table)")
    p.add_argument("--drafts-dir", metavar="DIR", type=Path, help="write each reply draft as an .eml file here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    p.add_argument("-v", "--verbose", action="store_true", help="log each message's parsing problems")
    p.set_defaults(func=cmd_triage)

    p = add("run", "Watch the IMAP mailbox and triage new mail (the daemon).")
    p.add_argument("--once", action="store_true", help="process what is new, then exit")
    p.add_argument("--log-format", choices=("text", "json"), help="log line format (default: logging.format)")
    p.set_defaults(func=cmd_run)

    p = add("backfill", "Triage older mail that the first start skipped (backfill_days).")
    p.add_argument("--since", required=True, metavar="DATE", help="first day to triage, e.g. 2026-01-05")
    p.add_argument("-v", "--verbose", action="store_true", help="log each message")
    p.set_defaults(func=cmd_backfill)

    p = add("retrain", "Retrain the classifier on the corpus and the owner's corrections.")
    p.add_argument("--dry-run", action="store_true", help="train and report, but do not install")
    p.add_argument("--force", action="store_true", help="install even if the new model is worse")
    p.add_argument("--rollback", action="store_true", help="go back to the previous model")
    p.add_argument("--candidate", choices=("logreg", "svc-sigmoid", "sgd-huber"),
                   help="estimator to train (default: the shipped choice; complement-nb, compared in "
                        "benchmarks/compare_models.py, cannot be served without scikit-learn)")
    p.set_defaults(func=cmd_retrain)

    p = add("faq-gaps", "List the questions no FAQ entry answers, grouped, biggest group first.")
    p.add_argument("--top", type=int, default=20, help="how many groups to show (default: 20)")
    p.add_argument("--all", action="store_true", help="show every question of each group")
    p.set_defaults(func=cmd_faq_gaps)

    p = add("check-config", "Validate the config file, its secrets and templates.")
    p.add_argument("--connect", action="store_true", help="also log in to IMAP and Telegram and report")
    p.set_defaults(func=cmd_check_config)

    p = add("digest", "Print the daily digest: new mail, drafts waiting, open leads, promises due.")
    p.set_defaults(func=cmd_digest)

    p = add("status", "Show sync state, counts per label, failed messages, open leads and the model version.")
    p.set_defaults(func=cmd_status)

    p = add("retry-failed", "Try failed messages again (after fixing what made them fail).")
    p.add_argument("--account", metavar="NAME", help="only this account's messages")
    p.add_argument("--folder", metavar="FOLDER", help="only this folder's messages")
    p.set_defaults(func=cmd_retry_failed)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    try:
        return int(args.func(args) or 0)
    except MentorboxError as exc:
        print(f"mentorbox: error: {visible(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("mentorbox: interrupted", file=sys.stderr)
        return 130
    except sqlite3.DatabaseError as exc:
        from bot.store import damaged, is_damage

        if not is_damage(exc) or os.environ.get("MENTORBOX_DEBUG"):
            raise
        print(f"mentorbox: error: {damaged(_store_path(args), str(exc))}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error. Silence the flush at exit too.
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        except OSError:
            pass
        return 0
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, the traceback on request
        if os.environ.get("MENTORBOX_DEBUG"):
            raise
        print(f"mentorbox: unexpected error: {type(exc).__name__}: {visible(REDACTOR.redact(str(exc)))} "
              "(a bug: please report it; MENTORBOX_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def _store_path(args: argparse.Namespace) -> str:
    """The store the command used (for an error about it), or a word for it if the config cannot say."""
    try:
        return str(load_config(getattr(args, "config", None)).store.path)
    except MentorboxError:
        return "state.sqlite3"


if __name__ == "__main__":
    raise SystemExit(main())
