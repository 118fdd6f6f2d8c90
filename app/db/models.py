"""SQLAlchemy 2 typed models: the tables of a CalTrack database.

Repositories load and store these rows; services work on them only inside a unit of
work (a function that takes a ``UnitOfWork`` may take or return ORM objects), and hand
out plain frozen dataclasses (``app.services.dto``), never the ORM objects themselves:
the window and the command line never see a row, which would lazy-load on the wrong
thread or after its session closed. Field lengths live in ``app.limits``, which the
window may import.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

# Field lengths live in app.limits, where the services and the window read them too.
from app.limits import (
    COST_LEN,
    CURRENCY_LEN,
    ENTRY_KEY_LEN,
    SHORT_LEN,
    TAG_LEN,
    TEXT_LEN,
    TOLERANCE_TEXT_LEN,
    UNIT_LEN,
    USER_LEN,
)

# Named constraints let alembic's batch mode on SQLite find and alter them later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Instrument(Base):
    """A measuring instrument in the register."""

    __tablename__ = "instrument"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset_tag: Mapped[str] = mapped_column(String(TAG_LEN))
    # Upper-cased tag: uniqueness ignoring case, portable to every backend.
    asset_tag_key: Mapped[str] = mapped_column(String(TAG_LEN), unique=True)
    description: Mapped[str] = mapped_column(String(TEXT_LEN))
    manufacturer: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    model: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    serial_number: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    firmware_version: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    category: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    location: Mapped[str] = mapped_column(String(SHORT_LEN), default="", index=True)
    owner: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    status: Mapped[str] = mapped_column(String(20), default="in_service", index=True)
    calibration_interval_days: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    range_text: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    resolution_text: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    accuracy_text: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    last_calibrated: Mapped[date | None] = mapped_column(Date)
    next_due: Mapped[date | None] = mapped_column(Date, index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # periodic, verify_before_use or not_required (app.vocabulary.REQUIREMENTS). An
    # instrument that is not calibrated periodically keeps a positive interval in the
    # column above (SQLite cannot drop its check without copying a table other tables
    # refer to); the services ignore it and keep next_due empty.
    calibration_requirement: Mapped[str] = mapped_column(
        String(20), default="periodic", server_default="periodic"
    )
    requirement_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Why the instrument's data is to be reviewed by QA ("" when it is not): old,
    # self-contradictory history kept as recorded by an import instead of refused.
    review_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Lower-cased haystack for the list search: one column to scan instead of five.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Its instrument type (revision 0011): the test plan a new calibration starts from.
    # Checked by the service and by verify's replay, not by a foreign key: SQLite cannot
    # drop a column a foreign key names (the downgrade) without copying this table, which
    # its children's foreign keys do not allow. Types are never deleted.
    type_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # The values of its type's custom fields: canonical JSON {field name: text}. Kept by
    # name, not by field row, so editing a type never changes an instrument's values.
    custom_fields: Mapped[str] = mapped_column(Text, default="{}", server_default="{}")
    # The expanded uncertainty stated for it as a standard (revision 0013), its coverage
    # factor and unit: what app.services.standard_uncertainty offers as a calibration's
    # starting U when the standard's own calibration has no point near the nominal.
    # NULL (the unit "") on every instrument that states none.
    stated_uncertainty: Mapped[float | None] = mapped_column(Float)
    stated_coverage_factor: Mapped[float | None] = mapped_column(Float)
    stated_uncertainty_unit: Mapped[str] = mapped_column(
        String(UNIT_LEN), default="", server_default=""
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("calibration_interval_days > 0", name="interval_positive"),
        CheckConstraint(
            "status IN ('in_service', 'out_of_service', 'retired', 'lost')", name="status"
        ),
        CheckConstraint(
            "calibration_requirement IN ('periodic', 'verify_before_use', 'not_required')",
            name="calibration_requirement",
        ),
        Index("ix_instrument_status_next_due", "status", "next_due"),
        Index("ix_instrument_asset_tag", "asset_tag"),
    )


class InstrumentType(Base):
    """A kind of instrument with its test plan ("Digital thermometer, 0-150 °C").

    Lab-wide reference data: QA keeps it (see ``app.services.types``). Editing a type
    never changes calibrations already recorded; it only changes what the next
    calibration of an instrument of this type starts from.
    """

    __tablename__ = "instrument_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(TEXT_LEN))
    # app.plain_text.tag_key of the name: unique ignoring case and look-alike characters.
    name_key: Mapped[str] = mapped_column(String(TEXT_LEN), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    # NULL: the instrument's own interval is kept.
    default_interval_days: Mapped[int | None] = mapped_column(Integer)
    # A code app.services.decision_rules.parse_rule reads; NULL: the lab's default rule.
    decision_rule: Mapped[str | None] = mapped_column(String(SHORT_LEN))
    procedure_id: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    procedure_revision: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    # The range and resolution that tolerances in %FS, %span and "+ n digits" need,
    # as typed (exact decimals); "" when the type's tolerances need none.
    range_low: Mapped[str] = mapped_column(String(40), default="")
    range_high: Mapped[str] = mapped_column(String(40), default="")
    resolution: Mapped[str] = mapped_column(String(40), default="")
    # Canonical JSON list of the standard categories a calibration of it needs.
    standard_categories: Mapped[str] = mapped_column(Text, default="[]")
    # Default check and maintenance schedules (revision 0020), given to an instrument
    # when it gets this type and has no schedule of that kind (app.services.schedules):
    # every "30d" / "6m" ("" none), due-soon window (NULL: the lab's), grace, before use.
    # A default of a kind exists when it has an interval or is before use.
    check_every: Mapped[str] = mapped_column(String(12), default="", server_default="")
    check_soon_days: Mapped[int | None] = mapped_column(Integer)
    check_grace_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    check_before_use: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    maintenance_every: Mapped[str] = mapped_column(String(12), default="", server_default="")
    maintenance_soon_days: Mapped[int | None] = mapped_column(Integer)
    maintenance_grace_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    maintenance_before_use: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    points: Mapped[list[TypePoint]] = relationship(
        order_by="TypePoint.seq", cascade="all, delete-orphan"
    )
    fields: Mapped[list[TypeField]] = relationship(
        order_by="TypeField.seq", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "default_interval_days IS NULL OR default_interval_days > 0",
            name="interval_positive",
        ),
    )


class TypePoint(Base):
    """One test point of a type's plan: nominal, tolerance as written, unit."""

    __tablename__ = "type_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_type.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    nominal: Mapped[float] = mapped_column(Float)
    # As written ("±0.5", "±(0.05 % + 2 digits)"): app.services.tolerance_spec reads it.
    tolerance: Mapped[str] = mapped_column(String(SHORT_LEN))
    unit: Mapped[str] = mapped_column(String(UNIT_LEN), default="")


