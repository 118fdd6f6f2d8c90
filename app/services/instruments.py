"""Instrument use cases: register, edit with conflict detection, list, show."""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import Instrument
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.plain_text import control_problem, tag_key
from app.repositories.instruments import DueFilter, ListQuery, ListRow
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter, decode_event, instrument_trail
from app.services.checks import check_views
from app.services.custody import custody_view
from app.services.dto import (
    InstrumentChanges,
    InstrumentDetail,
    InstrumentHistory,
    InstrumentInput,
    InstrumentPage,
    InstrumentRow,
    StatedUncertainty,
    to_jsonable,
)
from app.services.due import due_status, next_due_for
from app.services.instrument_rows_fast import fast_rows_agree, filled_rows
from app.services.lookups import require_instrument
from app.services.read_views import attachment_view, calibration_views
from app.services.review import appended, instrument_problems, sentence
from app.services.schedules import give_type_defaults_in, schedule_views
from app.services.settings import due_soon_days
from app.services.snapshots import (
    created,
    custom_values,
    diff,
    instrument_snapshot,
    search_text_of,
)
from app.services.standard_uncertainty import checked_stated, set_stated, stated_of
from app.services.types import apply_type
from app.services.upkeep import maintenance_view
from app.services.upkeep_rules import awaiting_before_use, due_at_latest
from app.services.validation import parse_date, validate_instrument_fields
from app.vocabulary import Lifecycle, Requirement


class Unchanged:
    """The type of ``UNCHANGED``: an edit that leaves a field alone (None clears it)."""


UNCHANGED = Unchanged()
SETTING_TTL_S = 5.0  # how stale the shared due-soon window may be in list queries

REQUIREMENT_WORDS = {
    "periodic": "periodic calibration",
    "verify_before_use": "verify before use",
    "not_required": "calibration not required",
}


def requirement_problems(requirement: str, reason: str) -> dict[str, str]:
    """What is wrong with this requirement and its reason (nothing: an empty dict).

    "Not required" must say why (kept for parts, a reference item, verified by another
    instrument): an auditor asks. A periodic instrument has no such reason.
    """
    if requirement == "not_required" and not reason:
        return {
            "requirement_reason": "give the reason calibration is not required (for "
            "example kept for parts, a reference item, output verified by another instrument)"
        }
    if requirement == "periodic" and reason:
        return {
            "requirement_reason": "only an instrument that is not calibrated periodically "
            "has a requirement reason; choose verify before use or not required, or leave "
            "it empty"
        }
    return {}


def row_of(r: Any, today: date, soon_days: int) -> InstrumentRow:
    """A list row from the repository's plain row."""
    return InstrumentRow(
        id=r.id,
        asset_tag=r.asset_tag,
        description=r.description,
        manufacturer=r.manufacturer,
        model=r.model,
        serial_number=r.serial_number,
        location=r.location,
        lifecycle=r.status,
        due_status=due_status(r.status, r.next_due, today, soon_days, r.calibration_requirement),
        interval_days=r.calibration_interval_days,
        last_calibrated=r.last_calibrated,
        next_due=r.next_due,
        version=r.version,
        requirement=r.calibration_requirement,
        review_reason=r.review_reason,
        holder=r.holder,
        next_check=r.next_check,
        check_before_use=r.check_before_use,
    )


def rows_of(rows: Sequence[ListRow], today: date, soon_days: int) -> builtins.list[InstrumentRow]:
    """``row_of`` for each of a page of rows."""
    if _FAST_ROWS and rows:
        return filled_rows(rows, today, soon_days)
    return [row_of(r, today, soon_days) for r in rows]


# Checked once at import: a list page is built the fast way only while it agrees.
_FAST_ROWS = fast_rows_agree(row_of)


