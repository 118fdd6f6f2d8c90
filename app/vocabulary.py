"""The closed vocabularies: every value a status, result, role or case state may take.

A leaf module (no imports from ``app``) so the window, the services, the command line
and the table definitions in ``app.db.models`` name one set of values. Each vocabulary
is a ``Literal`` type (what mypy checks) and a tuple of the same values in display
order (what validation, choices and menus iterate); ``tests/unit/test_vocabulary.py``
holds both, and the CHECK constraints of the schema, to the same list so none can drift.
"""

from __future__ import annotations

from typing import Literal, get_args

# An instrument's lifecycle: where it is, whatever its calibration says.
Lifecycle = Literal["in_service", "out_of_service", "retired", "lost"]
LIFECYCLES: tuple[Lifecycle, ...] = get_args(Lifecycle)

# How an instrument is calibrated: on a schedule, checked before each use, or not at all
# (kept for parts, a reference item, output verified by another instrument).
Requirement = Literal["periodic", "verify_before_use", "not_required"]
REQUIREMENTS: tuple[Requirement, ...] = get_args(Requirement)

# The outcome of one calibration.
Result = Literal["pass", "fail", "adjusted"]
RESULTS: tuple[Result, ...] = get_args(Result)

# Who performed a calibration: the lab itself or an outside provider.
ProviderKind = Literal["in_house", "external"]
PROVIDER_KINDS: tuple[ProviderKind, ...] = get_args(ProviderKind)

# What a person may do; logins without an account work as technicians.
Role = Literal["technician", "qa", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

# Where an out-of-tolerance case stands.
CaseState = Literal["open", "closed", "cancelled"]
CASE_STATES: tuple[CaseState, ...] = get_args(CaseState)

# What a custom field of an instrument type holds (issue 14).
FieldKind = Literal["text", "number", "date", "choice"]
FIELD_KINDS: tuple[FieldKind, ...] = get_args(FieldKind)

# Whether the lab may send instruments to an external calibration provider (17025 6.6):
# sending to one that is not approved needs a reason, kept in the audit trail.
Approval = Literal["approved", "conditionally_approved", "not_approved"]
APPROVALS: tuple[Approval, ...] = get_args(Approval)
# Where a check-out of an instrument stands (issue 15): still out, back, or voided.
CustodyState = Literal["out", "returned", "void"]
CUSTODY_STATES: tuple[CustodyState, ...] = get_args(CustodyState)
# What happened to an instrument between calibrations (issue 15's maintenance log,
# ISO/IEC 17025 6.4.13): routine upkeep, or damage, malfunction, repair or change.
MaintenanceKind = Literal[
    "maintenance",
    "cleaning",
    "damage_found",
    "malfunction",
    "repair",
    "modification",
    "firmware_update",
]
MAINTENANCE_KINDS: tuple[MaintenanceKind, ...] = get_args(MaintenanceKind)
# The schedules an instrument has besides its calibration (issue 15), and a check's verdict.
ScheduleRowKind = Literal["check", "maintenance"]
SCHEDULE_ROW_KINDS: tuple[ScheduleRowKind, ...] = get_args(ScheduleRowKind)
CheckResult = Literal["pass", "fail"]
CHECK_RESULTS: tuple[CheckResult, ...] = get_args(CheckResult)
