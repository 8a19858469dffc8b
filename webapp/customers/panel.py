"""What a call's page shows of its customer: their flags in force today, and the forms to
record a ban or consent they state on the line and to link the call to a customer."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user

from webapp import policy
from webapp.customers import flags
from webapp.customers.forms import CallFlagForm, LinkForm
from webapp.models import Call, CustomerFlag


@dataclass
class CustomerPanel:
    in_force: list[CustomerFlag]
    flag_form: CallFlagForm | None
    link_form: LinkForm | None


def may_record_from_call(call: Call) -> bool:
    """An agent records a ban or consent from their own call; those who manage flags from
    any call they see."""
    return call.customer_id is not None and (
        call.agent_id == current_user.id or policy.manages_flags(current_user)
    )


def customer_panel(
    call: Call, flag_form: CallFlagForm | None = None, link_form: LinkForm | None = None
) -> CustomerPanel:
    in_force = []
    if call.customer_id is not None:
        state = flags.state_at(call.customer_id, flags.today())
        in_force = [row for row in state.values() if flags.in_force(row)]
    flag_form = (flag_form or CallFlagForm()) if may_record_from_call(call) else None
    if policy.manages_flags(current_user):
        link_form = link_form or LinkForm()
    return CustomerPanel(in_force, flag_form, link_form)
