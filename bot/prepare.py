"""Work on a message that depends on that message alone, done ahead of time by the reader process.

In a backlog the daemon's thread that classifies, decides, drafts and records is the slow side of the sync;
the reader process (:mod:`bot.reader`), which fetches and parses, has time to spare on the machine's other
core. So the reader also does the parts of the later stages that need nothing but the message: finding the
columns of its terms in the classifier's feature blocks (the expensive half of classifying) and quoting it
for a reply. Each is stored in the message's :attr:`~bot.models.ParsedMail.derived` under the key its stage
looks up (:func:`bot.models.memo`), and crosses to the daemon with the message. A stage that finds nothing
there computes the value itself, the same way: the reader saves time, never changes a result.

What goes ahead is chosen by measurement (``benchmarks/imap_backlog.py``, README): on a 2-core machine these
two took 0.35 s of CPU off the daemon's thread for 2,000 messages. The FAQ topic model's columns were tried
as well and left with the daemon: found for every message (the reader cannot know which ones ask
questions), they made the reader the slower side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.models import ParsedMail
from bot.quoting import quote
from classifier.columns import Spec
from classifier.features import columns_of


@dataclass
class Ahead:
    """What the reader does ahead for each message (pure data: it is pickled to the reader process)."""

    models: Sequence[tuple[str, Spec]] = field(default_factory=list)
    """Per loaded model, its key and feature blocks (:attr:`classifier.serving.ServingModel.key`, ``spec``)."""
    quote: bool = True
    """Quote the message as a reply would."""


def prepare(mail: ParsedMail, ahead: Ahead) -> None:
    """Do ``ahead``'s work for ``mail``; the results wait in ``mail.derived`` for the stages that use them."""
    for key, spec in ahead.models:
        columns_of(mail, key, spec)
    if ahead.quote:
        quote(mail)
