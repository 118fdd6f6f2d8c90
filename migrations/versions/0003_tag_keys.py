"""Asset tags compare after NFKC and case folding: recompute every instrument's key.

Until now the key was the tag in upper case, so precomposed and decomposed É,
fullwidth letters, a no-break space or a non-breaking hyphen made new tags that look
like old ones. The rule is copied here (not imported) so this revision keeps doing
what it did when the rule changes later.

Two tags already stored that are twins under the new rule both stay: the older one
(lower id) gets the key, the newer one keeps a key of its own ending in ``#<id>``, so
no data is lost and `db verify` names it as a derived value that no longer matches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 00:40:00
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tag_key(tag: str) -> str:
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", tag.strip()).casefold())
    text = "".join(
        "-"
        if unicodedata.category(c) == "Pd" or c == "\u2212"
        else " "
        if unicodedata.category(c) == "Zs"
        else c
        for c in text
    )
    return text.upper()


def _rekey(key_of: Callable[[str], str]) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, asset_tag FROM instrument ORDER BY id")).all()
    wanted: dict[int, str] = {}
    taken: set[str] = set()
    for row_id, tag in rows:
        key = key_of(tag)
        if key in taken:
            key = f"{key}#{row_id}"
        taken.add(key)
        wanted[row_id] = key
    # Two passes: a key may move to a row whose old key another row still holds.
    bind.execute(sa.text("UPDATE instrument SET asset_tag_key = '#' || id || '#' || asset_tag_key"))
    for row_id, key in wanted.items():
        bind.execute(
            sa.text("UPDATE instrument SET asset_tag_key = :key WHERE id = :id"),
            {"key": key, "id": row_id},
        )


def upgrade() -> None:
    _rekey(_tag_key)


def downgrade() -> None:
    _rekey(lambda tag: tag.strip().upper())