class TypeField(Base):
    """A custom field that instruments of a type carry (shown on the instrument form)."""

    __tablename__ = "type_field"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("instrument_type.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(SHORT_LEN))
    kind: Mapped[str] = mapped_column(String(20))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    # The choices of a "choice" field, as a canonical JSON list ("[]" for other kinds).
    choices: Mapped[str] = mapped_column(Text, default="[]")

    __table_args__ = (CheckConstraint("kind IN ('text', 'number', 'date', 'choice')", name="kind"),)


class CalibrationRecord(Base):
    """One calibration of one instrument. Never deleted: voided with a reason."""

    __tablename__ = "calibration_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    performed_on: Mapped[date] = mapped_column(Date)
    performed_by: Mapped[str] = mapped_column(String(SHORT_LEN))
    provider_kind: Mapped[str] = mapped_column(String(20), default="in_house")
    provider_name: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    certificate_number: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    temperature_c: Mapped[float | None] = mapped_column(Float)
    humidity_pct: Mapped[float | None] = mapped_column(Float)
    result: Mapped[str] = mapped_column(String(20))
    adjustment_made: Mapped[bool] = mapped_column(Boolean, default=False)
    uncertainty: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    next_due: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Why a standard that was overdue or out of service on the day was used anyway.
    standards_justification: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The record this one replaces (that one is voided with the reason). Checked by the
    # service and by verify, not by a foreign key: adding one to this table on SQLite
    # needs a copy of the table, which its children's foreign keys do not allow.
    supersedes_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # The decision rule in force when the record was made, as its code
    # (``app.services.decision_rules.parse_rule`` reads it back). NULL on records made
    # before revision 0010: simple acceptance, which is how they were judged.
    decision_rule: Mapped[str | None] = mapped_column(String(64))
    # Why a point whose TUR is below the lab's minimum was accepted anyway.
    tur_justification: Mapped[str] = mapped_column(Text, default="", server_default="")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    void_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # One entry as typed (a uuid4 the dialog or CLI made): a save repeated after its
    # COMMIT answer was lost finds the record it already made instead of adding another.
    # Unique where set (NULL in older rows and imports); not audited: it says nothing
    # about the calibration, only which save made the row.
    entry_key: Mapped[str | None] = mapped_column(String(ENTRY_KEY_LEN), unique=True, index=True)

    points: Mapped[list[MeasurementPoint]] = relationship(
        order_by="MeasurementPoint.seq", cascade="all, delete-orphan"
    )
    standards: Mapped[list[CalibrationStandard]] = relationship(cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("result IN ('pass', 'fail', 'adjusted')", name="result"),
        CheckConstraint("provider_kind IN ('in_house', 'external')", name="provider_kind"),
        Index("ix_calibration_record_instrument_performed", "instrument_id", "performed_on"),
    )


class MeasurementPoint(Base):
    """One reading of a calibration: nominal, as found, as left, tolerance, and U.

    ``tolerance`` is the ± half-width; for a tolerance written another way it holds the
    wider side's width (what older readers show) and the limits are in
    ``tolerance_lower``/``tolerance_upper``.
    """

    __tablename__ = "measurement_point"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("calibration_record.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    nominal: Mapped[float] = mapped_column(Float)
    as_found: Mapped[float | None] = mapped_column(Float)
    as_left: Mapped[float | None] = mapped_column(Float)
    tolerance: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(UNIT_LEN), default="")
    # Revision 0010 (issue 14); all NULL on older points, which keep today's meaning.
    # Expanded uncertainty U and its coverage factor k, in the point's unit.
    uncertainty: Mapped[float | None] = mapped_column(Float)
    coverage_factor: Mapped[float | None] = mapped_column(Float)
    # The tolerance as written ("±(0.05 % + 2 digits)"); NULL: ± ``tolerance``.
    tolerance_text: Mapped[str | None] = mapped_column(String(TOLERANCE_TEXT_LEN))
    # Its limits at the nominal, resolved when recorded (a later change of the
    # instrument's range or resolution never re-judges the point); NULL with the text.
    tolerance_lower: Mapped[float | None] = mapped_column(Float)
    tolerance_upper: Mapped[float | None] = mapped_column(Float)
    # The test uncertainty ratio (tolerance span over 2U); NULL without U.
    tur: Mapped[float | None] = mapped_column(Float)


class CalibrationStandard(Base):
    """A reference instrument used in a calibration (traceability both ways)."""

    __tablename__ = "calibration_standard"

    record_id: Mapped[int] = mapped_column(ForeignKey("calibration_record.id"), primary_key=True)
    standard_id: Mapped[int] = mapped_column(
        ForeignKey("instrument.id"), primary_key=True, index=True
    )


class Attachment(Base):
    """A file (certificate, photo) owned by an instrument or a calibration record."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instrument.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_record.id"), index=True)
    original_name: Mapped[str] = mapped_column(String(TEXT_LEN))
    stored_name: Mapped[str] = mapped_column(String(TEXT_LEN), unique=True)
    # 64-bit on both backends: PostgreSQL's INTEGER is 32-bit (files of 2 GiB and more,
    # revision 0008); SQLite's INTEGER is 64-bit already, so a file keeps its type.
    size_bytes: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    sha256: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime] = mapped_column(DateTime)
    added_by: Mapped[str] = mapped_column(String(USER_LEN))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    void_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("(instrument_id IS NULL) <> (record_id IS NULL)", name="exactly_one_owner"),
    )


class AttachmentBlob(Base):
    """The content of attachments on a server database, once per distinct sha256.

    A server has no folder beside the database: the bytes live in ``attachment_chunk``,
    written in the transaction that adds the attachment row. Attachments refer to their
    blob by ``attachment.sha256``. On a database file the table stays empty.
    """

    __tablename__ = "attachment_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)


class AttachmentChunk(Base):
    """One slice (about 1 MiB) of a blob; ``seq`` counts from 0 without gaps."""

    __tablename__ = "attachment_chunk"

    sha256: Mapped[str] = mapped_column(ForeignKey("attachment_blob.sha256"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class AuditEvent(Base):
    """One audited change, hash-chained to the event before it."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    user: Mapped[str] = mapped_column(String(USER_LEN), index=True)
    machine: Mapped[str] = mapped_column(String(USER_LEN))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int] = mapped_column(Integer)
    entity_label: Mapped[str] = mapped_column(String(TEXT_LEN), default="")
    action: Mapped[str] = mapped_column(String(40))
    changes: Mapped[str] = mapped_column(Text)  # canonical JSON {field: [before, after]}
    reason: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (Index("ix_audit_event_entity", "entity_type", "entity_id"),)


