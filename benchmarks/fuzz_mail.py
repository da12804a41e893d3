"""Fuzz the pure core with mutated mail: parser, reply builder, Telegram cards and terminal text.

Each round takes a seed message (the sample mbox, the nasty and the hostile fixtures), mutates it (bytes
flipped, inserted, deleted or repeated; header lines spliced from other seeds; charsets, transfer encodings
and boundaries swapped for hostile ones; encoded words planted in addresses) and runs it through:

- ``bot.parser._parse`` (the parser without its last resort: any exception is a defect to fix) and
  ``parse_mail``;
- ``bot.drafting.build_reply`` (the draft must have one recipient at most and no line over 998 octets);
- the Telegram card and summary formatters (``bot.tgformat``).

Every exception, every draft that breaks a rule, and every message that takes over 2 s is counted with the seed and round that made it, and
written to ``--save DIR`` for a test to keep. Deterministic for a given ``--seed``.

    python benchmarks/fuzz_mail.py --rounds 100000 --seed 1 [--save /tmp/fuzz-failures]
"""

from __future__ import annotations

import argparse
import email
import json
import mailbox
import random
import sys
import time
from collections import Counter
from email import policy
from email.utils import getaddresses
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import tgformat  # noqa: E402
from bot.drafting import MAX_LINE, Owner, build_reply  # noqa: E402
from bot.parser import _parse, parse_mail  # noqa: E402

OWNER = Owner("Kai Andersen", "kai@andersen.dk", "Kai")
SLOW = 2.0
"""Seconds one message may take through every stage before it counts as a problem (most take milliseconds)."""
CHARSETS = [b"undefined", b"punycode", b"idna", b"utf-7", b"utf-16", b"rot13", b"base64", b"zlib", b"x-foo",
            b"unicode_escape", b"utf-8", b"iso-2022-jp", b"gb18030", b"cp1252", b"", b"\"", b"utf-8*en"]
ENCODINGS = [b"base64", b"quoted-printable", b"x-uuencode", b"binary", b"8bit", b"bogus", b""]
PLANTS = [b"=?utf-8?q?a=40b.c=2C_d=40e.f?=@evil.example", b"=?undefined?q?x?=", b"=?punycode?q?hello-99999?=",
          b"\x1b]8;;https://evil\x1b\\", b"[/b]", b"\xe2\x80\xae", b"\x00", b"\r", b"<" + b"x" * 300 + b">",
          b"=?utf-8?b?" + b"QQ" * 200 + b"?=", b"jos\xc3\xa9@ejemplo.es", b"\"a,b\"@c", b"@@", b",,,"]


def seeds() -> list[bytes]:
    """The messages mutations start from."""
    found: list[bytes] = []
    box = mailbox.mbox(ROOT / "examples" / "sample.mbox", create=False)
    try:
        found += [box.get_bytes(key) for key in box.keys()]
    finally:
        box.close()
    for folder in ("nasty", "hostile"):
        found += [p.read_bytes()[:200_000] for p in sorted((ROOT / "tests" / "fixtures" / folder).glob("*.eml"))]
    return found


def mutate(raw: bytes, rng: random.Random, pool: list[bytes]) -> bytes:
    """One to eight random edits of ``raw``."""
    data = bytearray(raw)
    for _ in range(rng.randint(1, 8)):
        kind = rng.random()
        pos = rng.randrange(len(data) + 1)
        if kind < 0.2 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif kind < 0.35:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif kind < 0.45 and data:
            del data[pos:pos + rng.randint(1, 64)]
        elif kind < 0.55 and data:
            start = rng.randrange(len(data))
            chunk = data[start:start + rng.randint(1, 200)]
            data[pos:pos] = chunk * rng.randint(1, 20)
        elif kind < 0.7:
            other = rng.choice(pool)
            lines = other.split(b"\n")
            start = rng.randrange(len(lines))
            data[pos:pos] = b"\n".join(lines[start:start + rng.randint(1, 6)]) + b"\n"
        elif kind < 0.8:
            data = bytearray(_swap(bytes(data), b"charset=", CHARSETS, rng))
        elif kind < 0.88:
            data = bytearray(_swap(bytes(data), b"Content-Transfer-Encoding: ", ENCODINGS, rng))
        else:
            data[pos:pos] = rng.choice(PLANTS)
    return bytes(data)


def _swap(data: bytes, marker: bytes, choices: list[bytes], rng: random.Random) -> bytes:
    at = data.find(marker)
    if at < 0:
        return data
    start = at + len(marker)
    end = start
    while end < len(data) and data[end:end + 1] not in (b";", b"\r", b"\n"):
        end += 1
    return data[:start] + rng.choice(choices) + data[end:]


def check(raw: bytes) -> list[str]:
    """What went wrong with one message: the stage, and the exception type or broken rule."""
    problems: list[str] = []
    try:
        _parse(raw)
    except Exception as exc:  # noqa: BLE001 - counting is the point
        problems.append(f"_parse: {type(exc).__name__}: {str(exc)[:80]}")
    try:
        mail = parse_mail(raw)
    except Exception as exc:  # noqa: BLE001
        return [*problems, f"parse_mail: {type(exc).__name__}"]
    try:
        draft = build_reply(mail, "Thank you!", OWNER)
        if max(len(line) for line in draft.split(b"\r\n")) > MAX_LINE:
            problems.append("build_reply: a line over 998 octets")
        parsed = email.message_from_bytes(draft, policy=policy.compat32)
        to = [str(value) for value in parsed.get_all("To") or []]
        if len(to) > 1 or (to and len(getaddresses(to)) != 1):
            problems.append(f"build_reply: not one recipient: {to[0][:80]!r}")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"build_reply: {type(exc).__name__}: {str(exc)[:80]}")
    try:
        row = {"id": 1, "label": "job_lead", "address": mail.sender_address, "sender": mail.sender,
               "subject": mail.subject, "date": mail.date.isoformat() if mail.date else None,
               "summary": tgformat.summarize(mail.clean_text), "confidence": 0.5,
               "reasons": json.dumps([f"priority: {mail.subject[:50]}", *mail.defects[:3]])}
        for what in ("lead", "question"):
            text, _ = tgformat.card(row, None, what=what, has_draft=True)
            for piece in tgformat.split_message(text):
                if len(piece) > 4096:
                    problems.append("tgformat: a message over Telegram's 4,096 characters")
    except Exception as exc:  # noqa: BLE001
        problems.append(f"tgformat: {type(exc).__name__}: {str(exc)[:80]}")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", type=Path, help="write each failing message here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool = seeds()
    failures: Counter[str] = Counter()
    started = time.perf_counter()
    for n in range(args.rounds):
        raw = mutate(rng.choice(pool), rng, pool)
        began = time.perf_counter()
        problems = check(raw)
        took = time.perf_counter() - began
        if took > SLOW:  # (a message that takes seconds is a way to stop the daemon too)
            problems.append(f"slow: over {SLOW:.0f} s for one message")
        for problem in problems:
            failures[problem] += 1
            if args.save and failures[problem] <= 3:
                args.save.mkdir(parents=True, exist_ok=True)
                (args.save / f"round{n}.eml").write_bytes(raw)
        if (n + 1) % 10_000 == 0:
            print(f"{n + 1} rounds, {sum(failures.values())} problems, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
    elapsed = time.perf_counter() - started
    print(f"fuzz_mail: {args.rounds} mutated messages from {len(pool)} seeds (seed {args.seed}) in {elapsed:.0f} s:"
          f" {sum(failures.values())} problems")
    for problem, count in failures.most_common():
        print(f"  {count:6d}  {problem}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
