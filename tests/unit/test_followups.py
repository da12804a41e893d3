"""Which leads are nudged, and the watchdog's rules (both pure, any clock)."""

from __future__ import annotations

from datetime import date

from bot.followups import due_nudges
from bot.health import FolderHealth, Health, evaluate, transitions

DAY = 86_400.0
WITHIN = {"job_lead": int(DAY), "phd_offer": int(3 * DAY)}


def lead(row: int, state: str, *, label: str = "job_lead", due: str | None = None, created: float = 0.0,
         updated: float = 0.0) -> dict[str, object]:
    return {"message_row": row, "label": label, "state": state, "promise_due": due, "created_at": created,
            "updated_at": updated}


def kinds(leads: list[dict[str, object]], today: date, now: float, heard: set[int] = frozenset()) -> set[tuple[str, int]]:  # type: ignore[assignment]
    return {(n.kind, n.message_row) for n in due_nudges(leads, today=today, now=now, respond_within=WITHIN,
                                                           heard_from=heard)}


def test_promise_nudge_only_after_the_day_and_without_news() -> None:
    waiting = [lead(1, "waiting", due="2026-12-01")]
    assert kinds(waiting, date(2026, 12, 1), 0) == set(), "due today is not passed yet"
    assert kinds(waiting, date(2026, 12, 2), 0) == {("promise", 1)}
    assert kinds(waiting, date(2026, 12, 2), 0, heard={1}) == set(), "they wrote again: no nudge"
    for state in ("replied", "done", "dropped", "snoozed"):
        assert ("promise", 1) not in kinds([lead(1, state, due="2026-12-01")], date(2026, 12, 9), 0)


def test_respond_nudge_per_label_target() -> None:
    fresh = [lead(1, "notified", created=0), lead(2, "notified", label="phd_offer", created=0)]
    assert kinds(fresh, date(2026, 1, 1), DAY - 1) == set()
    assert kinds(fresh, date(2026, 1, 1), DAY + 1) == {("respond", 1)}
    assert kinds(fresh, date(2026, 1, 1), 3 * DAY + 1) == {("respond", 1), ("respond", 2)}
    # Waiting for the other side is not the owner's delay; their answer restarts the clock.
    assert kinds([lead(3, "waiting", created=0)], date(2026, 1, 1), 9 * DAY) == set()
    assert kinds([lead(4, "replied", created=0, updated=5 * DAY)], date(2026, 1, 1), 5.5 * DAY) == set()
    assert kinds([lead(4, "replied", created=0, updated=5 * DAY)], date(2026, 1, 1), 6.5 * DAY) == {("respond", 4)}


def test_watchdog_rules() -> None:
    h = {"a/INBOX": FolderHealth(started=0, last_ok=100)}
    assert evaluate(h, 100 + 29 * 60, stale_minutes=30) == []
    stale = evaluate(h, 100 + 31 * 60, stale_minutes=30)
    assert [p.key for p in stale] == ["stale:a/INBOX"] and "31 min" in stale[0].text
    assert evaluate(h, 100 + 31 * 60, stale_minutes=30, paused=True) == [], "paused: no sync is expected"
    bad = {"a/INBOX": FolderHealth(started=0, last_ok=100, error="LOGIN failed", error_kind="auth",
                                   failing_messages=3, token_expires=200)}
    keys = {p.key for p in evaluate(bad, 150, stale_minutes=30)}
    assert keys == {"auth:a/INBOX", "failing:a/INBOX", "token:a/INBOX"}


def test_refused_drafts_are_a_problem_until_the_server_takes_them_again() -> None:
    health = Health(clock=lambda: 0.0)
    health.register("a/INBOX")
    health.drafts_refused("a/INBOX", "[OVERQUOTA] Quota exceeded (mailbox for user is full)")
    problems = evaluate(health.snapshot(), 1, stale_minutes=30)
    assert [p.key for p in problems] == ["drafts:a/INBOX"]
    assert "refuses new drafts ([OVERQUOTA] Quota exceeded" in problems[0].text and "kept" in problems[0].text
    health.sync_ok("a/INBOX")  # a good sync does not hide drafts that still cannot be stored
    assert [p.key for p in evaluate(health.snapshot(), 1, stale_minutes=30)] == ["drafts:a/INBOX"]
    health.drafts_refused("a/INBOX", "")
    assert evaluate(health.snapshot(), 1, stale_minutes=30) == []


def test_refused_filing_is_a_problem_until_a_tag_or_move_goes_through() -> None:
    health = Health(clock=lambda: 0.0)
    health.register("a/INBOX")
    health.filing_refused("a/INBOX", "[CANNOT] Invalid mailbox name: Begins with '~'")
    problems = evaluate(health.snapshot(), 1, stale_minutes=30)
    assert [p.key for p in problems] == ["filing:a/INBOX"]
    assert "refuses to tag or move messages ([CANNOT] Invalid mailbox name" in problems[0].text
    assert "move_to_folders" in problems[0].text
    health.sync_ok("a/INBOX")
    assert [p.key for p in evaluate(health.snapshot(), 1, stale_minutes=30)] == ["filing:a/INBOX"]
    health.filing_refused("a/INBOX", "")
    assert evaluate(health.snapshot(), 1, stale_minutes=30) == []


def test_transitions_announce_once_and_on_recovery() -> None:
    h = {"a/INBOX": FolderHealth(started=0, error="x", error_kind="auth")}
    problems = evaluate(h, 1, stale_minutes=30)
    new, recovered = transitions(set(), problems)
    assert [p.key for p in new] == ["auth:a/INBOX"] and recovered == []
    assert transitions({"auth:a/INBOX"}, problems) == ([], [])
    assert transitions({"auth:a/INBOX"}, []) == ([], ["auth:a/INBOX"])


def test_health_registry_counts_failures_in_a_row() -> None:
    now = [1000.0]
    health = Health(clock=lambda: now[0])
    health.register("a/INBOX")
    for _ in range(3):
        health.message_failed("a/INBOX")
    assert health.snapshot()["a/INBOX"].failing_messages == 3
    health.message_ok("a/INBOX")
    health.failed("a/INBOX", "network", "refused")
    assert health.snapshot()["a/INBOX"].failing_messages == 0 and health.snapshot()["a/INBOX"].error_kind == "network"
    health.sync_ok("a/INBOX")
    assert health.snapshot()["a/INBOX"] == FolderHealth(started=1000.0, last_ok=1000.0)


def test_token_expiry_is_read_from_jwt_access_tokens_only() -> None:
    import base64
    import json

    from bot.oauth import token_expiry

    def jwt(claims: object) -> str:
        part = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"eyJhbGciOiJSUzI1NiJ9.{part}.c2lnbmF0dXJl"

    assert token_expiry(jwt({"exp": 1795400000, "aud": "outlook"})) == 1795400000.0
    for opaque in ("ya29.a0AfH6SMBx-opaque-google-token", "", "a.b", jwt({"exp": "soon"}), jwt([1, 2]),
                   jwt({"exp": True}), "x.!!!.y", "x." + "é" + ".y"):
        assert token_expiry(opaque) is None