class UserAccount(Base):
    """A person known to this database: OS login, role, printed name, signing password.

    Logins without an account work as technicians. The signing password is kept only
    as a salted scrypt hash.
    """

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(USER_LEN))
    # Case-folded login: Windows logins are case-insensitive, and one person is one row.
    login_key: Mapped[str] = mapped_column(String(USER_LEN), unique=True)
    display_name: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Deferred: on a server only the owner and the account's own login may read it, so
    # AccountRepository loads it (or its withheld stand-in) with every account.
    signing_hash: Mapped[str | None] = mapped_column(String(TEXT_LEN), deferred=True)
    password_set_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (CheckConstraint("role IN ('technician', 'qa', 'admin')", name="role"),)


SIGNATURE_MEANINGS = ("reviewed", "approved", "closed")


class Signature(Base):
    """An electronic signature on a calibration record or an out-of-tolerance case.

    Never changed or removed. ``content_hash`` binds it to what was signed: sha256 of
    the canonical JSON of the record (or case) as it stood when signed.
    """

    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_record.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("oot_case.id"), index=True)
    meaning: Mapped[str] = mapped_column(String(20))
    signer: Mapped[str] = mapped_column(String(USER_LEN))
    printed_name: Mapped[str] = mapped_column(String(SHORT_LEN))
    signed_at: Mapped[datetime] = mapped_column(DateTime)
    comment: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint("(record_id IS NULL) <> (case_id IS NULL)", name="exactly_one_subject"),
        CheckConstraint("meaning IN ('reviewed', 'approved', 'closed')", name="meaning"),
    )


