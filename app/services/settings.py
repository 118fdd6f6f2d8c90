"""Settings shared by everyone using one database (kept in its meta table).

Besides the due-soon window and the editor lock's idle time, the lab's metrology
policy (issue 14): the decision rule a new calibration is judged by unless it names
its own, the minimum TUR below which a record needs a justification, and whether an
indeterminate as-found result opens an out-of-tolerance case. Changing them is QA's
and audited; a record keeps the rule it was judged by (stored on it), so a change here
never re-judges one.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from app.clock import Clock
from app.errors import ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.decision_rules import DecisionRule, parse_rule
from app.services.due import DEFAULT_DUE_SOON_DAYS
from app.services.tolerance_spec import as_decimal, format_number
from app.services.tur import DEFAULT_MINIMUM_TUR

DUE_SOON_KEY = "due_soon_days"
IDLE_KEY = "idle_release_minutes"
DEFAULT_IDLE_MINUTES = 15
# The lab's metrology policy (migration 0010 lets the server's groups write these keys).
RULE_KEY = "decision_rule"
MINIMUM_TUR_KEY = "minimum_tur"
INDETERMINATE_KEY = "indeterminate_opens_case"
# The lab's name and logo, printed on certificates (migration 0014 lets the groups write
# them). The logo is kept in meta as base64: it is one small file that belongs to the lab,
# not to an instrument or record (the attachment store needs one of those as its owner),
# and in meta it is read in the certificate's own transaction on both backends.
LAB_NAME_KEY = "lab_name"
LAB_LOGO_KEY = "lab_logo"
MAX_LAB_NAME = 200
# A logo is printed about 2 cm high: 256 KiB is plenty for a PNG or JPEG of that (and
# keeps meta small: about 350 KB as base64).
MAX_LOGO_BYTES = 256 * 1024
# Printed 18 mm high (about 210 pixels at 300 dpi): 2000 pixels each way is plenty, and
# keeps a small file that unpacks huge (a PNG of one colour) from taking the renderer's
# memory (2000 × 2000 × 4 bytes = 16 MB at most).
MAX_LOGO_PIXELS = 2000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# A minimum TUR above this is a typing slip (100:1 is already far beyond any lab's need).
MAX_MINIMUM_TUR = Decimal(100)


@dataclass(frozen=True)
class LabMetrology:
    """The lab's decision rule, minimum TUR and indeterminate-result policy."""

    decision_rule: DecisionRule
    minimum_tur: Decimal
    indeterminate_opens_case: bool


def lab_metrology(uow: UnitOfWork) -> LabMetrology:
    """The lab's policy; the defaults (simple acceptance, 4:1, off) where none is set.

    A stored value that cannot be read is refused rather than replaced by a default:
    judging a calibration by another rule than the lab's would be silent and wrong.
    """
    rule_code = uow.meta.get(RULE_KEY)
    minimum = uow.meta.get(MINIMUM_TUR_KEY)
    try:
        rule = DecisionRule.simple() if rule_code is None else parse_rule(rule_code)
        tur = DEFAULT_MINIMUM_TUR if minimum is None else as_decimal(minimum, "minimum TUR")
    except ValidationError as error:
        raise ValidationError(
            {
                "settings": "the lab's metrology settings cannot be read ("
                + "; ".join(error.fields.values())
                + "); a QA reviewer sets them again with `settings set`"
            }
        ) from None
    return LabMetrology(rule, tur, uow.meta.get(INDETERMINATE_KEY) == "yes")


# -- the lab's name and logo, printed on certificates -------------------------------------


@dataclass(frozen=True)
class LabIdentity:
    """The lab's name and logo as certificates print them (empty: not set)."""

    name: str
    logo: bytes  # PNG or JPEG bytes; b"" when no logo is set
    logo_kind: str = ""  # "png" or "jpeg"


