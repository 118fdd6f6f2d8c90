"""The demo's create-event JSON, written column by column for a whole chunk at once.

The shortcut past ``canonical_json(created_row(...))`` per row (see the comment below).
``chunk_json`` compares its first rows with the general way, byte for byte (the texts
are hashed into the audit chain); on any difference the whole chunk is written the
general way and a warning is logged, so the demo is slower but never wrong.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from operator import itemgetter
from typing import Any

from app.services.audit import canonical_json
from app.services.dto import to_jsonable
from app.services.snapshots import INSTRUMENT_AUDITED, RECORD_AUDITED

log = logging.getLogger(__name__)

# The first instruments and records of every chunk also get their JSON from
# canonical_json, which the column-wise writer's must equal byte for byte.
JSON_CHECKS = 50


# Types whose values ``to_jsonable`` returns unchanged.
_AS_IS = frozenset({str, int, float, bool, type(None)})


def created_row(row: dict[str, Any], fields: tuple[str, ...]) -> dict[str, list[Any]]:
    """``created(snapshot)`` of a bulk-insert row, the same as the services write it.

    Equal to ``created({k: to_jsonable(row.get(k)) for k in fields})``, but without
    ``to_jsonable``'s general dispatch for the plain values demo rows hold: this runs
    for every one of hundreds of thousands of rows.
    """
    changes: dict[str, list[Any]] = {}
    for name in fields:
        value: Any = row.get(name)
        kind = type(value)
        if kind is date:
            value = value.isoformat()
        elif kind not in _AS_IS:
            value = to_jsonable(value)
        changes[name] = [None, value]
    return changes


# -- the changes JSON of create events, written column by column -------------------------
#
# canonical_json(created_row(row, fields)) for every demo row costs about as much as
# inserting the row. The functions below write the same text for a whole chunk at once:
# each field's values are turned into JSON by one C-level map over the column (strings
# as the json module writes them with ensure_ascii=False, numbers by their repr, dates
# as their ISO text), then every row's values fill a template with the keys in sorted
# order and the separators "," and ":". A column of mixed or unusual types takes the
# general way, value by value, ending in canonical_json. ``_Builder`` also compares the
# result with canonical_json for the first rows of every chunk.

_json_str = json.encoder.encode_basestring
_JSON_BOOL = {True: "true", False: "false"}


def json_value(value: Any) -> str:
    """``canonical_json(to_jsonable(value))``: the general way, one value at a time."""
    kind = type(value)
    if kind is str:
        return _json_str(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is date:
        return f'"{value.isoformat()}"'
    return canonical_json(to_jsonable(value))


def json_list(values: Iterable[Any]) -> str:
    return "[" + ",".join(map(json_value, values)) + "]"


def _floats(values: list[Any]) -> list[str] | None:
    # repr is json's spelling of a finite float; nan and infinities are spelled otherwise.
    return list(map(float.__repr__, values)) if all(map(math.isfinite, values)) else None


_COLUMN_JSON: dict[type, Callable[[list[Any]], list[str] | None]] = {
    str: lambda values: list(map(_json_str, values)),
    int: lambda values: list(map(int.__repr__, values)),
    float: _floats,
    bool: lambda values: list(map(_JSON_BOOL.__getitem__, values)),
    type(None): lambda values: ["null"] * len(values),
    date: lambda values: list(map('"{}"'.format, map(date.isoformat, values))),
}


def json_column(values: list[Any]) -> list[str]:
    """``json_value`` of each value, in C-level passes when the column has one type."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        kind = kinds.pop()
        encode = _COLUMN_JSON.get(kind)
        if encode is not None:
            encoded = _repeating(values, kind, encode)
            if encoded is None:
                encoded = encode(values)
            if encoded is not None:
                return encoded
    return list(map(json_value, values))


def _repeating(
    values: list[Any], kind: type, encode: Callable[[list[Any]], list[str] | None]
) -> list[str] | None:
    """A column of a few values repeated (units, nominals, names): each distinct value
    is written once and looked up after. None when the column is not like that."""
    if len(values) < 1000 or len(set(values[:200])) > 50:
        return None
    distinct = list(set(values))
    # 0.0 and -0.0 are equal as keys but written differently; bools hash like ints.
    if len(distinct) * 8 > len(values) or (kind is float and 0.0 in distinct):
        return None
    texts = encode(distinct)
    if texts is None:
        return None
    return list(map(dict(zip(distinct, texts, strict=True)).__getitem__, values))