OOT_DISPOSITIONS = ("no_impact", "results_reassessed", "results_recalled", "other")


class OotCase(Base):
    """An out-of-tolerance case: a calibration or an intermediate check found the
    instrument outside its limits (exactly one of ``record_id`` and ``check_id``).

    QA assesses what the instrument may have affected since its last good calibration
    (ISO/IEC 17025 6.4.9 / 7.10) and closes the case with a signature.
    """

    __tablename__ = "oot_case"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    # What found it: a calibration, or (revision 0019) a failing intermediate check.
    record_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_record.id"), unique=True)
    check_id: Mapped[int | None] = mapped_column(ForeignKey("intermediate_check.id"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    found_on: Mapped[date] = mapped_column(Date)
    last_good_on: Mapped[date | None] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text, default="")
    impact_assessment: Mapped[str] = mapped_column(Text, default="")
    disposition: Mapped[str] = mapped_column(String(40), default="")
    # What QA assessed, frozen at closing: JSON list of the affected calibrations.
    affected_snapshot: Mapped[str] = mapped_column(Text, default="")
    # The OOT impact (app.services.oot_impact) as QA saw it, frozen at closing: JSON.
    # Empty while open, and on cases closed before revision 0012.
    impact_snapshot: Mapped[str] = mapped_column(Text, default="", server_default="")
    # A follow-up case: the case whose impact list it was opened from (revision 0012).
    # No foreign key, as instrument.type_id: SQLite cannot drop a column that names one.
    origin_case_id: Mapped[int | None] = mapped_column(Integer)
    returned_to_service: Mapped[bool] = mapped_column(Boolean, default=False)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed', 'cancelled')", name="status"),
        CheckConstraint(
            "disposition IN ('', 'no_impact', 'results_reassessed', 'results_recalled', 'other')",
            name="disposition",
        ),
        CheckConstraint("(record_id IS NULL) <> (check_id IS NULL)", name="one_source"),
    )


class Provider(Base):
    """An external calibration provider in the lab's register (ISO/IEC 17025 6.6).

    QA keeps it (``app.services.providers``). Never deleted: a provider the lab stops
    using is retired with a reason (``retired_at``/``retired_by``/``retire_reason``), and
    its send-outs keep naming it.
    """

    __tablename__ = "provider"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(SHORT_LEN))
    # app.plain_text.tag_key of the name: unique ignoring case and look-alike characters.
    name_key: Mapped[str] = mapped_column(String(SHORT_LEN), unique=True)
    contact: Mapped[str] = mapped_column(Text, default="")
    accreditation_body: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    accreditation_number: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    scope: Mapped[str] = mapped_column(Text, default="")
    approval: Mapped[str] = mapped_column(String(30), default="approved")
    review_date: Mapped[date | None] = mapped_column(Date)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime)
    retired_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    retire_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "approval IN ('approved', 'conditionally_approved', 'not_approved')", name="approval"
        ),
    )


