"""The stored readings of an intermediate check: one home for reading them back.

``app.services.checks`` writes them; the out-of-tolerance case a failing check opens
(``app.services.oot``) and its impact list (``app.services.oot_impact``) read them.
"""

from __future__ import annotations

import json

from app.db.models import IntermediateCheck
from app.services.dto import CheckReading


def readings_of(stored: str) -> tuple[CheckReading, ...]:
    """The readings of ``intermediate_check.readings`` (canonical JSON of triples)."""
    try:
        rows = json.loads(stored or "[]")
        return tuple(CheckReading(float(a), float(b), float(c)) for a, b, c in rows)
    except (ValueError, TypeError):
        return ()  # changed outside CalTrack: verify's replay says so


def check_found(check: IntermediateCheck) -> str:
    """Where a case a check opened came from, in words ("intermediate check #5 on 2026-03-02")."""
    return f"intermediate check #{check.id} on {check.performed_on}"
