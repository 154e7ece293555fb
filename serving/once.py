"""A form of the pages is acted on once.

Each page form that writes is drawn with a key of its own (``form_key`` in the
templates, sent back as ``once``). The write claims the key inside its own transaction:
the same form sent again (a double click on Save, a retry after a lost answer) finds the
key claimed and writes nothing more, and its answer is the first one's page; an old form
sent back with something else in it (the browser's Back, a new note typed into the form
already sent) is refused, so it is neither lost silently nor taken for the first.

Two sendings at the same moment: the second's claim waits for the first's transaction
(SQLite's write lock, PostgreSQL's unique key), then finds the key taken.

The records of help keep their own key on the record (``records.record_intervention``'s
``request_key``, shared with the API's Idempotency-Key); this is for the other forms.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from schooldata.db import keyed_insert
from schooldata.tables import forms_sent
from serving.records import KeySentAgain

# How long a form's key is kept: a form sent again later than this is acted on again.
KEPT = timedelta(days=28)


@dataclass(frozen=True)
class Sent:
    """One sending of a form: whose, its key, and a digest of what it asked."""

    user_id: int
    key: str
    digest: str


def sent(user_id: int, key: str, *asked: object) -> Sent | None:
    """The form's sending, or None for a form without a key (nothing to hold once)."""
    if not key:
        return None
    digest = hashlib.sha256(repr(asked).encode()).hexdigest()
    return Sent(user_id, key, digest)


def first_time(connection: sa.Connection, sending: Sent | None) -> bool:
    """Claim the form's key in the write's transaction: True the first time it is sent
    (or it has no key), False when it was sent before asking the same (write nothing).

    Raises:
        KeySentAgain: the form was sent before asking something else.
    """
    if sending is None:
        return True
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    connection.execute(sa.delete(forms_sent).where(forms_sent.c.sent_at < now - KEPT))
    # The row it inserted, none when the key was claimed before. Not the rowcount: on
    # PostgreSQL psycopg gives -1 for this statement, which read as "claimed" every time.
    claimed = connection.execute(
        keyed_insert(connection, forms_sent)
        .values(
            user_id=sending.user_id,
            form_key=sending.key,
            digest=sending.digest,
            sent_at=now,
        )
        .on_conflict_do_nothing()
        .returning(forms_sent.c.form_key)
    ).first()
    if claimed is not None:
        return True
    earlier = connection.execute(
        sa.select(forms_sent.c.digest).where(
            (forms_sent.c.user_id == sending.user_id) & (forms_sent.c.form_key == sending.key)
        )
    ).scalar()
    if earlier != sending.digest:
        raise KeySentAgain("this form was sent already: fill it in again for a new one")
    return False