def detail_of(obj: Instrument, today: Any, soon_days: int, type_name: str = "") -> InstrumentDetail:
    return InstrumentDetail(
        id=obj.id,
        asset_tag=obj.asset_tag,
        description=obj.description,
        manufacturer=obj.manufacturer,
        model=obj.model,
        serial_number=obj.serial_number,
        firmware_version=obj.firmware_version,
        category=obj.category,
        location=obj.location,
        owner=obj.owner,
        # The schema's CHECK constraints allow only the vocabulary's values.
        lifecycle=cast(Lifecycle, obj.status),
        due_status=due_status(
            obj.status, obj.next_due, today, soon_days, obj.calibration_requirement
        ),
        calibration_interval_days=obj.calibration_interval_days,
        grace_days=obj.grace_days,
        range_text=obj.range_text,
        resolution_text=obj.resolution_text,
        accuracy_text=obj.accuracy_text,
        last_calibrated=obj.last_calibrated,
        next_due=obj.next_due,
        notes=obj.notes,
        created_at=obj.created_at,
        created_by=obj.created_by,
        updated_at=obj.updated_at,
        updated_by=obj.updated_by,
        version=obj.version,
        calibration_requirement=cast(Requirement, obj.calibration_requirement),
        requirement_reason=obj.requirement_reason,
        review_reason=obj.review_reason,
        type_name=type_name,
        custom_fields=custom_values(obj.custom_fields),
        stated_uncertainty=stated_of(obj),
    )


def full_detail(uow: UnitOfWork, obj: Instrument, today: date) -> InstrumentDetail:
    """``detail_of`` with the name of the instrument's type read."""
    names = uow.types.names_by_id([obj.type_id]) if obj.type_id is not None else {}
    type_name = names.get(obj.type_id, "") if obj.type_id is not None else ""
    return detail_of(obj, today, due_soon_days(uow), type_name)


