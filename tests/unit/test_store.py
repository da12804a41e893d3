"""The state store: private file, WAL, migrations, idempotent recording and a crash-safe outbox."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Decision
from bot.store import SCHEMA_VERSION, MessageKey, Store

KEY = MessageKey("default", "INBOX", 17, 42)
DECISION = Decision("job_lead", 0.93, False, True, ('"referral" +1.20',), (), "Hi Ana,\n...")


def _record(store: Store, key: MessageKey = KEY, actions=(("draft", "draft:default/INBOX/17/42", {"x": 1}),)) -> int:
    return store.record_decision(key, message_id="<m@x>", sender="Ana <a@x>", subject="Role", date=None,
                                 decision=DECISION, actions=actions)


def test_file_is_private_and_wal(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.sqlite3"
    store = Store(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert store.schema_version == SCHEMA_VERSION
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_threads_opening_a_new_store_together_all_succeed(tmp_path: Path) -> None:
    """The daemon's threads open their own Store at start-up; the first two may race to create the file."""
    errors: list[BaseException] = []
    for attempt in range(30):
        path = tmp_path / f"race{attempt}.sqlite3"
        gate = threading.Barrier(6)

        def open_store() -> None:
            gate.wait()
            try:
                Store(path).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert errors == []


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this mentorbox"):
        Store(path)


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the state store"):
        Store(blocker / "state.sqlite3")


def test_recording_twice_does_not_duplicate_row_or_action(tmp_path: Path) -> None:
    """Given a crash after recording, when the message is recorded again, then nothing is doubled."""
    store = Store(tmp_path / "s.db")
    first, second = _record(store), _record(store)
    assert first == second
    assert len(store.due()) == 1
    row = store.find(KEY)
    assert row["label"] == "job_lead" and row["priority"] == 1 and json.loads(row["reasons"]) == list(DECISION.reasons)
    assert store.find_by_identity("default", "<m@x>")["id"] == first


