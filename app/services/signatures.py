"""Electronic signatures (21 CFR Part 11): QA signs a calibration record or closes a case.

A signature names the signer's printed name and login, its meaning, the UTC time and an
optional comment (11.50), and carries the sha256 of exactly what was signed, so the
signature stays bound to its record (11.70). Signing asks for the signer's own signing
password (11.200); a wrong password is refused and the attempt is recorded in the audit
trail; after a few wrong attempts in a row the password is locked until an admin resets
it. A signed record can no longer be edited, only voided or superseded with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from app.clock import Clock
from app.db.models import CalibrationRecord, OotCase, Signature, UserAccount
from app.errors import NotAllowedError, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import (
    LOCKED_MESSAGE,
    MAX_WRONG_ATTEMPTS,
    attempts_hint,
    require_role,
    wrong_signing_attempts,
)
from app.services.audit import AuditChainWriter, content_hash
from app.services.dto import SignatureView
from app.services.passwords import (
    REFUSED_ACTION,
    SIGNED_ACTION,
    SIGNING_STREAM,
    verify_password,
)
from app.services.snapshots import (
    case_snapshot,
    created,
    signature_snapshot,
    signed_record_content,
)
from app.services.validation import clean_text

RECORD_MEANINGS = ("reviewed", "approved")

T = TypeVar("T")


def record_content_hash(record: CalibrationRecord) -> str:
    return content_hash(signed_record_content(record))


def case_content_hash(case: OotCase) -> str:
    return content_hash(case_snapshot(case))


def signature_view(sig: Signature, *, intact: bool = True) -> SignatureView:
    return SignatureView(
        id=sig.id,
        subject="calibration" if sig.record_id is not None else "oot_case",
        subject_id=sig.record_id if sig.record_id is not None else (sig.case_id or 0),
        meaning=sig.meaning,
        signer=sig.signer,
        printed_name=sig.printed_name,
        signed_at=sig.signed_at,
        comment=sig.comment,
        content_hash=sig.content_hash,
        intact=intact,
    )


@dataclass(frozen=True)
class _Refused:
    """A wrong password: recorded in the trail, then reported to the user."""

    attempts: int


class SignatureCheck:
    """Checks a signer and writes signatures; shared by record signing and case closing."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def signed_write(
        self,
        password: str,
        what: str,
        fn: Callable[[UnitOfWork, AuditChainWriter, UserAccount], T],
        *,
        label: str,
    ) -> T:
        """Verify the password, then run ``fn`` in one write with the signer's account.

        scrypt is slow on purpose, so it runs before the write transaction; inside, the
        stored hash must still be the one that was checked.
        """
        stored = self._uow.read(lambda uow: self._signer(uow, what).signing_hash)
        ok = verify_password(password, stored)

        def write(uow: UnitOfWork) -> T | _Refused:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            signer = self._signer(uow, what)
            if signer.signing_hash != stored:
                raise ValidationError(
                    {"password": "your signing password changed meanwhile; sign again"}
                )
            if not ok:
                earlier = wrong_signing_attempts(uow, signer)  # before this one is written
                audit.record(
                    SIGNING_STREAM,
                    signer.id,
                    signer.login,
                    REFUSED_ACTION,
                    {},
                    f"wrong signing password while trying to {what}",
                )
                audit.flush()
                return _Refused(earlier + 1)
            result = fn(uow, audit, signer)
            audit.flush()
            return result

        outcome = self._uow.write(write, label=label)
        if isinstance(outcome, _Refused):
            raise ValidationError(
                {"password": "wrong signing password " + attempts_hint(outcome.attempts)}
            )
        return outcome

    def _signer(self, uow: UnitOfWork, what: str) -> UserAccount:
        view = require_role(uow, self._identity, "qa", what)
        account = uow.accounts.get(self._identity.user)
        if account is None or not account.signing_hash:
            raise NotAllowedError(
                f"set your signing password first ({view.login} has none): "
                "QA → My signing password… in the window, or `caltrack users set-password`"
            )
        if wrong_signing_attempts(uow, account) >= MAX_WRONG_ATTEMPTS:
            raise NotAllowedError(LOCKED_MESSAGE)
        return account

    def add_signature(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        signer: UserAccount,
        *,
        meaning: str,
        comment: str,
        digest: str,
        record_id: int | None = None,
        case_id: int | None = None,
        label: str,
    ) -> Signature:
        sig = Signature(
            record_id=record_id,
            case_id=case_id,
            meaning=meaning,
            signer=signer.login,
            printed_name=signer.display_name or signer.login,
            signed_at=audit.now,
            comment=comment,
            content_hash=digest,
        )
        uow.signatures.add(sig)
        audit.record("signature", sig.id, label, "sign", created(signature_snapshot(sig)), comment)
        # A good signature ends a run of wrong attempts.
        audit.record(SIGNING_STREAM, signer.id, signer.login, SIGNED_ACTION, {}, label)
        return sig


def clean_comment(comment: str) -> str:
    errors: dict[str, str] = {}
    text = clean_text("comment", comment, NOTES_LEN, errors, multiline=True)
    if errors:
        raise ValidationError(errors)
    return text


class SignatureService:
    """QA signs calibration records: reviewed or approved."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self.check = SignatureCheck(uow=uow, identity=identity, clock=clock)

    def sign_record(
        self,
        record_id: int,
        *,
        meaning: str,
        password: str,
        comment: str = "",
        expected_version: int | None = None,
    ) -> SignatureView:
        """Sign a calibration record with a meaning; it can no longer be edited after."""
        meaning = meaning.strip().lower()
        if meaning not in RECORD_MEANINGS:
            raise ValidationError({"meaning": "must be one of " + ", ".join(RECORD_MEANINGS)})
        text = clean_comment(comment)

        def sign(uow: UnitOfWork, audit: AuditChainWriter, signer: UserAccount) -> SignatureView:
            record = uow.calibrations.get(record_id)
            if record is None:
                raise NotFoundError(f"no calibration record #{record_id}")
            if record.voided_at is not None:
                raise ValidationError(
                    {"record": f"calibration #{record_id} is voided; voided records are not signed"}
                )
            if expected_version is not None and record.version != expected_version:
                raise ValidationError(
                    {
                        "record": f"calibration #{record_id} changed since you opened it "
                        f"(version {expected_version}, now {record.version}); review it again"
                    }
                )
            existing = uow.signatures.for_records([record_id]).get(record_id, [])
            if any(s.signer == signer.login and s.meaning == meaning for s in existing):
                raise ValidationError(
                    {"meaning": f"you already signed calibration #{record_id} as {meaning}"}
                )
            tags = uow.instruments.tags_by_id([record.instrument_id])
            label = f"{tags.get(record.instrument_id, '?')} #{record.id}"
            sig = self.check.add_signature(
                uow,
                audit,
                signer,
                meaning=meaning,
                comment=text,
                digest=record_content_hash(record),
                record_id=record.id,
                label=label,
            )
            return signature_view(sig)

        return self.check.signed_write(
            password, f"sign calibration #{record_id}", sign, label="sign record"
        )

    def for_record(self, record_id: int) -> list[SignatureView]:
        def read(uow: UnitOfWork) -> list[SignatureView]:
            record = uow.calibrations.get(record_id)
            if record is None:
                raise NotFoundError(f"no calibration record #{record_id}")
            digest = record_content_hash(record)
            sigs = uow.signatures.for_records([record_id]).get(record_id, [])
            return [signature_view(s, intact=s.content_hash == digest) for s in sigs]

        return self._uow.read(read)
