"""The audit payload written by hand: ``canonical_json`` of an event without the json module.

A bulk write hashes hundreds of thousands of events and ``verify`` rehashes them all;
building the payload dict and encoding it costs more than the hashing. ``fast_payload``
writes the same bytes with the keys in sorted order. ``app.services.audit`` uses it only
while ``fast_payload_agrees`` finds it byte for byte equal to the general way on awkward
samples, and only for exact str/int values; anything else takes the general way. The
bytes are hashed into the chain, so a difference would break ``verify``, never pass it.
"""

from __future__ import annotations

import json
from collections.abc import Callable

# How canonical_json writes a str (ensure_ascii=False): the json module's own encoder.
_json_text = json.encoder.encode_basestring

Payload = Callable[[int, str, str, str, str, int, str, str, str, str], bytes]


def fast_payload(
    event_id: int,
    at: str,
    user: str,
    machine: str,
    entity_type: str,
    entity_id: int,
    entity_label: str,
    action: str,
    changes: str,
    reason: str,
) -> bytes | None:
    """The payload's bytes, or None when a value is not an exact str/int."""
    if not (
        type(event_id) is int
        and type(entity_id) is int
        and type(at) is str
        and type(user) is str
        and type(machine) is str
        and type(entity_type) is str
        and type(entity_label) is str
        and type(action) is str
        and type(changes) is str
        and type(reason) is str
    ):
        return None
    return (
        f'{{"action":{_json_text(action)},"at":{_json_text(at)},'
        f'"changes":{_json_text(changes)},"entity_id":{entity_id},'
        f'"entity_type":{_json_text(entity_type)},"id":{event_id},'
        f'"label":{_json_text(entity_label)},"machine":{_json_text(machine)},'
        f'"reason":{_json_text(reason)},"user":{_json_text(user)}}}'
    ).encode()


# Events as awkward as the trail holds: non-ASCII, quotes, backslashes, control and
# line-separator characters, big and negative ids, empty texts.
_SAMPLES: tuple[tuple[int, str, str, str, str, int, str, str, str, str], ...] = (
    (
        1,
        "2026-02-01T09:30:00.000000Z",
        "bob",
        "LAB-PC",
        "instrument",
        7,
        "TH-7",
        "create",
        '{"asset_tag":[null,"TH-7"]}',
        "",
    ),
    (
        2**40,
        "2026-02-01T09:30:00.000001Z",
        "Zoë Ångström",
        'pc "1" \\ x',
        "calibration",
        -3,
        "µ-Ω ±0.5 °C #9",
        "void",
        '{"notes":["a\\nb","c\\u2028d"]}',
        "tab\there\nnew line \u2028 \x7f \U0001f600",
    ),
)


def fast_payload_agrees(general: Payload) -> bool:
    """True while ``fast_payload`` writes exactly ``general``'s bytes for the samples."""
    return all(fast_payload(*sample) == general(*sample) for sample in _SAMPLES)
