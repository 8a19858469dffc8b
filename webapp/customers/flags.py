"""Customers' bans, consents, restrictions and objections (SPEC §5), and the answer to "may
this number be contacted for this purpose?" that other systems ask before they contact anyone.

A flag's history is its rows (``CustomerFlag``): each says that a kind is in force (state
True) or withdrawn (False) from ``valid_from`` to ``valid_until``, both days included. On a
day, of the rows of a kind that cover that day, the one recorded last decides; a row that has
expired or has not begun decides nothing. So when an entry of the national telemarketing
restriction register runs out after its three years, an older open-ended ban from a letter is
what counts again.

The contact decision for a number, a purpose and a day: the first rule that applies answers.

1. A restriction of processing (GDPR Art. 18) in force: no, ``restricted``.
2. An objection (Art. 21) in force: no, ``objected``, for every purpose here: each is direct
   marketing or a use or disclosure for the utility's or others' legitimate interest, none is
   needed to serve the customer.
3. A ban of the purpose in force: no, ``banned``. Telemarketing and marketing by e-mail or SMS
   are forms of direct marketing, so a ban on direct marketing denies them too.
4. Marketing by e-mail or SMS needs its consent in force: no, ``no_consent``.
5. A secret number: no, ``secret_number``, even with a consent.
6. A consent in force: yes, ``consented``.
7. A number that no customer has: the consent-based purposes are already ``no_consent`` (4);
   the rest yes, ``unknown_number``, since no one can have banned them here.
8. Otherwise yes, ``no_ban``.

A number that several customers share (a household's landline) is decided for each of them
and may be contacted only when it may be for all of them; a "no" is answered by the earliest
rule among theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, or_, select

from audit import Outcome
from webapp import auditing
from webapp.extensions import db
from webapp.importers import batched
from webapp.models import Call, Customer, CustomerFlag, CustomerPhone, User

LOCAL = ZoneInfo("Europe/Helsinki")

BANS = {
    "ban_direct_marketing": _l("Ban on direct marketing"),
    "ban_telemarketing": _l("Ban on telemarketing and distance selling"),
    "ban_research": _l("Ban on market and opinion research"),
    "ban_sms_survey": _l("Ban on customer-satisfaction surveys by SMS"),
    "ban_directory": _l("Ban on person directories"),
    "ban_genealogy": _l("Ban on genealogy"),
    "ban_list_publication": _l("Ban on publication in lists"),
}
CONSENTS = {
    "consent_email_marketing": _l("Consent to marketing by e-mail"),
    "consent_sms_marketing": _l("Consent to marketing by SMS"),
}
KINDS = {
    **BANS,
    **CONSENTS,
    "restriction": _l("Restriction of processing (GDPR Art. 18)"),
    "objection": _l("Objection to processing (GDPR Art. 21)"),
}

SOURCES = {
    "call": _l("Phone call"),
    "letter": _l("Letter"),
    "web_form": _l("Web form"),
    "national_register": _l("National telemarketing restriction register"),
    "dsr_case": _l("Data-subject request"),
    "billing_import": _l("Billing system"),
}
NATIONAL_REGISTER_YEARS = 3  # how long an entry of the national register lasts

# What other systems ask about: the bans that deny each purpose (its own first) ...
PURPOSES = {
    "direct_marketing": _l("Direct marketing"),
    "telemarketing": _l("Telemarketing and distance selling"),
    "research": _l("Market and opinion research"),
    "sms_survey": _l("Customer-satisfaction survey by SMS"),
    "directory": _l("Person directory"),
    "genealogy": _l("Genealogy"),
    "list_publication": _l("Publication in lists"),
    "email_marketing": _l("Marketing by e-mail"),
    "sms_marketing": _l("Marketing by SMS"),
}
BANNED_BY = {
    "direct_marketing": ("ban_direct_marketing",),
    "telemarketing": ("ban_telemarketing", "ban_direct_marketing"),
    "research": ("ban_research",),
    "sms_survey": ("ban_sms_survey",),
    "directory": ("ban_directory",),
    "genealogy": ("ban_genealogy",),
    "list_publication": ("ban_list_publication",),
    "email_marketing": ("ban_direct_marketing",),
    "sms_marketing": ("ban_direct_marketing",),
}
# ... and the consent that a purpose needs.
NEEDS_CONSENT = {
    "email_marketing": "consent_email_marketing",
    "sms_marketing": "consent_sms_marketing",
}
# The answers' reasons, a "no" of an earlier rule first.
REASONS = (
    "restricted",
    "objected",
    "banned",
    "no_consent",
    "secret_number",
    "consented",
    "unknown_number",
    "no_ban",
)
CHUNK = 500  # customers or numbers a query


def today() -> date:
    """The day it is in Finland: the day that flags' (and holds') dates mean."""
    return day_in_finland(datetime.now(LOCAL))


def day_in_finland(moment: datetime) -> date:
    return moment.astimezone(LOCAL).date()


def years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def in_force(row: CustomerFlag | None) -> bool:
    """Whether the row deciding a kind (one of ``state_at``'s values) puts it in force."""
    return row is not None and row.state


def state_at(customer_id: int, day: date) -> dict[str, CustomerFlag | None]:
    """The row deciding each kind on that day, or None where none does."""
    return states_at([customer_id], day)[customer_id]


def states_at(
    customer_ids: Collection[int], day: date
) -> dict[int, dict[str, CustomerFlag | None]]:
    """``state_at`` for many customers, a query for each few hundred."""
    states = {customer_id: dict.fromkeys(KINDS) for customer_id in customer_ids}
    for chunk in batched(sorted(states), CHUNK):
        rows = db.session.scalars(
            select(CustomerFlag)
            .where(
                CustomerFlag.customer_id.in_(chunk),
                CustomerFlag.valid_from <= day,
                or_(CustomerFlag.valid_until.is_(None), CustomerFlag.valid_until >= day),
            )
            .order_by(CustomerFlag.recorded_at, CustomerFlag.id)
        )
        for row in rows:  # in the order recorded: the last one of a kind decides it
            states[row.customer_id][row.kind] = row
    return states


def history(customer_id: int) -> Select:
    """Every change of the customer's flags, the latest first: a select to paginate."""
    return (
        select(CustomerFlag)
        .where(CustomerFlag.customer_id == customer_id)
        .order_by(CustomerFlag.recorded_at.desc(), CustomerFlag.id.desc())
    )


def record(
    customer: Customer,
    kind: str,
    state: bool,
    source: str,
    valid_from: date,
    valid_until: date | None = None,
    call: Call | None = None,
    reference: str | None = None,
    by: User | None = None,
) -> CustomerFlag:
    """Add a change of one of the customer's flags and commit it with its audit event,
    ``flag.change``. ValueError says what is wrong, and then nothing is added."""
    if kind not in KINDS:
        raise ValueError(f"no flag kind {kind!r}; the kinds are {', '.join(KINDS)}")
    if source not in SOURCES:
        raise ValueError(f"no flag source {source!r}; the sources are {', '.join(SOURCES)}")
    if source == "call":
        if call is None:
            raise ValueError("a flag from a call needs that call")
        if call.customer_id != customer.id:
            raise ValueError(f"call {call.id} is not this customer's")
    elif call is not None:
        raise ValueError(f"a call goes only with the source 'call', not {source!r}")
    reference = (reference or "").strip() or None
    if reference is not None and len(reference) > 128:
        raise ValueError("a reference is at most 128 characters long")
    if source == "dsr_case" and reference is None:
        raise ValueError("a flag from a data-subject request needs the case's reference")
    if source == "national_register" and valid_until is None:
        valid_until = years_later(valid_from, NATIONAL_REGISTER_YEARS)
    if valid_until is not None and valid_until < valid_from:
        raise ValueError("valid_until is before valid_from")
    flag = CustomerFlag(
        customer_id=customer.id,
        kind=kind,
        state=bool(state),
        source=source,
        call_id=call.id if call else None,
        reference=reference,
        valid_from=valid_from,
        valid_until=valid_until,
        recorded_by_id=by.id if by else None,
    )
    db.session.add(flag)
    db.session.flush()
    # Committed with the change itself: no flag changes without its event.
    auditing.write(
        "flag.change",
        Outcome.ALLOWED,
        user=by,
        object_type="customer",
        object_id=str(customer.id),
        customer_id=customer.id,
        case_ref=reference if source == "dsr_case" else None,
        detail={
            "flag": flag.id,
            "kind": kind,
            "state": flag.state,
            "source": source,
            "call": flag.call_id,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
        },
    )
    return flag


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # one of REASONS
    flag: CustomerFlag | None = None  # the row that decided, where one did
    customer_known: bool = False
    customer_id: int | None = None  # whose flags decided


def decide(phone_e164: str, purpose: str, day: date) -> Decision:
    """May this number be contacted for this purpose on that day (the module's rules)?"""
    return decide_many([phone_e164], purpose, day)[phone_e164]


def decide_many(phones: Iterable[str], purpose: str, day: date) -> dict[str, Decision]:
    """``decide`` for many numbers (E.164), a few queries for each few hundred."""
    if purpose not in PURPOSES:
        raise ValueError(f"no purpose {purpose!r}; the purposes are {', '.join(PURPOSES)}")
    answers = {}
    for chunk in batched(sorted(set(phones)), CHUNK):
        holders: dict[str, list[tuple[int, bool]]] = defaultdict(list)
        query = (
            select(CustomerPhone.phone_e164, CustomerPhone.customer_id, CustomerPhone.secret)
            .where(CustomerPhone.phone_e164.in_(chunk))
            .order_by(CustomerPhone.customer_id)
        )
        for phone, customer_id, secret in db.session.execute(query):
            holders[phone].append((customer_id, secret))
        states = states_at({c for held in holders.values() for c, _secret in held}, day)
        for phone in chunk:
            decisions = [
                _for_customer(purpose, customer_id, states[customer_id], secret)
                for customer_id, secret in holders.get(phone, ())
            ]
            answers[phone] = _together(decisions, purpose)
    return answers


def _together(decisions: list[Decision], purpose: str) -> Decision:
    if not decisions:
        if purpose in NEEDS_CONSENT:
            return Decision(False, "no_consent")
        return Decision(True, "unknown_number")
    denied = [d for d in decisions if not d.allowed]
    return min(denied, key=lambda d: REASONS.index(d.reason)) if denied else decisions[0]


def _for_customer(
    purpose: str, customer_id: int, state: dict[str, CustomerFlag | None], secret: bool
) -> Decision:
    def answer(allowed: bool, reason: str, flag: CustomerFlag | None = None) -> Decision:
        return Decision(allowed, reason, flag, customer_known=True, customer_id=customer_id)

    for kind, reason in (("restriction", "restricted"), ("objection", "objected")):
        if in_force(state[kind]):
            return answer(False, reason, state[kind])
    for kind in BANNED_BY[purpose]:
        if in_force(state[kind]):
            return answer(False, "banned", state[kind])
    consent = NEEDS_CONSENT.get(purpose)
    if consent and not in_force(state[consent]):
        return answer(False, "no_consent", state[consent])
    if secret:
        return answer(False, "secret_number")
    if consent:
        return answer(True, "consented", state[consent])
    return answer(True, "no_ban", state[BANNED_BY[purpose][0]])
