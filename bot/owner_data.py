"""The owner's training data: corrections from the store and mail from folders mapped to labels.

SpamBayes taught its filter from folders the user sorted mail into; mentorbox does the same with
``[classifier.train_folders]``: a key that is a path (``/…``, ``~/…``, ``./…``) is a local Maildir, mbox or
.eml folder; any other key is an IMAP folder of the first configured account. Both are only read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bot.config import Config
from bot.errors import ConfigError
from classifier.corpus import Example, example_from_fields, example_from_raw

Say = Callable[[str], None]


def is_local(folder_key: str) -> bool:
    """Whether a train_folders key names a local path rather than an IMAP folder."""
    return folder_key.startswith(("/", "~", "./", "../"))


def corrections(store_path: Path) -> list[Example]:
    """The owner's corrections; when a message was corrected twice the latest one wins."""
    if not store_path.exists():
        return []
    from bot.store import Store

    store = Store(store_path)
    try:
        latest: dict[object, Example] = {}
        for row in store.feedback():
            key = row["message_row"] if row["message_row"] is not None else f"fb{row['id']}"
            latest[key] = example_from_fields(
                f"feedback-{row['id']}", row["new_label"], sender=row["sender"], subject=row["subject"],
                body=row["body"], origin="correction",
            )
        return list(latest.values())
    finally:
        store.close()


def folder_examples(config: Config, say: Say) -> list[Example]:
    """Messages of every configured training folder, labelled by the folder's label."""
    examples: list[Example] = []
    for folder, label in config.classifier.train_folders.items():
        if is_local(folder):
            from bot.local_source import LocalSource

            path = Path(folder).expanduser()
            if not path.is_absolute() and config.source is not None:
                path = config.source.parent / path
            source = LocalSource(path)
            try:
                items = [(m.key, m.raw) for m in source]
            finally:
                source.close()
        else:
            if not config.accounts:
                raise ConfigError(f"classifier.train_folders.{folder}", "an IMAP folder needs an [imap] account")
            from bot.imap_source import fetch_folder

            items = fetch_folder(config.accounts[0], folder)
        say(f"  {folder}: {len(items)} messages as {label}")
        examples.extend(example_from_raw(f"folder:{folder}:{key}", label, raw, "folder") for key, raw in items)
    return examples
