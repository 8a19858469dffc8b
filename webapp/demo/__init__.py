"""The embedded demo: registers, users of every role, customers and calls with real audio.

Safe to run again: what exists is kept, and calls are added only up to the number asked for, so
an interrupted fill resumes where it stopped.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import func, select

from webapp import purposes
from webapp.auth.backends import set_local_password
from webapp.demo.audio import PhraseBank
from webapp.extensions import db
from webapp.models import (
    AgentExtension,
    Call,
    Customer,
    CustomerPhone,
    Register,
    RegisterPurpose,
    Role,
    Scorecard,
    Service,
    User,
)
from webapp.storage import storage

LOCAL = ZoneInfo("Europe/Helsinki")
CONTROLLER = "Järvenseudun Vesi ja Energia Oy (demo), Satamakatu 1, 15100 Lahti, 03 123 4567"

PROCESSORS = (
    "Puhelinjärjestelmän ylläpito: Esimerkkiverkot Oy (demo)\n"
    "Sovelluksen ylläpito: Esimerkkipalvelut Oy (demo)"
)

WATER, BILLING = "Vesi ja energia", "Laskutus"
# Agents in two teams of five: team figures of /stats need five people a cell.
USERS = [
    ("aino", "Aino Virtanen", Role.AGENT, WATER),
    ("eero", "Eero Mäkinen", Role.AGENT, WATER),
    ("leena", "Leena Korhonen", Role.AGENT, BILLING),
    ("juha", "Juha Nieminen", Role.AGENT, BILLING),
    ("mari", "Mari Salonen", Role.AGENT, WATER),
    ("olli", "Olli Heinonen", Role.AGENT, WATER),
    ("satu", "Satu Tuominen", Role.AGENT, WATER),
    ("tomi", "Tomi Rantanen", Role.AGENT, BILLING),
    ("heidi", "Heidi Lindqvist", Role.AGENT, BILLING),
    ("jussi", "Jussi Peltonen", Role.AGENT, BILLING),
    ("sanna", "Sanna Laine", Role.SUPERVISOR, None),
    ("pekka", "Pekka Heikkinen", Role.ADMIN, None),
    ("tiina", "Tiina Koskinen", Role.DPO, None),
]

ALL_PURPOSES = purposes.CODES

REGISTERS = [
    # code, name, months, purposes, services (code, name), share of calls, outbound share
    (
        "asiakaspalvelu",
        "Asiakaspalvelun puhelutallenteet",
        12,
        ALL_PURPOSES,
        [("600", "Vesihuolto"), ("601", "Sähkösopimukset"), ("602", "Jätehuolto")],
        0.6,
        0.1,
    ),
    (
        "laskutus",
        "Laskutuksen ja perinnän puhelutallenteet",
        12,
        [
            "order_verification",
            "complaint",
            "quality",
            "training",
            "data_subject_request",
            "authority_request",
        ],
        [("610", "Laskutus"), ("611", "Perintä")],
        0.3,
        0.15,
    ),
    (
        "myynti",
        "Kaukolämmön myynnin puhelutallenteet",
        6,
        ["order_verification", "complaint", "quality", "data_subject_request", "authority_request"],
        [("620", "Kaukolämpömyynti")],
        0.1,
        1.0,
    ),
]

FIRST = [
    "Matti",
    "Liisa",
    "Antti",
    "Maria",
    "Mikko",
    "Helena",
    "Jari",
    "Anna",
    "Timo",
    "Kaija",
    "Pertti",
    "Sari",
    "Ville",
    "Outi",
    "Kalle",
    "Elina",
    "Lars",
    "Karin",
    "Sven",
    "Emma",
]
LAST = [
    "Virtanen",
    "Korhonen",
    "Mäkinen",
    "Nieminen",
    "Hämäläinen",
    "Laine",
    "Koskinen",
    "Järvinen",
    "Lehtonen",
    "Saarinen",
    "Lindqvist",
    "Nyberg",
    "Salonen",
    "Heinonen",
    "Tuominen",
    "Rantanen",
    "Karjalainen",
    "Holmström",
    "Peltonen",
    "Åberg",
]


def populate(n_calls: int, seed: int) -> None:
    rng = random.Random(seed)
    if db.session.scalar(select(Register.id).limit(1)) is None:
        _registers()
        _users(current_app.config["DEMO_PASSWORD"])
        _customers(rng, 200)
        db.session.commit()
        _flags(rng)
        click.echo("Created demo registers, users and 200 customers, some with bans and consents.")
    existing = db.session.scalar(select(func.count(Call.id)))
    if existing < n_calls:
        _calls(random.Random(seed + existing), n_calls - existing)
    else:
        click.echo(f"The demo already has {existing} calls; kept as they are.")
    if db.session.scalar(select(Scorecard.id).limit(1)) is None:
        from webapp.demo import quality

        quality.populate(random.Random(seed + 1))
    _print_logins()


def _registers() -> None:
    for code, name, months, purpose_codes, services, _share, _out in REGISTERS:
        register = Register(
            code=code,
            name=name,
            retention_months=months,
            controller=CONTROLLER,
            contact="Asiakaspalvelupäällikkö, asiakaspalvelu@example.invalid",
            dpo_contact="Tietosuojavastaava, tietosuoja@example.invalid",
            legal_basis="legitimate_interest",
            processors=PROCESSORS,
        )
        db.session.add(register)
        db.session.flush()
        for purpose in purpose_codes:
            db.session.add(RegisterPurpose(register_id=register.id, purpose_code=purpose))
        for service_code, service_name in services:
            db.session.add(Service(register=register, code=service_code, name=service_name))


def _users(password: str) -> None:
    agents = 0
    for username, name, role, team in USERS:
        user = User(
            username=username,
            display_name=name,
            email=f"{username}@example.invalid",
            team=team,
            auth_source="local",
        )
        user.roles = {role}
        set_local_password(user, password)
        db.session.add(user)
        if role == Role.AGENT:  # an extension each, as `tallenne agents load` would map them
            extension = str(201 + agents)
            agents += 1
            db.session.add(
                AgentExtension(extension=extension, user=user, valid_from=date(2025, 1, 1))
            )


def _mobile(rng: random.Random) -> str:
    return f"+3584{rng.choice('0124568')}{rng.randrange(10**6, 10**7)}"


def _customers(rng: random.Random, count: int) -> None:
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        language = rng.choices(["fi", "sv", "en"], weights=[85, 10, 5])[0]
        customer = Customer(
            customer_number=f"{100000 + i}",
            name=f"{first} {last}",
            email=f"{first}.{last}{i}@example.invalid".lower(),
            language=language,
        )
        for _ in range(rng.choice([1, 1, 1, 2])):
            # About one number in ten is secret: its calls arrive withheld.
            customer.phones.append(
                CustomerPhone(phone_e164=_mobile(rng), secret=rng.random() < 0.1)
            )
        db.session.add(customer)


# Bans and consents as customers give them: (kind, source, share of customers).
DEMO_FLAGS = [
    ("ban_telemarketing", "national_register", 0.12),
    ("ban_direct_marketing", "letter", 0.05),
    ("ban_sms_survey", "web_form", 0.08),
    ("consent_email_marketing", "web_form", 0.15),
    ("consent_sms_marketing", "web_form", 0.06),
]


def _flags(rng: random.Random) -> None:
    """Each change through flags.record, as staff would make it: audited, from its source."""
    from webapp.customers import flags

    today = flags.today()
    for customer in db.session.scalars(select(Customer).order_by(Customer.id)).all():
        for kind, source, share in DEMO_FLAGS:
            if rng.random() < share:
                since = today - timedelta(days=rng.randrange(30, 900))
                flags.record(customer, kind, True, source, since)


def _business_time(rng: random.Random, now: datetime, days_back: int) -> datetime:
    while True:
        day = (now - timedelta(days=rng.randrange(1, days_back))).astimezone(LOCAL).date()
        if day.weekday() < 5:
            break
    local = datetime(
        day.year,
        day.month,
        day.day,
        rng.randrange(8, 16),
        rng.randrange(60),
        rng.randrange(60),
        tzinfo=LOCAL,
    )
    return local.astimezone(UTC)


def _calls(rng: random.Random, count: int) -> None:
    agents = list(db.session.scalars(select(User).where(User.role_rows.any(role="agent"))))
    phones = list(db.session.scalars(select(CustomerPhone)))
    registers = {r.code: r for r in db.session.scalars(select(Register))}
    bank = PhraseBank.build(rng)
    click.echo(
        "Composing demo audio from "
        + ("Finnish speech (espeak-ng)." if bank.spoken else "a generated signal (no espeak-ng).")
    )
    now = datetime.now(UTC)
    weights = [share for *_, share, _out in REGISTERS]
    store = storage()
    with click.progressbar(range(count), label="Demo calls", show_pos=True) as bar:
        for n in bar:
            code, _name, months, _p, _s, _share, outbound = rng.choices(REGISTERS, weights)[0]
            register = registers[code]
            service = rng.choice(register.services)
            started = _business_time(rng, now, days_back=months * 30)
            # Mostly short: the demo stays a few hundred megabytes.
            seconds = min(int(rng.expovariate(1 / 6)) + 3, 60)
            call = Call(
                started_at=started,
                duration_s=seconds,
                direction="out" if rng.random() < outbound else "in",
                service=service,
                agent=rng.choice(agents),
                external_id=f"demo-{int(started.timestamp())}.{rng.randrange(10**9)}",
            )
            roll = rng.random()
            if roll < 0.75:
                phone = rng.choice(phones)
                call.customer_id = phone.customer_id
                call.phone_secret = phone.secret
                call.phone_e164 = None if phone.secret else phone.phone_e164
            elif roll < 0.9:
                call.phone_e164 = _mobile(rng)
            elif call.direction == "in":
                call.phone_secret = True
            stored = store.put(bank.compose(rng, seconds), started)
            call.keep(stored)
            db.session.add(call)
            if n % 200 == 199:
                db.session.commit()
    db.session.commit()


def _print_logins() -> None:
    password = current_app.config["DEMO_PASSWORD"]
    click.echo(f"\nDemo logins (password: {password!r}):")
    for username, name, role, _team in USERS:
        click.echo(f"  {username:<6} {name:<16} {role}")