class SendoutBatch(Base):
    """Instruments sent together to one provider for calibration, and their return.

    Its items are part of it (replaced never, updated on receipt), audited with it as
    entity ``sendout_batch``. Never deleted.
    """

    __tablename__ = "sendout_batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("provider.id"), index=True)
    sent_on: Mapped[date] = mapped_column(Date)
    po_number: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    expected_return: Mapped[date | None] = mapped_column(Date)
    cost: Mapped[float | None] = mapped_column(Float)
    # Why instruments went to a provider that was not approved ("" when it was).
    approval_reason: Mapped[str] = mapped_column(Text, default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    items: Mapped[list[SendoutItem]] = relationship(
        order_by="SendoutItem.seq", cascade="all, delete-orphan"
    )
    # Read only: the batch's provider (its name goes into audit labels and prefills).
    provider: Mapped[Provider] = relationship(viewonly=True)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (CheckConstraint("cost IS NULL OR cost >= 0", name="cost_not_negative"),)


class SendoutItem(Base):
    """One instrument of a send-out batch: when it came back, and what was found.

    ``provider_result`` is what the provider's certificate says; ``lab_result`` what the
    lab's own tolerances and decision rule make of the certificate's readings (the
    calibration record ``record_id``, recorded on receipt). "" until known.
    """

    __tablename__ = "sendout_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("sendout_batch.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    received_on: Mapped[date | None] = mapped_column(Date)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_record.id"))
    provider_result: Mapped[str] = mapped_column(String(20), default="")
    lab_result: Mapped[str] = mapped_column(String(20), default="")

    __table_args__ = (
        CheckConstraint(
            "provider_result IN ('', 'pass', 'fail', 'adjusted')", name="provider_result"
        ),
        CheckConstraint("lab_result IN ('', 'pass', 'fail', 'adjusted')", name="lab_result"),
    )


class Custody(Base):
    """Who has an instrument: a check-out to a person and a place, until its check-in.

    Never deleted: voided with a reason. ``open_instrument_id`` is the instrument's id
    while the check-out is open (not checked in, not void) and NULL otherwise: unique,
    so an instrument has at most one holder on every backend (NULLs never collide), and
    the register finds the holder through it with one indexed join.
    """

    __tablename__ = "custody"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    holder: Mapped[str] = mapped_column(String(SHORT_LEN))
    place: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    due_back: Mapped[date | None] = mapped_column(Date)
    # Why QA let it out although the check-out rules refused it ("" when none refused).
    override_reason: Mapped[str] = mapped_column(Text, default="")
    out_at: Mapped[datetime] = mapped_column(DateTime)
    out_by: Mapped[str] = mapped_column(String(USER_LEN))
    in_at: Mapped[datetime | None] = mapped_column(DateTime)
    in_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    open_instrument_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    void_reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "open_instrument_id IS NULL OR open_instrument_id = instrument_id",
            name="open_is_own",
        ),
    )


class MaintenanceEvent(Base):
    """Something done to or found on an instrument between calibrations (issue 15).

    Maintenance, cleaning, damage found, a malfunction, a repair, a modification or a
    firmware update (ISO/IEC 17025 6.4.13). Never deleted: voided with a reason. One that
    needs a calibration before use (``calibrate_before_use``) makes the instrument due on
    its date and out of service until a calibration after it leaves it in tolerance: the
    rule lives in ``app.services.upkeep_rules``.
    """

    __tablename__ = "maintenance_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    performed_on: Mapped[date] = mapped_column(Date)
    # Who logged it: the signed-in login, as every record's created_by.
    performed_by: Mapped[str] = mapped_column(String(USER_LEN))
    what_done: Mapped[str] = mapped_column(Text)
    # Exact decimal text ("1250.00"), "" when no cost was given: a float would round a
    # price, and SQLite has no decimal type. The currency is the event's own (repairs
    # abroad are invoiced in other currencies); "" when not given.
    cost: Mapped[str] = mapped_column(String(COST_LEN), default="")
    currency: Mapped[str] = mapped_column(String(CURRENCY_LEN), default="")
    # How long the instrument could not be used, in hours; NULL when not given.
    downtime_hours: Mapped[float | None] = mapped_column(Float)
    notes: Mapped[str] = mapped_column(Text, default="")
    calibrate_before_use: Mapped[bool] = mapped_column(Boolean, default=False)
    # What the event forced, so that voiding it can undo that: the instrument's next due
    # before the event made it due on its date, and whether it took the instrument out
    # of service (False when it already was out, or needed no calibration).
    due_before: Mapped[date | None] = mapped_column(Date)
    took_out_of_service: Mapped[bool] = mapped_column(Boolean, default=False)
    # The calibration that satisfied "calibrate before use" (NULL while it is awaited).
    released_by_record_id: Mapped[int | None] = mapped_column(
        ForeignKey("calibration_record.id"), index=True
    )
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    void_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(
            "kind IN ('maintenance', 'cleaning', 'damage_found', 'malfunction', 'repair', "
            "'modification', 'firmware_update')",
            name="kind",
        ),
        CheckConstraint("downtime_hours IS NULL OR downtime_hours >= 0", name="downtime"),
        Index("ix_maintenance_event_instrument_performed", "instrument_id", "performed_on"),
    )


