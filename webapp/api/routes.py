from __future__ import annotations

import json

from flask import current_app, g, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import RequestEntityTooLarge

from audit import Outcome
from webapp import auditing
from webapp.api import bp, tokens
from webapp.customers import flags
from webapp.extensions import csrf, db
from webapp.importers import already_there, customers_of, lookups, manifest, store_call, wav
from webapp.importers.entry import Rejected
from webapp.models import ApiToken
from webapp.phones import to_e164

csrf.exempt(bp)


def _answer(status: int, **body):
    response = jsonify(**body)
    response.status_code = status
    return response


@bp.post("/recordings")
@tokens.required(ApiToken.INGEST)
def post_recording():
    """One call: multipart with ``metadata`` (JSON: the fields of a manifest row but
    ``recording``) and ``recording`` (the WAV). 201 with the call's id; 409 when that id is
    already there; 400 naming what is wrong; 413 when it is too large."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    request.max_content_length = limit + 64 * 1024
    try:
        upload = request.files.get("recording")
        text = request.form.get("metadata")
    except RequestEntityTooLarge:
        return _rejected(413, f"larger than the limit of {limit:,} bytes")
    if upload is None or text is None:
        return _rejected(400, "send multipart fields 'metadata' (JSON) and 'recording' (WAV)")
    try:
        values = json.loads(text)
        if not isinstance(values, dict) or "recording" in values:
            raise Rejected("metadata: a JSON object of a call's fields, without 'recording'")
        services, users = lookups()
        fields = manifest.describe(values, services, users)
        entry = manifest.entry(fields, services, users, recording=None)
        existing = already_there(entry.external_id)
        if existing is not None:
            return _answer(409, error="a call with this id is already there", call=existing)
        data = upload.read(limit + 1)
        if len(data) > limit:
            return _rejected(413, f"larger than the limit of {limit:,} bytes")
        audio = wav.read(data, limit)
    except json.JSONDecodeError:
        return _rejected(400, "metadata: not JSON")
    except (Rejected, wav.BadRecording) as error:
        return _rejected(400, str(error))
    owner = customers_of({entry.phone_e164} - {None}).get(entry.phone_e164)
    call = store_call(entry, audio, owner)
    try:
        db.session.flush()
    except IntegrityError:  # the same id, sent twice at once: the other one won
        db.session.rollback()
        return _answer(409, error="a call with this id is already there")
    auditing.write(
        "api.recording",
        Outcome.ALLOWED,
        actor_name=g.token_name,
        object_type="call",
        object_id=str(call.id),
        detail={"bytes": len(audio.wav)},
    )
    response = _answer(201, call=call.id, seconds=round(audio.seconds, 3))
    response.headers["Location"] = url_for("calls.detail", call_id=call.id)
    return response


def _rejected(status: int, reason: str):
    auditing.write(
        "api.recording", Outcome.FAILED, actor_name=g.token_name, detail={"reason": reason[:200]}
    )
    return _answer(status, error=reason)


@bp.get("/contact-permission")
@tokens.required(ApiToken.CONTACT)
def contact_permission():
    """May ``phone`` (any usual format) be contacted today for ``purpose``? The answer names
    its reason and the flag that decided it (webapp.customers.flags has the rules); 400 names
    what is wrong with the question. Every question is audited, without the number; like every
    answer of the app, none may be cached (Cache-Control: no-store, webapp.http)."""
    text = request.args.get("phone", "").strip()
    try:
        phone = to_e164(text)
    except ValueError:
        phone = None
    purpose = request.args.get("purpose", "").strip()
    problems = {}
    if phone is None:
        problems["phone"] = "phone: a phone number is needed, e.g. +358401234567 or 040 123 4567"
    if purpose not in flags.PURPOSES:
        problems["purpose"] = f"purpose: one of {', '.join(flags.PURPOSES)}"
    if problems:
        auditing.write(
            "contact.check",
            Outcome.FAILED,
            actor_name=g.token_name,
            detail={"wrong": list(problems)},
        )
        extra = {"purposes": list(flags.PURPOSES)} if "purpose" in problems else {}
        return _answer(400, error="; ".join(problems.values()), **extra)
    decision = flags.decide(phone, purpose, flags.today())
    customer = str(decision.customer_id) if decision.customer_id else None
    auditing.write(
        "contact.check",
        Outcome.ALLOWED if decision.allowed else Outcome.DENIED,
        actor_name=g.token_name,
        object_type="customer" if customer else None,
        object_id=customer,
        customer_id=decision.customer_id,
        detail={"purpose": purpose, "reason": decision.reason},
    )
    flag = decision.flag
    return _answer(
        200,
        allowed=decision.allowed,
        reason=decision.reason,
        purpose=purpose,
        phone=phone,
        source=flag.source if flag else None,
        valid_from=flag.valid_from.isoformat() if flag else None,
        valid_until=flag.valid_until.isoformat() if flag and flag.valid_until else None,
        recorded_at=flag.recorded_at.isoformat() if flag else None,
        customer_known=decision.customer_known,
    )