def test_outbox_claim_complete_applies_state_change_atomically(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    row_id = _record(store)
    (item,) = store.due(["draft"])
    claimed = store.claim(item.id)
    assert claimed.state == "claimed" and claimed.attempts == 1
    store.complete(item.id, "uid:9", message_status="drafted", draft_ref="Drafts/5/9")
    assert store.due() == []
    row = store.get(row_id)
    assert (row["status"], row["draft_ref"]) == ("drafted", "Drafts/5/9")


def test_claiming_and_completing_many_at_once_is_what_one_at_a_time_does(tmp_path: Path) -> None:
    """claim_all and complete_all (a backlog's drafts) leave the rows as claim and complete would, for more
    items than one IN list holds."""
    many, single = Store(tmp_path / "many.db"), Store(tmp_path / "single.db")
    for store in (many, single):
        for uid in range(1, 1203):
            draft = ("draft", f"draft:default/INBOX/17/{uid}", {"n": uid})
            _record(store, MessageKey("default", "INBOX", 17, uid), (draft,))
    items = many.due(["draft"], limit=2000)
    claimed = many.claim_all(items)
    assert [(c.id, c.state, c.attempts, c.payload) for c in claimed] == [
        (i.id, "claimed", 1, i.payload) for i in items]
    assert [(i.id, i.state, i.attempts) for i in many.due(["draft"], limit=2000)] == [
        (c.id, c.state, c.attempts) for c in claimed]
    for item in single.due(["draft"], limit=2000):
        single.claim(item.id)
    done = claimed[:1100]
    many.complete_all([(item, f"uid:{item.id}", f"Drafts/{item.id}") for item in done], message_status="drafted")
    for item in done:
        single.complete(item.id, f"uid:{item.id}", message_status="drafted", draft_ref=f"Drafts/{item.id}")
    query = ("SELECT m.uid, m.status, m.draft_ref, o.state, o.result, o.attempts FROM messages m"
             " JOIN outbox o ON o.message_row = m.id ORDER BY m.uid")
    assert many._db.execute(query).fetchall() == single._db.execute(query).fetchall()
    assert len(many.due(["draft"], limit=2000)) == 1202 - 1100
    with pytest.raises(ValueError, match="unknown status"):
        many.complete_all([(claimed[-1], "", None)], message_status="sent-ish")


def test_claimed_item_survives_a_crash(tmp_path: Path) -> None:
    """Given an action claimed when the process died, when the store is reopened, then it is due again."""
    path = tmp_path / "s.db"
    store = Store(path)
    _record(store)
    store.claim(store.due()[0].id)
    del store  # no close: like kill -9
    reopened = Store(path)
    (item,) = reopened.due()
    assert item.state == "claimed" and item.attempts == 1


def test_retry_later_and_give_up(tmp_path: Path) -> None:
    now = [1000.0]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    _record(store)
    item = store.due()[0]
    store.claim(item.id)
    assert store.retry_later(item.id, "server down", delay=60, max_attempts=2) == "pending"
    assert store.due() == []
    now[0] += 61
    assert store.due()[0].last_error == "server down"
    store.claim(item.id)
    assert store.retry_later(item.id, "still down", delay=60, max_attempts=2) == "failed"
    now[0] += 1000
    assert store.due() == [] and store.outbox_counts() == {"failed": 1}


def test_failures_count_attempts(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.record_failure(KEY, "boom") == 1
    assert store.record_failure(KEY, "boom again") == 2
    row = store.find(KEY)
    assert (row["status"], row["error"], row["attempts"]) == ("failed", "boom again", 2)
    # Tried again and recorded: the row gets everything the failure could not give it.
    _record(store)
    row = store.find(KEY)
    assert (row["status"], row["error"], row["sender"], row["subject"]) == ("classified", None, "Ana <a@x>", "Role")
    assert row["identity"] == "<m@x>" and store.find_by_identity("default", "<m@x>")["id"] == row["id"]


def test_settled_uids_are_processed_or_out_of_attempts(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    _record(store, KEY, ())  # uid 42: processed
    store.record_failure(MessageKey("default", "INBOX", 17, 43), "boom")  # one attempt: still to do
    for _ in range(3):
        store.record_failure(MessageKey("default", "INBOX", 17, 44), "boom")  # out of attempts
    _record(store, MessageKey("default", "INBOX", 18, 45), ())  # another UIDVALIDITY
    assert store.settled_uids("default", "INBOX", 17, [41, 42, 43, 44, 45, 46], 3) == {42, 44}
    assert store.settled_uids("default", "INBOX", 17, [43], 3) == set()
    assert store.settled_uids("default", "INBOX", 17, [], 3) == set()


def test_uidvalidity_is_part_of_the_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    a = _record(store, KEY, ())
    b = _record(store, MessageKey("default", "INBOX", 18, 42), ())
    assert a != b


def test_feedback_updates_label_and_keeps_text(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    row_id = _record(store)
    store.add_feedback("phd_offer", message_row=row_id, old_label="job_lead", subject="Role", body="PhD with me?")
    (fb,) = store.feedback()
    assert (fb["old_label"], fb["new_label"], fb["body"]) == ("job_lead", "phd_offer", "PhD with me?")
    assert store.get(row_id)["label"] == "phd_offer"
    assert store.counts_by_label() == {"phd_offer": 1}


def test_folder_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.folder_state("default", "INBOX") is None
    store.set_folder_state("default", "INBOX", 17, 40)
    store.set_folder_state("default", "INBOX", 17, 42)
    assert store.folder_state("default", "INBOX") == (17, 42)


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    with pytest.raises(RuntimeError):
        with store.transaction() as db:
            db.execute("INSERT INTO folders (account, folder, uidvalidity) VALUES ('a', 'b', 1)")
            raise RuntimeError("crash mid-transaction")
    assert store.folder_state("a", "b") is None


def test_every_lead_is_tracked_once_with_its_promise(tmp_path: Path) -> None:
    from datetime import date

    store = Store(tmp_path / "s.db")
    lead = Decision("job_lead", 0.9, False, True, (), (), None, promise_due=date(2026, 2, 17))
    for _ in range(2):  # recorded twice after a crash: still one lead
        store.record_decision(KEY, message_id="<m@x>", sender="Priya <p@x>", subject="Referral", date=None,
                              decision=lead)
    store.record_decision(MessageKey("default", "INBOX", 17, 43), message_id="<n@x>", sender="a", subject="s",
                          date=None, decision=Decision("other", 0.9, False, False, (), (), None))
    (row,) = store.leads()
    assert (row["label"], row["priority"], row["promise_due"], row["state"]) == ("job_lead", 1, "2026-02-17", "new")
    assert store.open_leads() == (1, 1)
    store.set_lead_state(row["id"], "done")
    assert store.open_leads() == (0, 0) and store.leads() == []
    with pytest.raises(ValueError):
        store.set_lead_state(row["id"], "lost")


def test_owner_actions_done_snooze_wake_and_correct(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    row = store.record_decision(KEY, message_id="<m@x>", sender="Ana <a@x>", subject="Role", date=None,
                                decision=DECISION, address="A@X", summary="short", body="the whole new text")
    assert store.get(row)["address"] == "a@x" and store.get(row)["body"] == "the whole new text"
    assert store.snooze(row, now[0] + 3600) and store.lead_by_message(row)["state"] == "snoozed"
    assert store.wake_snoozed([42]) == 0, "not yet"
    now[0] += 3601
    assert store.wake_snoozed([42, 43]) == 1 and store.wake_snoozed([42]) == 0
    assert store.lead_by_message(row)["state"] == "notified"
    assert sorted(i.payload["chat_id"] for i in store.due(["telegram"])) == [42, 43]
    assert store.correct(row, "other") == "job_lead"
    assert store.lead_by_message(row)["state"] == "dropped", "no longer a lead"
    assert store.feedback()[-1]["body"] == "the whole new text"
    assert store.correct(row, "phd_offer") == "other"
    assert (store.lead_by_message(row)["state"], store.lead_by_message(row)["label"]) == ("new", "phd_offer")
    assert store.mark_done(row) and store.lead_by_message(row)["state"] == "done"
    assert not store.mark_done(999) and not store.snooze(999, 1)
    with pytest.raises(KeyError):
        store.correct(999, "other")
    with pytest.raises(ValueError):
        store.correct(row, "spam")


def test_cards_settings_markers_and_uncertain_retries(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.add_card(42, 1001, "m:7")
    assert store.card_ref(42, 1001) == "m:7" and store.card_ref(43, 1001) is None
    assert store.setting("paused", "0") == "0"
    store.set_setting("paused", "1")
    assert Store(tmp_path / "s.db").setting("paused") == "1", "settings persist"
    assert store.enqueue_many(None, [("marker", "nudge:promise:7", {}), ("telegram", "tg:x", {"chat_id": 1})]) == 2
    assert store.enqueue_many(None, [("marker", "nudge:promise:7", {})]) == 0, "once"
    assert store.has_action("nudge:promise:7") and store.sent_since(0, "nudge:") == 1
    assert [i.kind for i in store.due()] == ["telegram"], "a marker is never performed"
    item = store.claim(store.due()[0].id)
    store.retry_later(item.id, "timed out", 0, uncertain=True)
    store.retry_later(store.claim(item.id).id, "connection refused", 0)
    assert store.due()[0].uncertain, "a later certain failure does not clear the possible-repeat mark"


def test_migration_from_schema_3_keeps_data(tmp_path: Path) -> None:
    from bot.store import _MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for number in range(3):
        db.executescript(_MIGRATIONS[number])
    db.execute("PRAGMA user_version = 3")
    db.execute("INSERT INTO messages (account, folder, uidvalidity, uid, label, created_at, updated_at)"
               " VALUES ('a', 'INBOX', 1, 5, 'other', 0, 0)")
    db.commit()
    db.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    assert store.get(1)["label"] == "other" and store.get(1)["body"] == ""


def test_a_drafts_bytes_are_kept_apart_from_its_json_payload(tmp_path: Path) -> None:
    """A draft's bytes go to outbox_data once, not into the JSON that claims and completions rewrite; every
    way of reading an item gives them back as bytes; a duplicate enqueue adds no second copy."""
    store = Store(tmp_path / "s.db")
    raw = b"Subject: Re: Role\r\n\r\nHi Ana,\r\n\xc3\xa9\r\n"
    row_id = _record(store, actions=(("draft", "draft:default/INBOX/17/42", {"folder": "Drafts", "message": raw}),))
    assert store.enqueue("draft", "draft:default/INBOX/17/42", {"folder": "Drafts", "message": b"other"}) is False
    db = sqlite3.connect(tmp_path / "s.db")
    (payload,) = db.execute("SELECT payload FROM outbox").fetchone()
    assert json.loads(payload) == {"folder": "Drafts"}
    assert db.execute("SELECT data FROM outbox_data").fetchall() == [(raw,)]
    (item,) = store.due(["draft"])
    assert item.payload == {"folder": "Drafts", "message": raw}
    assert store.claim(item.id).payload["message"] == raw
    assert store.claim_all([item])[0].payload["message"] == raw
    assert store.outbox_item(item.id).payload["message"] == raw
    assert store.draft_of(row_id).payload["message"] == raw
    store.complete_all([(item, "9", "Drafts/9")], message_status="drafted")
    assert store.draft_of(row_id).payload["message"] == raw


def test_a_draft_written_before_schema_6_reads_back_as_bytes(tmp_path: Path) -> None:
    """Drafts queued by an older mentorbox hold base64 inside the JSON payload; after the upgrade they read
    back as the same bytes, so a pending one is still put in Drafts."""
    from bot.store import _MIGRATIONS

    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    for number in range(5):
        db.executescript(_MIGRATIONS[number])
    db.execute("PRAGMA user_version = 5")
    raw = b"Subject: Re: Role\r\n\r\nHi Ana\r\n"
    db.execute("INSERT INTO outbox (kind, dedup_key, payload, created_at, updated_at) VALUES ('draft', 'd', ?, 0, 0)",
               (json.dumps({"folder": "Drafts", "message": base64.b64encode(raw).decode("ascii")}),))
    db.commit()
    db.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    (item,) = store.due(["draft"])
    assert item.payload["message"] == raw


def test_the_text_of_drafts_long_in_drafts_is_dropped_and_nothing_else(tmp_path: Path) -> None:
    """After the days kept, a stored draft's bytes go (the owner has it in Drafts); its outbox row stays, so it
    is never made again. A draft still waiting to go out keeps its bytes however old; so does a recent one."""
    now = [1_000_000.0]
    store = Store(tmp_path / "s.db", clock=lambda: now[0])
    rows = [_record(store, MessageKey("default", "INBOX", 17, uid),
                    actions=(("draft", f"draft:default/INBOX/17/{uid}", {"folder": "Drafts", "message": b"R%d" % uid}),
                             ))
            for uid in (1, 2, 3)]
    old, waiting, recent = (store.draft_of(row) for row in rows)
    assert old is not None and waiting is not None and recent is not None
    store.complete_all([(old, "5", "Drafts/5")], message_status="drafted")
    now[0] += 40 * 86_400
    store.complete_all([(recent, "6", "Drafts/6")], message_status="drafted")
    # A draft queued before schema 6 (base64 in the JSON), stored long ago.
    store._db.execute("INSERT INTO outbox (kind, dedup_key, payload, state, created_at, updated_at)"
                      " VALUES ('draft', 'old', ?, 'done', 0, 0)",
                      (json.dumps({"folder": "Drafts", "message": base64.b64encode(b"R0").decode("ascii")}),))
    assert store.forget_draft_texts(now[0] - 30 * 86_400) == 2
    assert "message" not in store.draft_of(rows[0]).payload and store.draft_of(rows[0]).state == "done"
    assert store.draft_of(rows[1]).payload["message"] == b"R2" and store.draft_of(rows[2]).payload["message"] == b"R3"
    assert json.loads(store._db.execute("SELECT payload FROM outbox WHERE dedup_key = 'old'").fetchone()[0]) == {
        "folder": "Drafts"}
    assert store.enqueue("draft", "draft:default/INBOX/17/1", {"message": b"again"}) is False  # still never twice
    assert store.forget_draft_texts(now[0] - 30 * 86_400) == 0


def test_an_alias_after_a_uidvalidity_change_keeps_the_text(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    row = store.record_decision(KEY, message_id="<m@x>", sender="Ana <a@x>", subject="Role", date=None,
                                decision=DECISION, address="a@x", summary="short", body="the new text")
    alias = store.record_alias(MessageKey("default", "INBOX", 99, 7), store.get(row))
    copied = store.get(alias)
    assert (copied["address"], copied["summary"], copied["body"]) == ("a@x", "short", "the new text")


def test_a_batch_transaction_keeps_each_unit_atomic(tmp_path: Path) -> None:
    """Given a worker recording a batch in one transaction, when one message's unit fails, only that unit
    is undone; nothing is visible to another connection before the batch commits; and a batch that fails
    as a whole leaves nothing behind."""
    store, other = Store(tmp_path / "s.sqlite3"), Store(tmp_path / "s.sqlite3")
    with store.transaction():
        _record(store)
        with pytest.raises(RuntimeError):
            with store.transaction() as db:
                db.execute("UPDATE messages SET label = 'other'")
                raise RuntimeError("one message went wrong")
        _record(store, MessageKey("default", "INBOX", 17, 43), actions=())
        assert other.find(KEY) is None  # not committed yet
    assert other.find(KEY)["label"] == "job_lead"
    assert other.find(MessageKey("default", "INBOX", 17, 43)) is not None
    with pytest.raises(RuntimeError):
        with store.transaction():
            _record(store, MessageKey("default", "INBOX", 17, 44))
            raise RuntimeError("the whole batch failed")
    assert other.find(MessageKey("default", "INBOX", 17, 44)) is None
    assert not store._db.in_transaction
    store.close()
    other.close()


def test_due_by_dedup_key_prefix(tmp_path: Path) -> None:
    """One folder's actions are selected in SQL, so another folder's backlog cannot fill the limit; a prefix
    with LIKE wildcards in it is taken literally."""
    store = Store(tmp_path / "s.sqlite3")
    for uid in range(5):
        _record(store, MessageKey("a_b", "INBOX", 1, uid), actions=(("draft", f"draft:a_b/INBOX/1/{uid}", {}),))
    _record(store, MessageKey("axb", "INBOX", 1, 9), actions=(("draft", "draft:axb/INBOX/1/9", {}),))
    _record(store, MessageKey("c", "Lists", 1, 1), actions=(("tag", "tag:c/Lists/1/1", {}),))
    assert [i.dedup_key for i in store.due(["draft"], limit=2, prefixes=["draft:axb/INBOX/"])] == ["draft:axb/INBOX/1/9"]
    assert len(store.due(["draft"], prefixes=["draft:a_b/INBOX/"])) == 5
    assert [i.kind for i in store.due(prefixes=["draft:axb/", "tag:c/Lists/"])] == ["draft", "tag"]
    store.close()


def test_pending_only_leaves_out_claimed_actions(tmp_path: Path) -> None:
    """A backlog claims its drafts batch by batch: the next claim need not read the ones still in flight,
    while a plain ``due`` still returns them (a crash leaves claimed ones to be looked up)."""
    store = Store(tmp_path / "s.sqlite3")
    for uid in range(4):
        _record(store, MessageKey("a", "INBOX", 1, uid), actions=(("draft", f"draft:a/INBOX/1/{uid}", {}),))
    store.claim_all(store.due(["draft"], limit=2))
    assert [i.dedup_key for i in store.due(["draft"], pending_only=True)] == ["draft:a/INBOX/1/2", "draft:a/INBOX/1/3"]
    assert [i.state for i in store.due(["draft"])] == ["claimed", "claimed", "pending", "pending"]
    store.close()


def test_an_answer_marks_only_its_waiting_lead_replied_without_scanning_messages(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite3", clock=lambda: 100.0)
    with store.transaction() as db:
        for i in range(1, 2001):
            db.execute("INSERT INTO messages (account, folder, uidvalidity, uid, message_id, status, attempts,"
                       " created_at, updated_at) VALUES ('a', 'INBOX', 1, ?, ?, 'classified', 0, 0, 0)",
                       (i, f"<m{i}@x>"))
        for row, state in ((10, "waiting"), (20, "waiting"), (30, "done")):
            db.execute("INSERT INTO leads (message_row, label, state, created_at, updated_at)"
                       " VALUES (?, 'job_lead', ?, 0, 0)", (row, state))
    assert store.other_side_answered(["", "<nothing@x>"]) == 0
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    assert store.other_side_answered(["<m10@x>", "<m30@x>", "<m5@x>"]) == 1
    store._db.set_trace_callback(None)
    states = dict(store._db.execute("SELECT message_row, state FROM leads").fetchall())
    assert states == {10: "replied", 20: "waiting", 30: "done"}
    update = next(s for s in statements if s.startswith("UPDATE leads"))  # as run, parameters filled in
    plan = " ".join(str(tuple(r)) for r in store._db.execute(f"EXPLAIN QUERY PLAN {update}"))
    assert "SCAN messages" not in plan and "messages_by_message_id_only (message_id=?)" in plan, plan
    store.close()
