"""What the classifier reads of a message: subject, new text, and a few readable facts about the sender.

Pure functions over :class:`bot.models.ParsedMail`. The sender facts are emitted as tokens
(``sender:academic``, ``bulk:list-id``) so that the same linear model weighs them next to the words and
an explanation can name them in plain language.
"""

from __future__ import annotations

import re

from bot.models import ParsedMail, memo
from classifier.columns import Spec, row_columns

FREEMAIL = frozenset(
    "gmail.com googlemail.com yahoo.com yahoo.co.in yahoo.co.uk yahoo.fr ymail.com outlook.com hotmail.com live.com "
    "msn.com icloud.com me.com mac.com aol.com proton.me protonmail.com pm.me gmx.de gmx.net gmx.com web.de mail.ru "
    "yandex.ru yandex.com 163.com 126.com qq.com foxmail.com sina.com naver.com hanmail.net daum.net rediffmail.com "
    "fastmail.com fastmail.fm zoho.com tutanota.com hey.com orange.fr free.fr laposte.net libero.it t-online.de "
    "seznam.cz wp.pl o2.pl bol.com.br uol.com.br".split()
)
_ACADEMIC_SUFFIX = re.compile(
    r"(\.edu(\.[a-z]{2})?|\.ac\.[a-z]{2}|\.edu\.[a-z]{2}|\.uni-[a-z-]+\.de|\.univ-[a-z-]+\.fr)$"
)
_ACADEMIC_WORDS = re.compile(
    r"(^|[.-])(uni|univ|university|universit[a-z]*|college|polytechnique|inria|cnrs|mpg|mpi-[a-z]+|ethz|epfl|"
    r"mila|vectorinstitute|kaist|tsinghua|pku|iisc|iit[a-z]*|nus|ntu|csail|tum|kth|dtu|ku|aau|au|itu|sdu|"
    r"ucl|imperial|tudelft|uva|vu|kuleuven|riken|a-star|csiro|fraunhofer|uni-[a-z]+|univ-[a-z]+)\.",
)
_NOREPLY = re.compile(
    r"(^|[._+-])(no-?reply|do-?not-?reply|donotreply|notifications?|notify|mailer-daemon|postmaster|bounce[s]?|"
    r"news(letter)?|digest|alerts?|updates?|info|marketing|jobs|careers-noreply|automated)([._+-]|$)"
)
MAX_CHARS = 6000
"""Characters of new text the vectorisers see: the purpose of a mail is in its first screens."""

COLUMNS = ("subject", "body", "meta")


def sender_kind(address: str) -> str:
    """``academic``, ``freemail``, ``automated``, ``company`` or ``unknown``, from the address alone."""
    address = address.lower().strip()
    if "@" not in address:
        return "unknown"
    local, _, domain = address.rpartition("@")
    if _NOREPLY.search(local):
        return "automated"
    if domain in FREEMAIL:
        return "freemail"
    if _ACADEMIC_SUFFIX.search("." + domain) or _ACADEMIC_WORDS.search("." + domain):
        return "academic"
    return "company"


def meta_tokens(mail: ParsedMail) -> list[str]:
    """Readable facts about the message as tokens for the model (and for explanations)."""
    tokens = [f"sender:{sender_kind(mail.sender_address)}"]
    if mail.list_id:
        tokens.append("bulk:list-id")
    if mail.list_unsubscribe:
        tokens.append("bulk:unsubscribe")
    if mail.precedence.lower() in ("bulk", "list", "junk"):
        tokens.append("bulk:precedence")
    if mail.auto_submitted and mail.auto_submitted.lower() != "no":
        tokens.append("bulk:auto-submitted")
    if mail.to_count >= 5:
        tokens.append("recipients:many")
    if mail.html_only:
        tokens.append("format:html-only")
    if mail.attachments:
        tokens.append("has:attachment")
    if mail.in_reply_to or mail.subject.lower().startswith(("re:", "aw:", "sv:")):
        tokens.append("thread:reply")
    words = len(mail.clean_text.split())
    tokens.append("length:short" if words < 40 else "length:long" if words > 250 else "length:medium")
    questions = mail.clean_text.count("?")
    tokens.append("questions:none" if questions == 0 else "questions:one" if questions == 1 else "questions:many")
    if not mail.subject.strip():
        tokens.append("subject:empty")
    return tokens


def to_row(mail: ParsedMail) -> tuple[str, str, str]:
    """One model input row: (subject, body, meta tokens)."""
    return (mail.subject, mail.clean_text[:MAX_CHARS], " ".join(meta_tokens(mail)))


def columns_of(mail: ParsedMail, key: str, spec: Spec) -> tuple[bytes, ...]:
    """The columns of ``mail``'s input row in the feature blocks ``spec`` of the loaded model named ``key``
    (:attr:`classifier.serving.ServingModel.key`): found once per message and model, maybe ahead of time."""
    return memo(mail, key, lambda: row_columns(to_row(mail), spec))