def image_kind(data: bytes) -> str:
    """ "png" or "jpeg" for a well-formed header with a sane size; else a ValidationError.

    Checked here, without Qt: the PNG signature and its IHDR chunk, or a JPEG's start
    of image and a frame header; both giving a width and height of 1 to MAX_LOGO_PIXELS.
    A file renamed to .png, a truncated one or an empty one is refused before it is
    stored (the certificate renderer must never meet a logo it cannot draw).
    """
    width = height = 0
    kind = ""
    if data.startswith(PNG_SIGNATURE) and len(data) >= 24 and data[12:16] == b"IHDR":
        kind = "png"
        width, height = struct.unpack(">II", data[16:24])
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
        width, height = _jpeg_size(data)
    if not kind:
        raise ValidationError({"lab_logo": "is not a PNG or JPEG image; give a .png or .jpg file"})
    if not (0 < width <= MAX_LOGO_PIXELS and 0 < height <= MAX_LOGO_PIXELS):
        raise ValidationError(
            {
                "lab_logo": f"the {kind.upper()} image says it is {width}×{height} pixels; "
                f"a logo is 1 to {MAX_LOGO_PIXELS} pixels each way (is the file damaged?)"
            }
        )
    return kind


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's first frame header (SOF0…SOF15 but DHT, JPG, DAC);
    (0, 0) when the segments run out first (a damaged or truncated file)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return 0, 0
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if at + 9 > len(data):
                return 0, 0
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        if length < 2:
            return 0, 0
        at += 2 + length
    return 0, 0


