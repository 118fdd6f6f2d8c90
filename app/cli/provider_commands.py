"""CLI commands: the provider register and send-out batches (issue 15, ISO/IEC 17025 6.6).

``providers add|list|show|edit|retire|reinstate`` keep the register of external
calibration providers (QA adds, edits, retires and reinstates; everyone reads); a
provider whose review date has passed is pointed out where it is listed or used.
``sendout create --provider P TAG...`` sends instruments out (a provider that is not
approved needs ``--reason``), ``sendout receive BATCH [TAG...]`` marks them back (all
still out when no tag is given), and ``sendout certificate BATCH TAG --result R ...``
records the provider's certificate as a calibration (external, the provider's name) and
compares the result it states with what the lab's own limits make of its readings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from app.cli.common import (
    add_command,
    add_group,
    calibration_args,
    calibration_input,
    open_app,
    version_number,
)
from app.cli.output import print_fields, print_json, print_table
from app.errors import UsageError
from app.services.provider_views import (
    APPROVAL_LABELS,
    ProviderChanges,
    ProviderInput,
    ProviderView,
    SendoutView,
    review_warning,
)
from app.services.sendouts import parse_batch_id
from app.vocabulary import APPROVALS

APPROVAL_WORDS = tuple(a.replace("_", "-") for a in APPROVALS)


def _print_provider(v: ProviderView) -> None:
    print_fields(
        [
            ("Provider", v.name),
            ("Approval", v.approval_label),
            ("Review date", v.review_date or ""),
            ("Accreditation", f"{v.accreditation_body} {v.accreditation_number}".strip()),
            ("Scope", v.scope),
            ("Contact", v.contact),
            ("Retired", v.retire_reason if v.retired else "no"),
            ("Updated", f"{v.updated_at:%Y-%m-%d %H:%M} UTC by {v.updated_by}"),
            ("Version", v.version),
        ]
    )


def _print_batch(v: SendoutView) -> None:
    print_fields(
        [
            ("Batch", v.label),
            ("Provider", f"{v.provider} ({APPROVAL_LABELS[v.provider_approval].lower()})"),
            ("Sent on", v.sent_on),
            ("Expected back", v.expected_return or ""),
            ("PO number", v.po_number),
            ("Cost", "" if v.cost is None else f"{v.cost:,.2f}"),
            ("Why a provider not approved", v.approval_reason),
            ("Notes", v.notes),
            ("State", v.state),
            ("Version", v.version),
        ]
    )
    print()
    print_table(
        ("#", "TAG", "DESCRIPTION", "BACK ON", "CALIBRATION", "CERTIFICATE VS LAB"),
        [
            (
                i.seq,
                i.asset_tag,
                i.description,
                i.received_on or "",
                f"#{i.record_id}" if i.record_id else "",
                i.compare_text,
            )
            for i in v.items
        ],
    )


# -- providers ---------------------------------------------------------------------------


def cmd_providers_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.providers.list(include_retired=args.all)
        today = app.providers.today()
    if args.json:
        print_json({"providers": views})
        return 0
    print_table(
        ("PROVIDER", "APPROVAL", "ACCREDITATION", "REVIEW DATE", "STATE"),
        [
            (
                v.name,
                v.approval_label,
                f"{v.accreditation_body} {v.accreditation_number}".strip(),
                v.review_date or "",
                "retired"
                if v.retired
                else ("review overdue" if v.review_overdue(today) else "in use"),
            )
            for v in views
        ],
    )
    print(f"{len(views)} providers")
    for v in views:
        if not v.retired and (warning := v.review_warning(today)):
            print(f"warning: {warning}")
    return 0


def cmd_providers_show(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        view = app.providers.get(args.name)
    if args.json:
        print_json(view)
    else:
        _print_provider(view)
    return 0


def cmd_providers_add(args: argparse.Namespace) -> int:
    data = ProviderInput(
        name=args.name,
        contact=args.contact or "",
        accreditation_body=args.accreditation_body or "",
        accreditation_number=args.accreditation_number or "",
        scope=args.scope or "",
        approval=args.approval or "approved",
        review_date=args.review_date,
    )
    with open_app(args, edit=True) as app:
        view = app.providers.add(data, reason=args.reason or "")
    if args.json:
        print_json(view)
    else:
        print(f"added provider {view.name} ({view.approval_label.lower()})")
    return 0


def cmd_providers_edit(args: argparse.Namespace) -> int:
    changes = ProviderChanges(
        name=args.rename,
        contact=args.contact,
        accreditation_body=args.accreditation_body,
        accreditation_number=args.accreditation_number,
        scope=args.scope,
        approval=args.approval,
        review_date=args.review_date,
    )
    with open_app(args, edit=True) as app:
        view = app.providers.edit(
            args.name, changes, expected_version=args.expect_version, reason=args.reason or ""
        )
    if args.json:
        print_json(view)
    else:
        print(f"saved provider {view.name} (version {view.version}, {view.approval_label.lower()})")
    return 0


def cmd_providers_retire(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.providers.retire(
            args.name, reason=args.reason, expected_version=args.expect_version
        )
    print(f"retired provider {view.name}: {view.retire_reason}")
    return 0


def cmd_providers_reinstate(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.providers.reinstate(
            args.name, reason=args.reason, expected_version=args.expect_version
        )
    print(f"reinstated provider {view.name} ({view.approval_label.lower()})")
    return 0


# -- send-outs ---------------------------------------------------------------------------


def cmd_sendout_create(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.sendouts.create(
            args.provider,
            args.tags,
            sent_on=args.sent_on,
            po_number=args.po or "",
            expected_return=args.expected,
            cost=args.cost,
            reason=args.reason or "",
            notes=args.notes or "",
        )
        today = app.clock.today()
    # On stderr: the batch is made (exit 0), and --json's stdout stays one document.
    if warning := review_warning(view.provider, view.provider_review_date, today):
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print_json(view)
    else:
        print(
            f"sent {len(view.items)} instrument{'' if len(view.items) == 1 else 's'} to "
            f"{view.provider} as {view.label} on {view.sent_on}"
            + (f", expected back {view.expected_return}" if view.expected_return else "")
        )
    return 0


def cmd_sendout_receive(args: argparse.Namespace) -> int:
    batch = parse_batch_id(args.batch)
    with open_app(args, edit=True) as app:
        before = {i.asset_tag for i in app.sendouts.get(batch).items if i.received_on}
        view = app.sendouts.receive(
            batch, args.tags, received_on=args.on, expected_version=args.expect_version
        )
    if args.json:
        print_json(view)
        return 0
    back = [i.asset_tag for i in view.items if i.received_on and i.asset_tag not in before]
    print(f"received {', '.join(back)} from {view.provider} ({view.label}: {view.state})")
    print(
        "record each certificate: caltrack sendout certificate "
        f"{view.label} TAG --result WHAT_IT_SAYS --performed-on DATE --certificate NUMBER "
        "--point ... [--attach FILE]"
    )
    return 0


def cmd_sendout_certificate(args: argparse.Namespace) -> int:
    attach = Path(args.attach) if args.attach else None
    if attach is not None and not attach.is_file():
        raise UsageError(f"{attach}: no such file (the certificate to attach)")
    batch = parse_batch_id(args.batch)
    typed = calibration_input(args)
    with open_app(args, edit=True) as app:
        compare = app.sendouts.record_certificate(batch, args.tag, args.result, typed)
        attached = (
            app.attachments.add(args.tag, attach, record_id=compare.record_id) if attach else None
        )
    if args.json:
        print_json({"compare": compare, "attachment": attached})
        return 0
    print(compare.sentence)
    if attached is not None:
        print(f"attached {attached.original_name} to calibration #{compare.record_id}")
    return 1 if compare.disagrees else 0


def cmd_sendout_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.sendouts.list(provider=args.provider)
    if args.json:
        print_json({"batches": views})
        return 0
    print_table(
        ("BATCH", "PROVIDER", "SENT ON", "EXPECTED", "PO", "INSTRUMENTS", "STATE", "COST"),
        [
            (
                v.label,
                v.provider,
                v.sent_on,
                v.expected_return or "",
                v.po_number,
                len(v.items),
                v.state,
                "" if v.cost is None else f"{v.cost:,.2f}",
            )
            for v in views
        ],
    )
    print(f"{len(views)} batches")
    return 0


def cmd_sendout_show(args: argparse.Namespace) -> int:
    batch = parse_batch_id(args.batch)
    with open_app(args) as app:
        view = app.sendouts.get(batch)
    if args.json:
        print_json(view)
    else:
        _print_batch(view)
    return 0


# -- parser ------------------------------------------------------------------------------


def _provider_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--contact", metavar="TEXT", help="who to call, address, e-mail")
    parser.add_argument("--accreditation-body", metavar="BODY", help="UKAS, DAkkS, A2LA ...")
    parser.add_argument("--accreditation-number", metavar="NUMBER")
    parser.add_argument("--scope", metavar="TEXT", help="what they are accredited to calibrate")
    parser.add_argument(
        "--approval", choices=APPROVAL_WORDS, help="approved (default when added), ..."
    )
    parser.add_argument("--review-date", metavar="YYYY-MM-DD", help="when to review them next")
    parser.add_argument("--reason", help="why (kept in the audit trail)")


def register(sub: Any) -> None:
    """Add the `providers` and `sendout` groups to the top-level subparsers."""
    prov = add_group(sub, "providers", "external calibration providers (ISO/IEC 17025 6.6)")
    lst = add_command(prov, "list", cmd_providers_list, "list providers", json=True)
    lst.add_argument("--all", action="store_true", help="retired providers too")
    lst.set_defaults(all=False)
    show = add_command(prov, "show", cmd_providers_show, "one provider", json=True)
    show.add_argument("name")
    add = add_command(prov, "add", cmd_providers_add, "add a provider (QA)", json=True)
    add.add_argument("--name", required=True)
    _provider_args(add)
    edit = add_command(prov, "edit", cmd_providers_edit, "change a provider (QA)", json=True)
    edit.add_argument("name")
    edit.add_argument("--rename", metavar="NEW_NAME")
    _provider_args(edit)
    edit.add_argument(
        "--expect-version",
        type=version_number,
        metavar="V",
        help="refuse (exit 3) if the provider changed since version V",
    )
    retire = add_command(
        prov, "retire", cmd_providers_retire, "retire a provider with a reason (QA)"
    )
    retire.add_argument("name")
    retire.add_argument("--reason", required=True)
    retire.add_argument("--expect-version", type=version_number, metavar="V")
    reinstate = add_command(
        prov, "reinstate", cmd_providers_reinstate, "take a retired provider back into use (QA)"
    )
    reinstate.add_argument("name")
    reinstate.add_argument("--reason", required=True)
    reinstate.add_argument("--expect-version", type=version_number, metavar="V")

    so = add_group(sub, "sendout", "instruments sent out to providers for calibration")
    create = add_command(so, "create", cmd_sendout_create, "send instruments out", json=True)
    create.add_argument("--provider", required=True, metavar="NAME")
    create.add_argument("tags", nargs="+", metavar="TAG")
    create.add_argument("--sent-on", metavar="YYYY-MM-DD", help="default: today")
    # Also under the names the service's messages use (--po-number, --expected-return).
    create.add_argument("--po", "--po-number", metavar="NUMBER", help="purchase order number")
    create.add_argument(
        "--expected", "--expected-return", metavar="YYYY-MM-DD", help="expected return"
    )
    create.add_argument("--cost", metavar="AMOUNT")
    create.add_argument(
        "--reason", help="why, when the provider is not approved (kept in the audit trail)"
    )
    create.add_argument("--notes")
    receive = add_command(
        so, "receive", cmd_sendout_receive, "mark instruments of a batch back", json=True
    )
    receive.add_argument("batch", metavar="BATCH", help="SO-12 or 12")
    receive.add_argument("tags", nargs="*", metavar="TAG", help="default: every one still out")
    receive.add_argument(
        "--on", "--received-on", dest="on", metavar="YYYY-MM-DD", help="the day back (today)"
    )
    receive.add_argument("--expect-version", type=version_number, metavar="V")
    cert = add_command(
        so,
        "certificate",
        cmd_sendout_certificate,
        "record a received instrument's certificate and compare it with the lab's limits "
        "(exit 1 when they disagree)",
        json=True,
    )
    cert.add_argument("batch", metavar="BATCH", help="SO-12 or 12")
    cert.add_argument("tag")
    calibration_args(cert)
    cert.add_argument("--attach", metavar="FILE", help="the certificate file to attach")
    lst = add_command(so, "list", cmd_sendout_list, "send-out batches, newest first", json=True)
    lst.add_argument("--provider", metavar="NAME")
    show = add_command(so, "show", cmd_sendout_show, "a batch with its instruments", json=True)
    show.add_argument("batch", metavar="BATCH", help="SO-12 or 12")
