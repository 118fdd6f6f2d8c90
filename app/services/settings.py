"""Settings shared by everyone using one database (kept in its meta table).

Besides the due-soon window and the editor lock's idle time, the lab's metrology
policy (issue 14): the decision rule a new calibration is judged by unless it names
its own, the minimum TUR below which a record needs a justification, and whether an
indeterminate as-found result opens an out-of-tolerance case. Changing them is QA's
and audited; a record keeps the rule it was judged by (stored on it), so a change here
never re-judges one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

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