def read_logo(path: Path) -> bytes:
    """A logo file's bytes, checked (size cap, a real PNG or JPEG); one clear line if not."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise ValidationError({"lab_logo": f"{path} is not a file; give a PNG or JPEG file"})
        if size > MAX_LOGO_BYTES:
            raise ValidationError(
                {
                    "lab_logo": f"{path.name} is {size:,} bytes; a logo may be at most "
                    f"{MAX_LOGO_BYTES:,} bytes (save it smaller)"
                }
            )
        data = path.read_bytes()
    except OSError as error:
        raise ValidationError(
            {"lab_logo": f"cannot read {path}: {error.strerror or error}"}
        ) from None
    image_kind(data)
    return data


def lab_identity(uow: UnitOfWork) -> LabIdentity:
    """The lab's name and logo; a stored logo that no longer decodes is left out, not
    printed broken (``settings set --lab-logo`` stores it again)."""
    name = uow.meta.get(LAB_NAME_KEY) or ""
    stored = uow.meta.get(LAB_LOGO_KEY) or ""
    try:
        logo = base64.b64decode(stored, validate=True) if stored else b""
        kind = image_kind(logo) if logo else ""
    except (ValueError, ValidationError):
        logo, kind = b"", ""
    return LabIdentity(name, logo, kind)


def _logo_fingerprint(stored: str | None) -> str | None:
    """What the audit trail says of a logo: its size and hash, not its bytes."""
    if not stored:
        return None
    data = base64.b64decode(stored)
    return f"{len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}"


def due_soon_days(uow: UnitOfWork) -> int:
    raw = uow.meta.get(DUE_SOON_KEY)
    try:
        days = int(raw) if raw is not None else DEFAULT_DUE_SOON_DAYS
    except ValueError:
        return DEFAULT_DUE_SOON_DAYS
    return days if 0 <= days <= 365 else DEFAULT_DUE_SOON_DAYS


class SharedSettingsService:
    """Settings everyone using the database shares; changed by the editor, audited."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def shared(self) -> tuple[int, int]:
        """(due-soon window in days, idle minutes before the editor lock is released)."""

        def read(uow: UnitOfWork) -> tuple[int, int]:
            raw = uow.meta.get(IDLE_KEY)
            try:
                idle = int(raw) if raw else DEFAULT_IDLE_MINUTES
            except ValueError:
                idle = DEFAULT_IDLE_MINUTES
            return due_soon_days(uow), idle

        return self._uow.read(read)

    def set_shared(self, due_soon: int, idle_minutes: int) -> None:
        errors = {}
        if not 0 <= due_soon <= 365:
            errors["due_soon_days"] = "must be between 0 and 365 days"
        if not 1 <= idle_minutes <= 24 * 60:
            errors["idle_release_minutes"] = "must be between 1 and 1440 minutes"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> None:
            before = {"due_soon_days": uow.meta.get(DUE_SOON_KEY), IDLE_KEY: uow.meta.get(IDLE_KEY)}
            after = {"due_soon_days": str(due_soon), IDLE_KEY: str(idle_minutes)}
            changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
            if not changes:
                return
            uow.meta.set(DUE_SOON_KEY, str(due_soon))
            uow.meta.set(IDLE_KEY, str(idle_minutes))
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record("settings", 0, "shared settings", "update", changes)
            audit.flush()

        self._uow.write(write, label="settings")

    def metrology(self) -> LabMetrology:
        """The lab's decision rule, minimum TUR and indeterminate-result policy."""
        return self._uow.read(lab_metrology)

    def set_metrology(
        self,
        *,
        decision_rule: str | None = None,
        minimum_tur: str | Decimal | None = None,
        indeterminate_opens_case: bool | None = None,
    ) -> LabMetrology:
        """Change the given parts of the lab's policy (QA only; audited)."""
        after: dict[str, str] = {}
        errors: dict[str, str] = {}
        if decision_rule is not None:
            try:
                after[RULE_KEY] = parse_rule(decision_rule).code
            except ValidationError as error:
                errors.update(error.fields)
        if minimum_tur is not None:
            try:
                value = as_decimal(minimum_tur, "minimum TUR")
                if not 0 < value <= MAX_MINIMUM_TUR:
                    errors["minimum_tur"] = (
                        f"must be more than 0 and at most {MAX_MINIMUM_TUR} (4 means 4:1), "
                        f"not {format_number(value)}"
                    )
                after[MINIMUM_TUR_KEY] = format_number(value)
            except ValidationError:
                errors["minimum_tur"] = f"{minimum_tur!r} is not a number (4 means 4:1)"
        if indeterminate_opens_case is not None:
            after[INDETERMINATE_KEY] = "yes" if indeterminate_opens_case else "no"
        if not after and not errors:
            errors["settings"] = "nothing to change"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> LabMetrology:
            require_role(uow, self._identity, "qa", "change the lab's decision rule settings")
            before = {k: uow.meta.get(k) for k in after}
            changes: dict[str, list[str | None]] = {
                k: [before[k], v] for k, v in after.items() if before[k] != v
            }
            if changes:
                for key, value in after.items():
                    uow.meta.set(key, value)
                audit = AuditChainWriter(uow, self._identity, self._clock)
                audit.record("settings", 0, "shared settings", "update", dict(changes))
                audit.flush()
            return lab_metrology(uow)

        return self._uow.write(write, label="settings")

    def lab(self) -> LabIdentity:
        """The lab's name and logo, as certificates print them."""
        return self._uow.read(lab_identity)

    def set_lab(self, *, name: str | None = None, logo: bytes | None = None) -> LabIdentity:
        """Change the lab's name and/or logo (QA only; audited). ``logo=b""`` removes it.

        The audit trail records the logo's size and hash, not its bytes.
        """
        after: dict[str, str] = {}
        if name is not None:
            clean = " ".join(name.split())
            if len(clean) > MAX_LAB_NAME:
                raise ValidationError(
                    {"lab_name": f"is {len(clean)} characters; at most {MAX_LAB_NAME}"}
                )
            after[LAB_NAME_KEY] = clean
        if logo is not None:
            if len(logo) > MAX_LOGO_BYTES:
                raise ValidationError(
                    {"lab_logo": f"is {len(logo):,} bytes; at most {MAX_LOGO_BYTES:,}"}
                )
            if logo:
                image_kind(logo)
            after[LAB_LOGO_KEY] = base64.b64encode(logo).decode("ascii")
        if not after:
            raise ValidationError({"settings": "nothing to change"})

        def write(uow: UnitOfWork) -> LabIdentity:
            require_role(uow, self._identity, "qa", "change the lab's name or logo")
            before = {k: uow.meta.get(k) or "" for k in after}
            changed = [k for k in after if before[k] != after[k]]
            if changed:
                for key in changed:
                    uow.meta.set(key, after[key])
                shown = {
                    key: (
                        [_logo_fingerprint(before[key]), _logo_fingerprint(after[key])]
                        if key == LAB_LOGO_KEY
                        else [before[key] or None, after[key] or None]
                    )
                    for key in changed
                }
                audit = AuditChainWriter(uow, self._identity, self._clock)
                audit.record("settings", 0, "shared settings", "update", dict(shown))
                audit.flush()
            return lab_identity(uow)

        return self._uow.write(write, label="settings")
