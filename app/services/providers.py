"""The register of external calibration providers (issue 15, ISO/IEC 17025 6.6).

A provider holds a name (unique after the same folding as asset tags), contact,
accreditation body and number, scope, an approval (approved, conditionally approved,
not approved) and the date of its next review. QA keeps the register, as it keeps
instrument types: approving an external provider is the lab's decision on the
suitability of an externally provided service (17025 6.6.2), which is QA's. Technicians
read it, send instruments out (``app.services.sendouts``) and record the certificates.
On a server the grants of revision 0017 enforce the same split.

Every add, edit and retirement is audited as entity ``provider``; ``db verify`` replays
it against the table. A provider is never deleted: it is retired with a reason, and
its send-outs keep naming it.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import Provider
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN, SHORT_LEN
from app.plain_text import tag_key, tag_problem
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.dto import to_jsonable
from app.services.provider_views import ProviderChanges, ProviderInput, ProviderView
from app.services.snapshots import created, diff, provider_snapshot
from app.services.validation import clean_text, parse_date
from app.vocabulary import APPROVALS, Approval

ENTITY = "provider"
KEEPER_ROLE = "qa"  # who adds, edits and retires providers (see the module's notes)


def approval_code(text: str, errors: dict[str, str]) -> str:
    """``conditionally approved`` / ``Conditionally-Approved`` → the stored code."""
    code = " ".join(str(text).split()).lower().replace(" ", "_").replace("-", "_")
    if code not in APPROVALS:
        errors["approval"] = "must be one of " + ", ".join(a.replace("_", " ") for a in APPROVALS)
    return code


def checked_provider(data: ProviderInput) -> dict[str, Any]:
    """Every field checked and made canonical; ValidationError names each problem."""
    errors: dict[str, str] = {}
    name = " ".join(clean_text("name", data.name, SHORT_LEN, errors).split())
    if "name" not in errors:
        if not name:
            errors["name"] = "required: give the provider's name"
        elif problem := tag_problem(name):
            errors["name"] = problem
    clean: dict[str, Any] = {
        "name": name,
        "contact": clean_text("contact", data.contact, NOTES_LEN, errors, multiline=True),
        "accreditation_body": clean_text(
            "accreditation_body", data.accreditation_body, SHORT_LEN, errors
        ),
        "accreditation_number": clean_text(
            "accreditation_number", data.accreditation_number, SHORT_LEN, errors
        ),
        "scope": clean_text("scope", data.scope, NOTES_LEN, errors, multiline=True),
        "approval": approval_code(data.approval, errors),
        "review_date": parse_date("review_date", data.review_date, errors),
    }
    if errors:
        raise ValidationError(errors)
    return clean


def provider_view(obj: Provider) -> ProviderView:
    return ProviderView(
        id=obj.id,
        name=obj.name,
        contact=obj.contact,
        accreditation_body=obj.accreditation_body,
        accreditation_number=obj.accreditation_number,
        scope=obj.scope,
        approval=cast(Approval, obj.approval),
        review_date=obj.review_date,
        retired=obj.retired_at is not None,
        retire_reason=obj.retire_reason or "",
        updated_at=obj.updated_at,
        updated_by=obj.updated_by,
        version=obj.version,
    )


def require_provider(uow: UnitOfWork, name: str) -> Provider:
    provider = uow.providers.get_by_name(name)
    if provider is None:
        raise NotFoundError(f"no provider named {name!r}; `providers list` shows the register")
    return provider


def _check_name_free(uow: UnitOfWork, name: str, own_id: int | None) -> None:
    existing = uow.providers.get_by_name(name)
    if existing is not None and existing.id != own_id:
        raise ValidationError(
            {
                "name": f"{name!r} is already the provider {existing.name!r}; provider "
                "names are unique ignoring case and look-alike characters"
            }
        )


def _flush_unique(flush: Any, name: str) -> None:
    try:
        flush()
    except IntegrityError as exc:
        if "name_key" in str(exc.orig).lower():
            raise ValidationError({"name": f"{name!r} is already a provider"}) from None
        raise


def add_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    clean: dict[str, Any],
    reason: str,
) -> Provider:
    """Register a provider in the caller's transaction (QA; ``clean`` from
    ``checked_provider``)."""
    require_role(uow, identity, KEEPER_ROLE, "add providers")
    _check_name_free(uow, clean["name"], None)
    provider = Provider(
        name_key=tag_key(clean["name"]),
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
        **clean,
    )
    _flush_unique(lambda: uow.providers.add(provider), clean["name"])
    audit.record(
        ENTITY, provider.id, provider.name, "create", created(provider_snapshot(provider)), reason
    )
    return provider


def edit_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    provider: Provider,
    clean: dict[str, Any],
    reason: str,
) -> dict[str, list[Any]]:
    """Bring a provider to ``clean`` (from ``checked_provider``) in the caller's
    transaction (QA); what changed (nothing: no audit event)."""
    require_role(uow, identity, KEEPER_ROLE, "edit providers")
    if provider.retired_at is not None and any(
        getattr(provider, field) != value for field, value in clean.items()
    ):
        # Retired is kept as it was when retired: what the audit shows of it (a typed
        # edit and an import's row alike).
        raise ValidationError(
            {
                "provider": f"{provider.name} is retired ({provider.retire_reason}); "
                "reinstate it before changing it"
            }
        )
    if clean["name"] != provider.name:
        _check_name_free(uow, clean["name"], provider.id)
    before = provider_snapshot(provider)
    for field, value in clean.items():
        setattr(provider, field, value)
    changed = diff(before, provider_snapshot(provider))
    if changed:
        provider.name_key = tag_key(provider.name)
        provider.updated_at = audit.now
        provider.updated_by = identity.user
        _flush_unique(uow.providers.flush, provider.name)
        audit.record(ENTITY, provider.id, provider.name, "update", changed, reason)
    return changed


def retire_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    provider: Provider,
    reason: str,
    imported: tuple[datetime | None, str] | None = None,
) -> None:
    """Retire a provider in the caller's transaction (QA); ``imported``: (retired at,
    retired by) as another CalTrack recorded them (None, "": now, this user)."""
    require_role(uow, identity, KEEPER_ROLE, "retire providers")
    at, by = imported if imported is not None else (None, "")
    before = provider_snapshot(provider)
    provider.retired_at = at or audit.now
    provider.retired_by = by or identity.user
    provider.retire_reason = reason
    provider.updated_at = audit.now
    provider.updated_by = identity.user
    uow.providers.flush()
    audit.record(
        ENTITY,
        provider.id,
        provider.name,
        "void",
        diff(before, provider_snapshot(provider)),
        reason,
    )


class ProviderService:
    """Add, edit, retire, list and show external calibration providers."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    # -- reads ---------------------------------------------------------------------

    def list(self, *, include_retired: bool = True) -> builtins.list[ProviderView]:
        """Every provider by name (retired ones too unless told otherwise)."""

        def read(uow: UnitOfWork) -> builtins.list[ProviderView]:
            views = [provider_view(p) for p in uow.providers.list_all()]
            return [v for v in views if include_retired or not v.retired]

        return self._uow.read(read)

    def get(self, name: str) -> ProviderView:
        return self._uow.read(lambda uow: provider_view(require_provider(uow, name)))

    def today(self) -> date:
        return self._clock.today()

    # -- writes --------------------------------------------------------------------

    def add(self, data: ProviderInput, *, reason: str = "") -> ProviderView:
        """Register a provider (QA)."""
        clean = checked_provider(data)  # fail before any transaction

        def write(uow: UnitOfWork) -> ProviderView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            provider = add_in(uow, audit, self._identity, clean, reason)
            audit.flush()
            return provider_view(provider)

        return self._uow.write(write, label="add provider")

    def edit(
        self,
        name: str,
        changes: ProviderChanges,
        *,
        expected_version: int | None = None,
        reason: str = "",
    ) -> ProviderView:
        """Change a provider loaded at ``expected_version`` (QA)."""
        given = changes.given()
        if not given:
            raise ValidationError({"fields": "nothing to change"})

        def write(uow: UnitOfWork) -> ProviderView:
            require_role(uow, self._identity, KEEPER_ROLE, "edit providers")
            provider = require_provider(uow, name)
            if expected_version is not None and provider.version != expected_version:
                raise self._conflict(provider, given, expected_version)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            current = {
                "name": provider.name,
                "contact": provider.contact,
                "accreditation_body": provider.accreditation_body,
                "accreditation_number": provider.accreditation_number,
                "scope": provider.scope,
                "approval": provider.approval,
                "review_date": provider.review_date,
            }
            clean = checked_provider(ProviderInput(**{**current, **given}))
            edit_in(uow, audit, self._identity, provider, clean, reason)
            audit.flush()
            return provider_view(provider)

        return self._guarded(write, name, given, expected_version, "edit provider")

    def retire(
        self, name: str, *, reason: str, expected_version: int | None = None
    ) -> ProviderView:
        """Retire a provider with a reason (QA): kept, never deleted, no longer offered."""
        if not reason.strip():
            raise ValidationError({"reason": "required: say why the provider is retired"})

        def write(uow: UnitOfWork) -> ProviderView:
            require_role(uow, self._identity, KEEPER_ROLE, "retire providers")
            provider = require_provider(uow, name)
            if expected_version is not None and provider.version != expected_version:
                raise self._conflict(provider, {"retired": True}, expected_version)
            if provider.retired_at is not None:
                raise ValidationError(
                    {"provider": f"{provider.name} was already retired: {provider.retire_reason}"}
                )
            audit = AuditChainWriter(uow, self._identity, self._clock)
            retire_in(uow, audit, self._identity, provider, reason.strip())
            audit.flush()
            return provider_view(provider)

        return self._guarded(write, name, {"retired": True}, expected_version, "retire provider")

    def reinstate(
        self, name: str, *, reason: str, expected_version: int | None = None
    ) -> ProviderView:
        """Take a retired provider back into use with a reason (QA): the only change a
        retired provider accepts."""
        if not reason.strip():
            raise ValidationError({"reason": "required: say why the provider is back in use"})

        def write(uow: UnitOfWork) -> ProviderView:
            require_role(uow, self._identity, KEEPER_ROLE, "reinstate providers")
            provider = require_provider(uow, name)
            if expected_version is not None and provider.version != expected_version:
                raise self._conflict(provider, {"retired": False}, expected_version)
            if provider.retired_at is None:
                raise ValidationError({"provider": f"{provider.name} is not retired"})
            audit = AuditChainWriter(uow, self._identity, self._clock)
            before = provider_snapshot(provider)
            provider.retired_at = None
            provider.retired_by = None
            provider.retire_reason = None
            provider.updated_at = audit.now
            provider.updated_by = self._identity.user
            uow.providers.flush()
            audit.record(
                ENTITY,
                provider.id,
                provider.name,
                "reinstate",
                diff(before, provider_snapshot(provider)),
                reason.strip(),
            )
            audit.flush()
            return provider_view(provider)

        return self._guarded(
            write, name, {"retired": False}, expected_version, "reinstate provider"
        )

    # -- helpers -------------------------------------------------------------------

    def _guarded(
        self,
        write: Callable[[UnitOfWork], ProviderView],
        name: str,
        given: dict[str, Any],
        expected_version: int | None,
        label: str,
    ) -> ProviderView:
        try:
            return self._uow.write(write, label=label)
        except StaleDataError:
            current = self.get(name)
            raise ConflictError(
                ENTITY,
                name,
                yours=ConflictSide(expected_version or 0, to_jsonable(given)),
                theirs=ConflictSide(
                    current.version, {}, current.updated_by, to_jsonable(current.updated_at)
                ),
            ) from None

    @staticmethod
    def _conflict(provider: Provider, given: dict[str, Any], expected: int) -> ConflictError:
        return ConflictError(
            ENTITY,
            provider.name,
            yours=ConflictSide(expected, to_jsonable(dict(given))),
            theirs=ConflictSide(
                provider.version,
                provider_snapshot(provider),
                provider.updated_by,
                to_jsonable(provider.updated_at),
            ),
        )