class JsonRows:
    """Many JSON texts of one shape, written field by field (see above)."""

    def __init__(self, keys: Sequence[str], template: str) -> None:
        self.keys = tuple(keys)
        self._template = template

    def encode(
        self, rows: Sequence[dict[str, Any]], given: dict[str, list[str]] | None = None
    ) -> list[str]:
        """One text per row; ``given`` holds fields already written as JSON, per row."""
        if not rows:
            return []
        ready = given or {}
        wanted = [key for key in self.keys if key not in ready]
        values: dict[str, Sequence[Any]]
        try:
            if len(wanted) < 2:
                raise KeyError(wanted)  # itemgetter of one key returns no tuple
            # One pass over the rows, then a transpose: far fewer cache misses than
            # reading one key of every row dict per field.
            columns_read = zip(*map(itemgetter(*wanted), rows), strict=True)
            values = dict(zip(wanted, columns_read, strict=True))
        except KeyError:
            values = {key: [row.get(key) for row in rows] for key in wanted}
        columns = [
            ready[key] if key in ready else json_column(list(values[key])) for key in self.keys
        ]
        return list(map(self._template.__mod__, zip(*columns, strict=True)))


def created_json(fields: Sequence[str]) -> JsonRows:
    """``canonical_json(created(...))`` texts: ``{"field":[null,value],...}``."""
    keys = sorted(fields)
    return JsonRows(keys, "{" + ",".join(f"{_json_str(k)}:[null,%s]" for k in keys) + "}")


INSTRUMENT_JSON = created_json(INSTRUMENT_AUDITED)
RECORD_JSON = created_json((*RECORD_AUDITED, "points", "standards"))
POINT_FIELDS = ("seq", "nominal", "as_found", "as_left", "tolerance", "unit")
# One reading as the audit trail lists it: [seq, nominal, as found, as left, tolerance, unit].
POINT_JSON = JsonRows(POINT_FIELDS, "[" + ",".join(["%s"] * len(POINT_FIELDS)) + "]")


def chunk_json(
    instruments: list[dict[str, Any]],
    records: list[dict[str, Any]],
    points: list[dict[str, Any]],
    point_counts: list[int],
    used: list[list[int]],
) -> tuple[list[str], list[str]]:
    """The changes JSON of the create events of a chunk: its instruments', its records'.

    ``points`` are the records' readings in record order, ``point_counts`` how many each
    record has; ``used`` the ids of the standards each record used, sorted.
    """
    instrument_json = INSTRUMENT_JSON.encode(instruments)
    readings = POINT_JSON.encode(points)
    readings_json: list[str] = []
    start = 0
    for count in point_counts:
        readings_json.append("[" + ",".join(readings[start : start + count]) + "]")
        start += count
    record_json = RECORD_JSON.encode(
        records, {"points": readings_json, "standards": list(map(json_list, used))}
    )
    checks = JSON_CHECKS
    general = general_json(instruments[:checks], records[:checks], points, used[:checks])
    if general == (instrument_json[:checks], record_json[:checks]):
        return instrument_json, record_json
    log.warning("demo JSON differs from canonical_json; this chunk is written the general way")
    return general_json(instruments, records, points, used)


def general_json(
    instruments: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    points: Iterable[dict[str, Any]],
    used: Sequence[list[int]],
) -> tuple[list[str], list[str]]:
    """``chunk_json`` the general way, row by row through ``canonical_json``."""
    instrument_json = [
        canonical_json(created_row(inst, INSTRUMENT_AUDITED)) for inst in instruments
    ]
    wanted = {rec["id"] for rec in records}
    by_record: defaultdict[int, list[list[Any]]] = defaultdict(list)
    for p in points:
        if p["record_id"] in wanted:
            by_record[p["record_id"]].append([p[k] for k in POINT_FIELDS])
    record_json: list[str] = []
    for rec, stds in zip(records, used, strict=True):
        changes = created_row(rec, RECORD_AUDITED)
        changes["points"] = [None, by_record[rec["id"]]]
        changes["standards"] = [None, stds]
        record_json.append(canonical_json(changes))
    return instrument_json, record_json
