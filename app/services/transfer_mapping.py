"""Which column holds which field: the column catalogue, the guess, overrides, the header.

One catalogue per kind serves both directions: the export writes each column's
``label`` as its header, and the import recognises the label and the usual synonyms
(case, spaces and punctuation ignored: "Asset no.", "S/N", "Cal date"...). So what an
export writes, an import reads back.

Units: the interval is in days ("Interval", "Interval (days)"); a header that says
months ("Interval (months)") or years is converted (months × 365 / 12, rounded; years ×
365). Informational columns of an export (record id, creation stamps) are recognised
and deliberately not imported: the audit trail says who imported what and when.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.services.transfer_model import ColumnMap, ImportMapping

# What an import reads: the register, calibration history, and issue 15's check and
# maintenance schedules, intermediate checks, maintenance log, providers, custody and
# send-outs (the sheets an export writes).
KINDS = (
    "instruments",
    "calibrations",
    "schedules",
    "checks",
    "maintenance",
    "providers",
    "custody",
    "sendouts",
)
IGNORE = ("", "-", "ignore", "none")
# How far down a sheet the header row may be (title rows, merged banners above it).
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True)
class ColumnSpec:
    """One column an import reads and (unless ``alias``) an export writes."""

    field: str
    label: str  # the export's header
    synonyms: tuple[str, ...] = ()
    # text, int, months, years, date, moment, number, bool, readings, tags, note (a
    # line added to the notes), custom (custom field values, NAME=VALUE; ...), stated
    # (a standard's stated uncertainty, VALUE[:K[:UNIT]])
    kind: str = "text"
    required: bool = False
    informational: bool = False  # exported for people, recognised, not imported
    alias: bool = False  # another spelling of a field (e.g. the interval in months)
    width: int = 14

    @property
    def describes(self) -> str:
        """What the preview says the column becomes."""
        if self.informational:
            return "not imported (bookkeeping of the export)"
        if self.kind == "months":
            return "calibration interval (months → days: × 365 / 12, rounded)"
        if self.kind == "years":
            return "calibration interval (years → days: × 365)"
        if self.kind == "stated":
            return "stated uncertainty of a standard (U:k:unit, as --stated-u takes it)"
        if self.kind == "note":
            return (
                f"added to the notes as “{self.label}: …” (CalTrack keeps no provider for a "
                "calibration it has no record of)"
            )
        return self.label.lower()


_TAG = ColumnSpec(
    "asset_tag",
    "Asset tag",
    (
        "tag",
        "asset",
        "assetno",
        "assetnumber",
        "assetid",
        "equipmentid",
        "equipmentno",
        "equipmentnumber",
        "instrumentid",
        "instrumenttag",
        "inventoryno",
        "inventorynumber",
        "inventarnummer",
        "inventarnr",
        "gaugeid",
        "idno",
    ),
    required=True,
)

INSTRUMENT_COLUMNS: tuple[ColumnSpec, ...] = (
    _TAG,
    ColumnSpec(
        "description",
        "Description",
        (
            "name",
            "desc",
            "instrument",
            "instrumentname",
            "equipment",
            "equipmentname",
            "designation",
            "bezeichnung",
            "item",
        ),
        required=True,
        width=30,
    ),
    ColumnSpec(
        "manufacturer", "Manufacturer", ("mfr", "mfg", "make", "maker", "brand", "hersteller")
    ),
    ColumnSpec("model", "Model", ("modelno", "modelnumber", "type", "typ")),
    ColumnSpec(
        "serial_number",
        "Serial number",
        ("serial", "sn", "serialno", "snr", "serialnr", "seriennummer"),
    ),
    ColumnSpec(
        "firmware_version",
        "Firmware version",
        ("firmware", "fw", "fwversion", "software", "softwareversion"),
    ),
    ColumnSpec("category", "Category", ("class", "group", "kategorie", "equipmenttype")),
    ColumnSpec("location", "Location", ("room", "site", "place", "standort", "ort")),
    ColumnSpec(
        "owner",
        "Owner",
        ("department", "dept", "ownerdepartment", "responsible", "custodian", "abteilung"),
    ),
    ColumnSpec("status", "Status", ("state", "lifecycle")),
    ColumnSpec(
        "calibration_interval_days",
        "Interval (days)",
        (
            "interval",
            "intervaldays",
            "calibrationinterval",
            "calibrationintervaldays",
            "calinterval",
            "calintervaldays",
            "frequencydays",
        ),
        kind="int",
    ),
    ColumnSpec(
        "calibration_interval_months",
        "Interval (months)",
        (
            "intervalmonths",
            "intervalmo",
            "calibrationintervalmonths",
            "calintervalmonths",
            "frequencymonths",
            "months",
        ),
        kind="months",
        alias=True,
    ),
    ColumnSpec(
        "calibration_interval_years",
        "Interval (years)",
        ("intervalyears", "calibrationintervalyears", "calintervalyears", "years"),
        kind="years",
        alias=True,
    ),
    ColumnSpec("grace_days", "Grace days", ("grace", "graceperiod", "graceperioddays"), kind="int"),
    # Whether it is calibrated on a schedule at all: a register says "CNR", "Cal required:
    # N", "Verify before use" (its values are mapped like a status's).
    ColumnSpec(
        "calibration_requirement",
        "Calibration requirement",
        (
            "requirement",
            "calrequirement",
            "calibrationrequired",
            "calrequired",
            "calreq",
            "cnr",
            "ncr",
            "calibrationnotrequired",
            "calibrationtype",
            "caltype",
        ),
        width=18,
    ),
    ColumnSpec(
        "requirement_reason",
        "Requirement reason",
        ("cnrreason", "calibrationrequirementreason", "reasonnotrequired", "whynotcalibrated"),
        width=24,
    ),
    ColumnSpec("range_text", "Range", ("measuringrange", "measurementrange", "messbereich")),
    ColumnSpec("resolution_text", "Resolution", ("auflosung",)),
    ColumnSpec(
        "accuracy_text",
        "Accuracy",
        (
            "genauigkeit",
            "tolerance",
            "tol",
            "toleranz",
            "acc",
            "accuracyclass",
            "accuracytolerance",
            "mpe",
            "maxpermissibleerror",
            "maximumpermissibleerror",
        ),
    ),
    # Issue 14: the instrument's type by name (a type the database has: `types import`
    # brings a lab's types first), and its custom field values in one cell, written as
    # `--custom` takes them: "Probe serial=PS-778; Probe kind=Pt100" (a ";" inside a
    # value doubled). One cell rather than a column per field: every instrument of any
    # type fits one sheet, and the column maps like every other.
    ColumnSpec("type_name", "Instrument type", ("instrumenttype", "typename"), width=24),
    ColumnSpec(
        "custom_fields",
        "Custom fields",
        ("customfields", "customvalues"),
        kind="custom",
        width=30,
    ),
    # The expanded uncertainty stated on it as a standard, in one cell as `--stated-u`
    # takes it: VALUE[:K[:UNIT]] ("0.02:2:°C"), like the custom fields cell: one column
    # that maps like any other rather than three that only mean something together.
    ColumnSpec(
        "stated_uncertainty",
        "Stated U",
        ("statedexpandeduncertainty",),
        kind="stated",
        width=16,
    ),
    ColumnSpec(
        "last_calibrated",
        "Last calibrated",
        (
            "lastcalibration",
            "lastcal",
            "lastcaldate",
            "lastcalibrationdate",
            "caldate",
            "calibrationdate",
            "calibratedon",
            "calibrated",
        ),
        kind="date",
        width=12,
    ),
    ColumnSpec(
        "next_due",
        "Next due",
        (
            "due",
            "duedate",
            "nextduedate",
            "nextcalibration",
            "nextcalibrationdue",
            "nextcaldue",
            "nextcaldate",
            "calibrationdue",
        ),
        kind="date",
        width=12,
    ),
    ColumnSpec("notes", "Notes", ("note", "comments", "comment", "remarks", "bemerkung"), width=30),
    # Who did the last calibration: a register says it, but an instrument has no such
    # field (providers belong to calibration records, and there is none here). Kept,
    # visibly, as a line of the notes rather than dropped.
    ColumnSpec(
        "last_calibrated_by",
        "Last calibrated by",
        (
            "calibratedby",
            "lastcalibratedby",
            "calibrator",
            "calibrationprovider",
            "calprovider",
            "callab",
            "calibrationlab",
            "calibrationvendor",
            "kalibriertvon",
        ),
        kind="note",
        alias=True,
    ),
    ColumnSpec("created_at", "Created at (UTC)", ("createdat",), informational=True, width=20),
    ColumnSpec("created_by", "Created by", (), informational=True),
    ColumnSpec("updated_at", "Updated at (UTC)", ("updatedat",), informational=True, width=20),
    ColumnSpec("updated_by", "Updated by", (), informational=True),
)

CALIBRATION_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("record_id", "Record id", ("recordno", "record"), informational=True, width=9),
    _TAG,
    ColumnSpec(
        "performed_on",
        "Performed on",
        (
            "date",
            "caldate",
            "calibrationdate",
            "calibratedon",
            "calibrated",
            "dateperformed",
            "datum",
        ),
        kind="date",
        required=True,
        width=12,
    ),
    ColumnSpec("result", "Result", ("outcome", "verdict", "passfail", "ergebnis"), required=True),
    ColumnSpec(
        "performed_by",
        "Performed by",
        ("technician", "calibratedby", "by", "tech", "operator"),
    ),
    ColumnSpec("provider_kind", "Provider kind", ("providertype", "inhouseexternal")),
    ColumnSpec(
        "provider_name",
        "Provider name",
        ("provider", "lab", "laboratory", "calibrationlab", "supplier", "externalprovider"),
    ),
    ColumnSpec(
        "certificate_number",
        "Certificate number",
        ("certificate", "certificateno", "certno", "cert", "certnumber", "zertifikat"),
    ),
    ColumnSpec(
        "temperature_c",
        "Temperature (°C)",
        ("temperature", "temp", "tempc", "ambienttemperature"),
        kind="number",
    ),
    ColumnSpec(
        "humidity_pct",
        "Humidity (%RH)",
        ("humidity", "rh", "humiditypct", "relativehumidity"),
        kind="number",
    ),
    ColumnSpec("adjustment_made", "Adjustment made", ("adjusted", "adjustment"), kind="bool"),
    ColumnSpec("uncertainty", "Uncertainty", ("measurementuncertainty",)),
    ColumnSpec(
        "next_due",
        "Next due",
        ("due", "duedate", "nextduedate", "nextcalibration", "nextcaldue"),
        kind="date",
        width=12,
    ),
    ColumnSpec("next_due_reason", "Next due reason", ("duereason",), width=20),
    ColumnSpec(
        "points",
        "Readings",
        ("points", "measurementpoints", "measurements", "readingsnominalasfoundasleft"),
        kind="readings",
        width=40,
    ),
    ColumnSpec(
        "standards",
        "Standards",
        ("standardsused", "references", "referencestandards", "reference", "standard"),
        kind="tags",
        width=20,
    ),
    ColumnSpec("standards_justification", "Standards justification", ("justification",), width=30),
    # Issue 14: the rule the record was judged by (its code; empty: the lab's default on
    # import) and why a point below the lab's minimum TUR was accepted.
    ColumnSpec("decision_rule", "Decision rule", (), width=22),
    ColumnSpec("tur_justification", "TUR justification", (), width=30),
    ColumnSpec("notes", "Notes", ("note", "comments", "comment", "remarks", "bemerkung"), width=30),
    ColumnSpec("voided_at", "Voided at (UTC)", ("voidedat", "voidedon"), kind="moment", width=20),
    ColumnSpec("voided_by", "Voided by", ()),
    ColumnSpec("void_reason", "Void reason", ("reasonvoided", "voidedbecause"), width=30),
    ColumnSpec(
        "supersedes_id",
        "Supersedes record id",
        ("supersedes",),
        informational=True,
        width=9,
    ),
    ColumnSpec("created_at", "Created at (UTC)", ("createdat",), informational=True, width=20),
    ColumnSpec("created_by", "Created by", (), informational=True),
)

# Issue 15: a check or maintenance schedule per row (the instrument's calibration is its
# own columns). The state columns (last done, next due, due before use, active) are kept
# as recorded on a new schedule, as history keeps its own due dates.
SCHEDULE_COLUMNS: tuple[ColumnSpec, ...] = (
    _TAG,
    ColumnSpec("kind", "Schedule", ("kind", "schedulekind", "scheduletype"), required=True),
    ColumnSpec("every", "Every", ("interval", "frequency", "period"), width=10),
    ColumnSpec("grace_days", "Grace days", ("grace", "graceperiod"), kind="int", width=10),
    ColumnSpec("soon_days", "Due-soon days", ("duesoon", "soondays", "window"), kind="int"),
    ColumnSpec("before_use", "Before use", ("beforenextuse",), kind="bool", width=10),
    ColumnSpec("due_before_use", "Due before use", (), kind="bool", width=10),
    ColumnSpec("last_done", "Last done", ("lastdate", "done"), kind="date", width=12),
    ColumnSpec("next_due", "Next due", ("due", "duedate", "nextduedate"), kind="date", width=12),
    ColumnSpec("active", "Active", ("inuse",), kind="bool", width=8),
)

# Issue 15: intermediate checks, one per row, voided ones with their void.
CHECK_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("check_id", "ID", ("checkid", "checkno"), informational=True, width=8),
    _TAG,
    ColumnSpec(
        "performed_on",
        "Date",
        ("performedon", "checkdate", "checkedon", "dateperformed", "datum"),
        kind="date",
        required=True,
        width=12,
    ),
    ColumnSpec("performed_by", "By", ("performedby", "checkedby", "technician", "operator")),
    ColumnSpec(
        "standard",
        "Standard",
        ("checkstandard", "artefact", "artifact", "reference"),
        required=True,
        width=20,
    ),
    ColumnSpec("readings", "Readings", ("values", "points", "measurements"), width=30),
    ColumnSpec("result", "Result", ("outcome", "passfail", "ergebnis")),
    ColumnSpec("notes", "Notes", ("note", "comments", "comment", "remarks"), width=30),
    ColumnSpec("voided_at", "Voided at", ("voidedat", "voidedon"), kind="moment", width=20),
    ColumnSpec("voided_by", "Voided by", ()),
    ColumnSpec("void_reason", "Void reason", ("reasonvoided", "voidedbecause"), width=30),
    # The case a failing check opened here: a case is QA's, opened by the check when it
    # is entered (an imported check, like an imported calibration, opens none).
    ColumnSpec("oot_case", "OOT case", ("ootcase",), informational=True, width=10),
)

# Issue 15: the maintenance log (maintenance, damage, repairs...), one event per row,
# voided ones with their void; the export's bookkeeping columns are recognised.
MAINTENANCE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("event_id", "Event", ("eventid", "eventno"), informational=True, width=8),
    _TAG,
    ColumnSpec("kind", "Kind", ("eventkind", "type", "eventtype"), required=True, width=16),
    ColumnSpec(
        "performed_on",
        "Date",
        ("performedon", "eventdate", "dateperformed", "datum"),
        kind="date",
        required=True,
        width=12,
    ),
    ColumnSpec("performed_by", "Logged by", ("loggedby", "by", "performedby", "technician")),
    ColumnSpec(
        "what",
        "What was done",
        ("what", "whatdone", "workdone", "description", "findings", "work"),
        required=True,
        width=40,
    ),
    ColumnSpec("cost", "Cost", ("costs", "price", "amount"), width=12),
    ColumnSpec("currency", "Currency", ("curr",), width=9),
    ColumnSpec("downtime", "Downtime (hours)", ("downtime", "downtimehours", "hoursdown")),
    ColumnSpec(
        "calibrate_before_use",
        "Calibrate before use",
        ("calibratebeforeuse", "calibrationneeded", "needscalibration"),
        kind="bool",
        width=10,
    ),
    ColumnSpec("released_by", "Calibrated by record", ("calibratedbyrecord",), informational=True),
    ColumnSpec("notes", "Notes", ("note", "comments", "comment", "remarks"), width=30),
    ColumnSpec("voided_at", "Voided at (UTC)", ("voidedat", "voidedon"), kind="moment", width=20),
    ColumnSpec("voided_by", "Voided by", ()),
    ColumnSpec("void_reason", "Void reason", ("reasonvoided", "voidedbecause"), width=30),
    ColumnSpec("created_at", "Logged at (UTC)", ("loggedat",), informational=True, width=20),
)

# Issue 15: the register of external providers, one per row, keyed by its name (folded
# as asset tags are); a retired one with its retirement.
PROVIDER_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec(
        "name",
        "Provider",
        ("providername", "name", "supplier", "laboratory", "lab", "vendor"),
        required=True,
        width=24,
    ),
    ColumnSpec("approval", "Approval", ("approvalstatus", "status", "approved"), width=20),
    ColumnSpec("review_date", "Review date", ("nextreview", "reviewdue", "review"), kind="date"),
    ColumnSpec("accreditation_body", "Accreditation body", ("accreditedby", "body")),
    ColumnSpec(
        "accreditation_number",
        "Accreditation number",
        ("accreditationno", "accreditationid", "certificateno"),
    ),
    ColumnSpec("scope", "Scope", ("accreditationscope",), width=30),
    ColumnSpec("contact", "Contact", ("contacts", "email", "phone", "address"), width=30),
    ColumnSpec("retired_at", "Retired", ("retiredat", "retiredon"), kind="moment", width=20),
    ColumnSpec("retire_reason", "Retire reason", ("retiredbecause", "whyretired"), width=30),
)

# Issue 15: custody, one check-out per row as the export's Custody sheet writes it; an
# open one has no back time, a voided one its void. History: see ``custody.import_in``.
CUSTODY_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("custody_id", "Entry", ("entryno", "custodyid"), informational=True, width=8),
    _TAG,
    ColumnSpec(
        "holder",
        "With",
        ("holder", "to", "checkedoutto", "person", "borrower", "user"),
        required=True,
        width=20,
    ),
    ColumnSpec("place", "Place", ("location", "where"), width=16),
    ColumnSpec(
        "out_at",
        "Out (UTC)",
        ("out", "outat", "checkedout", "checkedoutat", "checkout", "oututc"),
        kind="moment",
        required=True,
        width=20,
    ),
    ColumnSpec("out_by", "Checked out by", ("outby",), width=14),
    ColumnSpec("due_back", "Due back", ("until", "dueback", "returnby"), kind="date", width=12),
    ColumnSpec(
        "in_at",
        "Back (UTC)",
        ("back", "backat", "inat", "checkedin", "checkedinat", "returnedat", "backutc"),
        kind="moment",
        width=20,
    ),
    ColumnSpec("in_by", "Checked in by", ("inby",), width=14),
    ColumnSpec("override_reason", "QA override reason", ("override", "overridereason"), width=30),
    ColumnSpec(
        "voided_at", "Voided (UTC)", ("voidedat", "voidedon", "voided"), kind="moment", width=20
    ),
    ColumnSpec("voided_by", "Voided by", (), width=14),
    ColumnSpec("void_reason", "Void reason", ("reasonvoided", "voidedbecause"), width=30),
)

# Issue 15: send-outs, one instrument of a batch per row as the export's Send-outs sheet
# writes it (the batch's fields on each row, its cost on its first). Rows of one Batch
# value are one batch. The certificate columns come with a calibration record, which
# is not imported: they are recognised and left out.
SENDOUT_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("batch", "Batch", ("batchno", "batchnumber", "sendout", "sendoutno"), width=10),
    ColumnSpec(
        "provider_name",
        "Provider",
        ("providername", "lab", "laboratory", "supplier", "vendor"),
        required=True,
        width=24,
    ),
    ColumnSpec(
        "sent_on",
        "Sent on",
        ("sent", "senton", "shipped", "shippedon", "datesent"),
        kind="date",
        required=True,
        width=12,
    ),
    ColumnSpec(
        "expected_return",
        "Expected return",
        ("expected", "expectedback", "dueback"),
        kind="date",
        width=12,
    ),
    ColumnSpec("po_number", "PO number", ("po", "pono", "purchaseorder", "ordernumber")),
    ColumnSpec("cost", "Batch cost", ("cost", "costs", "price", "amount"), kind="number"),
    ColumnSpec(
        "approval_reason",
        "Why a provider not approved",
        ("approvalreason", "reason", "whynotapproved"),
        width=30,
    ),
    _TAG,
    ColumnSpec(
        "received_on",
        "Received on",
        ("received", "receivedon", "returnedon", "returned"),
        kind="date",
        width=12,
    ),
    ColumnSpec("record_id", "Calibration", ("calibrationrecord",), informational=True),
    ColumnSpec("provider_result", "Provider's result", (), informational=True),
    ColumnSpec("lab_result", "Lab's result", (), informational=True),
)

COLUMNS: dict[str, tuple[ColumnSpec, ...]] = {
    "instruments": INSTRUMENT_COLUMNS,
    "calibrations": CALIBRATION_COLUMNS,
    "schedules": SCHEDULE_COLUMNS,
    "checks": CHECK_COLUMNS,
    "maintenance": MAINTENANCE_COLUMNS,
    "providers": PROVIDER_COLUMNS,
    "custody": CUSTODY_COLUMNS,
    "sendouts": SENDOUT_COLUMNS,
}

# The interval fields: at most one of them may be mapped.
INTERVAL_FIELDS = (
    "calibration_interval_days",
    "calibration_interval_months",
    "calibration_interval_years",
)


def normalise(header: str) -> str:
    """``"Asset no."`` → ``"assetno"``: accents, case, spaces and punctuation dropped."""
    decomposed = unicodedata.normalize("NFKD", header)
    return "".join(c for c in decomposed.casefold() if c.isalnum())


def exported_columns(kind: str) -> tuple[ColumnSpec, ...]:
    """The columns an export writes, in order (aliases are for reading only)."""
    return tuple(c for c in COLUMNS[kind] if not c.alias)


def spec_of(kind: str, field: str) -> ColumnSpec:
    for spec in COLUMNS[kind]:
        if spec.field == field:
            return spec
    raise KeyError(field)


def _by_name(kind: str) -> dict[str, ColumnSpec]:
    table: dict[str, ColumnSpec] = {}
    for spec in COLUMNS[kind]:
        for name in (spec.field, spec.label, *spec.synonyms):
            table.setdefault(normalise(name), spec)
    return table


def field_choices(kind: str) -> list[str]:
    return [c.field for c in COLUMNS[kind] if not c.informational]


def header_text(value: object) -> str:
    return "" if value is None else str(value).strip()


def find_header(rows: Sequence[Sequence[object]], kind: str) -> int:
    """Index of the header among the first rows: the first that names two known columns.

    Title rows and merged banners above a header name at most one; a file without
    any known header gets its first row as the header (the mapping then says what is
    missing).
    """
    known = _by_name(kind)
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        names = {known[n].field for n in (normalise(header_text(c)) for c in cells) if n in known}
        if len(names) >= 2:
            return index
    return 0


def _letter(index: int) -> str:
    """A column's letter as a spreadsheet shows it (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def layout_key(kind: str, headers: Sequence[str]) -> str:
    """What identifies a file layout for remembering its mapping: kind + normalised header."""
    text = kind + "\x1f" + "\x1f".join(normalise(h) for h in headers)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _find_column(headers: Sequence[str], wanted: str) -> int | None:
    for i, h in enumerate(headers):
        if h == wanted:
            return i
    key = normalise(wanted)
    for i, h in enumerate(headers):
        if key and normalise(h) == key:
            return i
    return None