class InstrumentService:
    """Register, edit, list and show instruments; every change audited."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._soon_cache: tuple[float, int] | None = None

    # -- reads ---------------------------------------------------------------------

    def _soon_days(self, uow: UnitOfWork) -> int:
        """The due-soon window, re-read at most every few seconds (the list asks a lot)."""
        now = time.monotonic()
        if self._soon_cache is None or now - self._soon_cache[0] > SETTING_TTL_S:
            self._soon_cache = (now, due_soon_days(uow))
        return self._soon_cache[1]

    def list(
        self,
        *,
        status: str | None = None,
        search: str = "",
        sort: str = "next_due",
        descending: bool = False,
        limit: int | None = 100,
        offset: int = 0,
    ) -> InstrumentPage:
        due = self._due_filter(status)
        query = ListQuery(
            due=due, search=search, sort=sort, descending=descending, limit=limit, offset=offset
        )
        today = self._clock.today()

        def read(uow: UnitOfWork) -> InstrumentPage:
            soon = self._soon_days(uow)
            until = today + timedelta(days=soon)
            rows = rows_of(uow.instruments.list_rows(query, today, until), today, soon)
            total = uow.instruments.count(query, today, until)
            return InstrumentPage(rows=rows, total=total)

        return self._uow.read(read)

    def list_ids(
        self,
        *,
        status: str | None = None,
        search: str = "",
        sort: str = "next_due",
        descending: bool = False,
    ) -> builtins.list[int]:
        """Ids of every matching instrument in display order (the GUI fetches rows lazily)."""
        query = ListQuery(
            due=self._due_filter(status),
            search=search,
            sort=sort,
            descending=descending,
            limit=None,
        )
        today = self._clock.today()
        return self._uow.read(
            lambda uow: uow.instruments.list_ids(
                query, today, today + timedelta(days=self._soon_days(uow))
            )
        )

    def rows(self, ids: Sequence[int]) -> dict[int, InstrumentRow]:
        """List rows for these ids (missing ids were deleted or never existed)."""
        today = self._clock.today()

        def read(uow: UnitOfWork) -> dict[int, InstrumentRow]:
            soon = self._soon_days(uow)
            return {r.id: r for r in rows_of(uow.instruments.rows_by_ids(ids), today, soon)}

        return self._uow.read(read)

    @staticmethod
    def _due_filter(status: str | None) -> DueFilter | None:
        try:
            return DueFilter(status) if status else None
        except ValueError:
            choices = ", ".join(d.value for d in DueFilter)
            raise ValidationError({"status": f"must be one of {choices}"}) from None

    def status_counts(self) -> dict[str, int]:
        today = self._clock.today()

        def read(uow: UnitOfWork) -> dict[str, int]:
            until = today + timedelta(days=self._soon_days(uow))
            counts = uow.instruments.status_counts(today, until)
            result = {d.value: n for d, n in counts.items()}
            result["all"] = uow.instruments.total()
            return result

        return self._uow.read(read)

    def tag_of(self, instrument_id: int) -> str:
        """The asset tag of an instrument known by id (the list works with ids)."""

        def read(uow: UnitOfWork) -> str:
            tags = uow.instruments.tags_by_id([instrument_id])
            if instrument_id not in tags:
                raise NotFoundError(f"instrument #{instrument_id} no longer exists; refresh")
            return tags[instrument_id]

        return self._uow.read(read)

    def get(self, tag: str) -> InstrumentDetail:
        today = self._clock.today()
        return self._uow.read(lambda uow: full_detail(uow, require_instrument(uow, tag), today))

    def history(self, tag: str) -> InstrumentHistory:
        """The instrument with its calibrations, attachments and audit trail."""
        today = self._clock.today()

        def read(uow: UnitOfWork) -> InstrumentHistory:
            obj = require_instrument(uow, tag)
            records = uow.calibrations.history(obj.id)
            std_ids = sorted({s.standard_id for r in records for s in r.standards})
            tags = uow.instruments.tags_by_id(std_ids)
            tags[obj.id] = obj.asset_tag
            attachments = uow.attachments.for_instrument(obj.id)
            record_ids = [r.id for r in records]
            # Its whole trail, by the one rule the audit window filters a tag by.
            trail = uow.audit.for_entities(instrument_trail(uow, obj.id, record_ids=record_ids))
            return InstrumentHistory(
                instrument=full_detail(uow, obj, today),
                calibrations=calibration_views(uow, records, tags),
                attachments=[attachment_view(a, tags) for a in attachments],
                audit=[decode_event(e) for e in trail],
                custody=[custody_view(c, obj, today) for c in uow.custody.history(obj.id)],
                maintenance=[
                    maintenance_view(obj.asset_tag, e)
                    for e in uow.maintenance_events.history(obj.id)
                ],
                schedules=schedule_views(uow, obj, today),
                checks=check_views(uow, uow.checks.history(obj.id)),
            )

        return self._uow.read(read)

    # -- writes --------------------------------------------------------------------

    def add(
        self,
        data: InstrumentInput,
        *,
        reason: str = "",
        type_name: str | None = None,
        custom: Mapping[str, str] | None = None,
        interval_from_type: bool = False,
        stated: StatedUncertainty | None = None,
    ) -> InstrumentDetail:
        """Register a new instrument, of type ``type_name`` with ``custom`` field values.

        ``interval_from_type``: the interval was not given, so the type's default
        interval (if it has one) is the instrument's. ``stated``: the expanded
        uncertainty stated on it as a standard (``app.services.standard_uncertainty``).
        """
        # Fail before any transaction.
        validate_instrument_fields(data.field_values(), partial=False)
        today = self._clock.today()

        def write(uow: UnitOfWork) -> InstrumentDetail:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            obj = self.add_in(
                uow,
                audit,
                data,
                reason=reason,
                type_name=type_name,
                custom=custom,
                interval_from_type=interval_from_type,
                stated=stated,
            )
            audit.flush()
            return full_detail(uow, obj, today)

        return self._uow.write(write, label="add instrument")

    def add_in(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        data: InstrumentInput,
        *,
        reason: str = "",
        last_calibrated: date | str | None = None,
        next_due: date | str | None = None,
        flag_inconsistent: bool = False,
        type_name: str | None = None,
        custom: Mapping[str, str] | None = None,
        interval_from_type: bool = False,
        stated: StatedUncertainty | None = None,
    ) -> Instrument:
        """Register an instrument inside the caller's transaction (imports add many).

        ``last_calibrated`` / ``next_due`` come from a register imported without its
        calibration history; without ``next_due`` it follows from the interval.

        ``flag_inconsistent``: the import's one deliberate way past the date rules. Dates
        that contradict each other (a next due on or before the last calibration, a last
        calibration in the future, a placeholder date) are then stored as recorded, and
        the instrument is flagged for QA review with a sentence naming each problem — in
        its stored ``review_reason`` and in the create event's reason. Nothing passes
        unmarked: without this flag such dates are refused as before.
        """
        clean = validate_instrument_fields(data.field_values(), partial=False)
        kind = uow.types.get_by_name(type_name) if interval_from_type and type_name else None
        if kind is not None and kind.default_interval_days is not None:
            clean["calibration_interval_days"] = kind.default_interval_days
        if problems := requirement_problems(
            clean["calibration_requirement"], clean["requirement_reason"]
        ):
            raise ValidationError(problems)
        review = ""
        last_day: date | None = None
        due_day: date | None = None
        if flag_inconsistent:
            errors: dict[str, str] = {}
            last_day = parse_date("last_calibrated", last_calibrated, errors)
            due_day = parse_date("next_due", next_due, errors)
            if errors:
                raise ValidationError(errors)
            review = sentence(instrument_problems(last_day, due_day, self._clock.today()))
        if review:
            self._check_no_due_unless_periodic(clean, due_day)
            due_dates: dict[str, date | None] = {
                "last_calibrated": last_day,
                "next_due": due_day
                if due_day is not None
                else next_due_for(
                    clean["calibration_requirement"],
                    last_day,
                    clean["calibration_interval_days"],
                ),
            }
            reason = "; ".join(r for r in (reason, f"flagged for QA review: {review}") if r)
        else:
            due_dates = self._initial_due_dates(clean, last_calibrated, next_due)
        self._check_tag_free(uow, clean["asset_tag"], None)
        obj = Instrument(
            **clean,
            **due_dates,
            review_reason=review,
            asset_tag_key=tag_key(clean["asset_tag"]),
            search_text=search_text_of(clean),
            created_at=audit.now,
            created_by=self._identity.user,
            updated_at=audit.now,
            updated_by=self._identity.user,
        )
        kind = apply_type(uow, obj, type_name, custom) if type_name or custom else None
        set_stated(obj, checked_stated(stated) if stated is not None else None)
        self._flush_unique(uow, lambda: uow.instruments.add(obj), clean["asset_tag"])
        audit.record(
            "instrument",
            obj.id,
            obj.asset_tag,
            "create",
            created(instrument_snapshot(obj)),
            reason,
        )
        if kind is not None:
            # Its type's default check and maintenance schedules, in this transaction.
            give_type_defaults_in(uow, audit, self._identity, obj, kind, self._clock.today())
        return obj

    def edit(
        self,
        tag: str,
        changes: InstrumentChanges,
        *,
        expected_version: int | None = None,
        reason: str = "",
        type_name: str | None = None,
        custom: Mapping[str, str] | None = None,
        stated: StatedUncertainty | Unchanged | None = UNCHANGED,
    ) -> InstrumentDetail:
        """Change fields of an instrument the user loaded at ``expected_version``.

        ``type_name`` sets its type ("" removes it), ``custom`` its custom field values
        by name ("" clears one), ``stated`` the uncertainty stated on it (None clears it).
        """
        if (
            not changes.field_values()
            and type_name is None
            and not custom
            and isinstance(stated, Unchanged)
        ):
            raise ValidationError({"fields": "nothing to change"})
        clean = validate_instrument_fields(changes.field_values(), partial=True)
        today = self._clock.today()

        def write(uow: UnitOfWork) -> InstrumentDetail:
            # The writer reads the chain head: a query, so it comes before any change to
            # the instrument (an autoflush in between would bump the version twice).
            audit = AuditChainWriter(uow, self._identity, self._clock)
            obj = self.edit_in(
                uow,
                audit,
                tag,
                changes,
                expected_version=expected_version,
                reason=reason,
                type_name=type_name,
                custom=custom,
                stated=stated,
            )
            audit.flush()
            return full_detail(uow, obj, today)

        try:
            return self._uow.write(write, label="edit instrument")
        except StaleDataError:
            # Another writer got in between our read and our flush (possible on
            # backends without BEGIN IMMEDIATE): report it as the conflict it is.
            current = self.get(tag)
            raise ConflictError(
                "instrument",
                tag,
                yours=ConflictSide(expected_version or 0, to_jsonable(dict(clean))),
                theirs=ConflictSide(
                    current.version,
                    {k: to_jsonable(getattr(current, k, None)) for k in clean},
                    current.updated_by,
                    to_jsonable(current.updated_at),
                ),
            ) from None

    def edit_in(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        tag: str,
        changes: InstrumentChanges,
        *,
        expected_version: int | None = None,
        reason: str = "",
        type_name: str | None = None,
        custom: Mapping[str, str] | None = None,
        stated: StatedUncertainty | Unchanged | None = UNCHANGED,
    ) -> Instrument:
        """Change an instrument inside the caller's transaction (the audit writer first)."""
        clean = validate_instrument_fields(changes.field_values(), partial=True)
        if isinstance(stated, StatedUncertainty):
            checked_stated(stated)
        obj = require_instrument(uow, tag)
        if expected_version is not None and obj.version != expected_version:
            raise self._conflict(obj, clean, expected_version)
        if "asset_tag" in clean:
            self._check_tag_free(uow, clean["asset_tag"], obj.id)
        if clean.get("status") == "in_service" and obj.status != "in_service":
            self._check_may_return(uow, obj)
        requirement = clean.get("calibration_requirement", obj.calibration_requirement)
        switched = requirement != obj.calibration_requirement
        # The reason it was not periodic no longer holds once it is.
        kept = "" if switched and requirement == "periodic" else obj.requirement_reason
        requirement_reason = clean.get("requirement_reason", kept)
        errors = requirement_problems(requirement, requirement_reason)
        if switched:
            reason = reason.strip() or requirement_reason
            if not reason:
                errors["reason"] = self._switch_reason_missing(obj, requirement)
        if errors:
            raise ValidationError(errors)  # before anything is changed
        # Read before any change (a query after them would flush them early).
        awaiting = awaiting_before_use(uow, obj)
        before = instrument_snapshot(obj)
        type_before = obj.type_id
        kind = None
        if type_name is not None or custom:
            # First: it reads the types, and a query after the changes below would flush
            # them early and bump the version twice.
            kind = apply_type(uow, obj, type_name, custom)
        for name, value in clean.items():
            setattr(obj, name, value)
        if not isinstance(stated, Unchanged):
            set_stated(obj, stated)
        obj.requirement_reason = requirement_reason
        if "asset_tag" in clean:
            obj.asset_tag_key = tag_key(clean["asset_tag"])
        if switched or ("calibration_interval_days" in clean and obj.last_calibrated is not None):
            obj.next_due = next_due_for(
                obj.calibration_requirement, obj.last_calibrated, obj.calibration_interval_days
            )
            due_at_latest(obj, awaiting)  # a repair awaiting its calibration keeps it due
        after = instrument_snapshot(obj)
        changed = diff(before, after)
        if not changed:
            return obj
        obj.search_text = search_text_of(after)
        obj.updated_at = audit.now
        obj.updated_by = self._identity.user
        self._flush_unique(uow, uow.instruments.flush, obj.asset_tag)
        audit.record("instrument", obj.id, obj.asset_tag, "update", changed, reason)
        if kind is not None and obj.type_id != type_before:
            # A new type: the default schedules of kinds the instrument has none of
            # (its own are never overwritten), in this transaction.
            give_type_defaults_in(uow, audit, self._identity, obj, kind, self._clock.today())
        return obj

    def clear_review(
        self, tag: str, reason: str, *, expected_version: int | None = None
    ) -> InstrumentDetail:
        """QA has reviewed the flagged data: clear the flag (QA only, with a reason).

        The audit event keeps the old review reason (as the change from it to "") and
        the reason given for clearing it.
        """
        why = self._review_text(reason)
        today = self._clock.today()

        def write(uow: UnitOfWork) -> InstrumentDetail:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, "qa", "clear an instrument's review flag")
            obj = require_instrument(uow, tag)
            if expected_version is not None and obj.version != expected_version:
                raise self._conflict(obj, {"review_reason": ""}, expected_version)
            if not obj.review_reason:
                raise ValidationError(
                    {"review": f"{obj.asset_tag} has no data flagged for review; nothing to clear"}
                )
            self._set_review(uow, audit, obj, "", "clear review", why)
            audit.flush()
            return full_detail(uow, obj, today)

        return self._write_review(write, tag, expected_version)

    def flag_for_review(
        self, tag: str, reason: str, *, expected_version: int | None = None
    ) -> InstrumentDetail:
        """Put an instrument's data in front of QA by hand (technician or QA; audited).

        ``reason`` says what is to review; it is added to what is already flagged.
        """
        why = self._review_text(reason)
        today = self._clock.today()

        def write(uow: UnitOfWork) -> InstrumentDetail:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, "technician", "flag an instrument for review")
            obj = require_instrument(uow, tag)
            if expected_version is not None and obj.version != expected_version:
                raise self._conflict(obj, {"review_reason": why}, expected_version)
            merged = appended(obj.review_reason, why)
            if merged == obj.review_reason:
                raise ValidationError(
                    {"reason": f"{obj.asset_tag} is already flagged for this: {why}"}
                )
            self._set_review(uow, audit, obj, merged, "flag for review", why)
            audit.flush()
            return full_detail(uow, obj, today)

        return self._write_review(write, tag, expected_version)

    def _write_review(self, write: Any, tag: str, expected_version: int | None) -> InstrumentDetail:
        try:
            result: InstrumentDetail = self._uow.write(write, label="review flag")
        except StaleDataError:
            current = self.get(tag)
            raise ConflictError(
                "instrument",
                tag,
                yours=ConflictSide(expected_version or 0, {}),
                theirs=ConflictSide(
                    current.version,
                    {"review_reason": current.review_reason},
                    current.updated_by,
                    to_jsonable(current.updated_at),
                ),
            ) from None
        return result

    @staticmethod
    def _review_text(reason: str) -> str:
        if problem := control_problem(str(reason), multiline=True):
            raise ValidationError({"reason": problem})
        text = " ".join(str(reason).split())
        if not text:
            raise ValidationError({"reason": "required: say why (it goes into the audit trail)"})
        if len(text) > 500:
            raise ValidationError({"reason": "at most 500 characters"})
        return text

    def _set_review(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        obj: Instrument,
        review: str,
        action: str,
        reason: str,
    ) -> None:
        before = instrument_snapshot(obj)
        obj.review_reason = review
        obj.updated_at = audit.now
        obj.updated_by = self._identity.user
        uow.instruments.flush()
        audit.record(
            "instrument",
            obj.id,
            obj.asset_tag,
            action,
            diff(before, instrument_snapshot(obj)),
            reason,
        )

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _switch_reason_missing(obj: Instrument, requirement: str) -> str:
        """What to say when a switch between periodic, verify before use and not required
        comes without a reason (the edit's, or the new requirement reason, which says why).
        """
        old = REQUIREMENT_WORDS[obj.calibration_requirement]
        new = REQUIREMENT_WORDS[requirement]
        return (
            f"switching {obj.asset_tag} from {old} to {new} needs a reason (kept in the "
            "audit trail); give one with the change"
        )

    def _initial_due_dates(
        self, clean: Mapping[str, Any], last: date | str | None, due: date | str | None
    ) -> dict[str, date | None]:
        errors: dict[str, str] = {}
        last_day = parse_date("last_calibrated", last, errors)
        due_day = parse_date("next_due", due, errors)
        if last_day is not None and last_day > self._clock.today():
            errors["last_calibrated"] = (
                f"{last_day} is in the future; give the date of the last calibration"
            )
        elif last_day is not None and due_day is not None and due_day <= last_day:
            errors["next_due"] = f"{due_day} is not after the last calibration on {last_day}"
        if errors:
            raise ValidationError(errors)
        self._check_no_due_unless_periodic(clean, due_day)
        if due_day is None:
            due_day = next_due_for(
                clean["calibration_requirement"], last_day, clean["calibration_interval_days"]
            )
        return {"last_calibrated": last_day, "next_due": due_day}

    @staticmethod
    def _check_no_due_unless_periodic(clean: Mapping[str, Any], due_day: date | None) -> None:
        if clean["calibration_requirement"] != "periodic" and due_day is not None:
            word = REQUIREMENT_WORDS[clean["calibration_requirement"]]
            raise ValidationError(
                {
                    "next_due": f"{due_day} given, but an instrument with {word} has no next "
                    "due date; leave it empty or make the instrument periodic"
                }
            )

    def _check_may_return(self, uow: UnitOfWork, obj: Instrument) -> None:
        """An open out-of-tolerance case, or a repair awaiting its calibration, keeps an
        instrument out of use until QA says so."""
        awaiting = awaiting_before_use(uow, obj)
        if awaiting:
            names = ", ".join(f"M-{e.id} ({e.performed_on})" for e in awaiting)
            require_role(
                uow,
                self._identity,
                "qa",
                f"put {obj.asset_tag} back in service before the calibration that {names} "
                "needs (recording a passing calibration returns it to service)",
            )
        cases = uow.oot_cases.find(status="open", instrument_id=obj.id)
        if cases:
            names = ", ".join(f"OOT-{c.id}" for c in cases)
            require_role(
                uow,
                self._identity,
                "qa",
                f"put {obj.asset_tag} back in service while {names} is open (closing the "
                "case can return it to service)",
            )

    def _conflict(self, obj: Instrument, clean: Mapping[str, Any], expected: int) -> ConflictError:
        theirs = instrument_snapshot(obj)
        return ConflictError(
            "instrument",
            obj.asset_tag,
            yours=ConflictSide(expected, to_jsonable(dict(clean))),
            theirs=ConflictSide(obj.version, theirs, obj.updated_by, to_jsonable(obj.updated_at)),
        )

    @staticmethod
    def _check_tag_free(uow: UnitOfWork, tag: str, own_id: int | None) -> None:
        existing = uow.instruments.get_by_tag(tag)
        if existing is not None and existing.id != own_id:
            raise ValidationError(
                {
                    "asset_tag": f"{tag!r} is already used by {existing.asset_tag} "
                    f"({existing.description}); asset tags are unique ignoring case and "
                    "look-alike characters"
                }
            )

    @staticmethod
    def _flush_unique(uow: UnitOfWork, flush: Any, tag: str) -> None:
        try:
            flush()
        except IntegrityError as exc:
            if "asset_tag" in str(exc.orig).lower():
                raise ValidationError({"asset_tag": f"{tag!r} is already used"}) from None
            raise