class InstrumentSchedule(Base):
    """A schedule of an instrument besides its calibration (issue 15): intermediate
    checks or maintenance, each with its own interval, due date, due-soon window, grace
    and "before next use" mode.

    The calibration schedule stays in the instrument's own columns (interval, grace,
    next due): it is the first schedule, unchanged. One row per instrument and kind,
    never deleted: clearing a schedule marks it inactive (audited), setting it again
    makes it active.
    """

    __tablename__ = "instrument_schedule"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    # Every N days ("d") or months ("m"); both NULL for a before-use-only schedule.
    interval_count: Mapped[int | None] = mapped_column(Integer)
    interval_unit: Mapped[str | None] = mapped_column(String(1))
    # NULL: the lab's due-soon window (the shared setting).
    soon_days: Mapped[int | None] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer, default=0)
    # Due whenever the instrument is next checked out (again after each check-out).
    before_use: Mapped[bool] = mapped_column(Boolean, default=False)
    # A before-use schedule not yet done since the instrument was last checked out.
    due_before_use: Mapped[bool] = mapped_column(Boolean, default=False)
    last_done: Mapped[date | None] = mapped_column(Date)
    next_due: Mapped[date | None] = mapped_column(Date, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("kind IN ('check', 'maintenance')", name="kind"),
        CheckConstraint(
            "(interval_count IS NULL AND interval_unit IS NULL) OR "
            "(interval_count > 0 AND interval_unit IN ('d', 'm'))",
            name="interval",
        ),
        Index("uq_instrument_schedule_instrument_kind", "instrument_id", "kind", unique=True),
    )


class IntermediateCheck(Base):
    """A quick check of an instrument against a check standard or artefact (17025
    6.4.10): the readings against their limits, pass or fail. Never deleted: voided
    with a reason.
    """

    __tablename__ = "intermediate_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("instrument.id"), index=True)
    performed_on: Mapped[date] = mapped_column(Date)
    performed_by: Mapped[str] = mapped_column(String(SHORT_LEN))
    # The check standard: an instrument of the register, or free text (an artefact).
    standard_id: Mapped[int | None] = mapped_column(ForeignKey("instrument.id"))
    standard_text: Mapped[str] = mapped_column(String(SHORT_LEN), default="")
    # Canonical JSON list of [nominal, reading, limit]: pass when |reading - nominal|
    # is within the limit (app.services.checks computes the result from it).
    readings: Mapped[str] = mapped_column(Text, default="[]")
    result: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    voided_by: Mapped[str | None] = mapped_column(String(USER_LEN))
    void_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(USER_LEN))
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(USER_LEN))
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (CheckConstraint("result IN ('pass', 'fail')", name="result"),)


class Meta(Base):
    """Key/value facts about the database: id, lock epoch, shared settings."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def table_of(model: type[Base]) -> Table:
    """The Core table behind a model, for bulk inserts that skip the ORM."""
    return cast(Table, model.__table__)


def sync_id_sequence(session: Session, model: type[Base]) -> None:
    """After inserting rows with explicit ids: move a PostgreSQL id sequence past them.

    SQLite picks max(id)+1 by itself; PostgreSQL's serial sequence does not see ids
    given by the caller and would hand them out again.
    """
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return
    table = table_of(model)
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
        )
    )