def build_mapping(
    kind: str,
    headers: Sequence[str],
    *,
    given: Mapping[str, str],
    remembered: Mapping[str, str] | None,
) -> tuple[ImportMapping, list[str]]:
    """The mapping for these headers and the problems with the overrides given.

    Precedence per column: ``given`` (the caller's --map), then ``remembered`` (what
    this user confirmed for this layout), then the guess from the header's name.
    """
    known = _by_name(kind)
    fields = {c.field: c for c in COLUMNS[kind]}
    problems: list[str] = []
    chosen: dict[int, tuple[str | None, str]] = {}
    for header, target in given.items():
        index = _find_column(headers, header)
        if index is None:
            listed = ", ".join(repr(h) for h in headers if h)
            problems.append(f"mapping of {header!r}: the file has no such column ({listed})")
            continue
        wanted = target.strip()
        if wanted.lower() in IGNORE:
            chosen[index] = (None, "given")
            continue
        spec = fields.get(wanted) or known.get(normalise(wanted))
        if spec is None or spec.informational:
            problems.append(
                f"mapping {header!r} to {wanted!r}: unknown field; one of "
                + ", ".join(field_choices(kind))
            )
            continue
        chosen[index] = (spec.field, "given")
    for header, target in (remembered or {}).items():
        index = _find_column(headers, header)
        if index is None or index in chosen:
            continue
        spec = fields.get(target) if target else None
        chosen[index] = (spec.field if spec else None, "remembered")
    columns: list[ColumnMap] = []
    taken: dict[str, str] = {}
    first: dict[str, int] = {}  # field → index of the column that gives it
    for index, header in enumerate(headers):
        field: str | None
        source: str
        if index in chosen:
            field, source = chosen[index]
        else:
            spec = known.get(normalise(header))
            field, source = (spec.field, "guessed") if spec and header else (None, "")
        note = ""
        if field is not None:
            if field in INTERVAL_FIELDS:
                clash = next((f for f in INTERVAL_FIELDS if f in taken), None)
            else:
                clash = field if field in taken else None
            if clash is not None:
                if source == "given":
                    problems.append(
                        f"mapping {header!r} to {field}: column {taken[clash]!r} already gives "
                        f"{fields[clash].label.lower()}; map one of them"
                    )
                elif source == "guessed" and normalise(taken[clash]) == normalise(header):
                    # Two columns of the same name: which one holds the data is a guess
                    # the program must not make (and --map cannot tell them apart).
                    problems.append(
                        f"two columns are named {header!r} (columns {_letter(first[clash])} "
                        f"and {_letter(index)}); rename one of them in the file, then "
                        "import again"
                    )
                note = f"not imported: column {taken[clash]!r} already gives {field}"
                field, source = None, ""
            else:
                taken[field] = header
                first[field] = index
        spec = fields.get(field) if field else None
        columns.append(
            ColumnMap(
                index=index,
                header=header,
                field=field,
                describes=spec.describes if spec else (note or "not imported"),
                source=source,
                informational=bool(spec and spec.informational),
            )
        )
    missing = tuple(
        c.field
        for c in COLUMNS[kind]
        if c.required and not any(col.field == c.field for col in columns)
    )
    return ImportMapping(kind=kind, columns=tuple(columns), missing=missing), problems


def looks_like_other_kind(kind: str, headers: Sequence[str]) -> str | None:
    """Another kind whose required columns are all there (ours are not)."""
    for other in KINDS:
        if other == kind:
            continue
        known = _by_name(other)
        found = {known[n].field for n in (normalise(h) for h in headers) if n in known}
        needed = {c.field for c in COLUMNS[other] if c.required}
        if needed <= found:
            return other
    return None
