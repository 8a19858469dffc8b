"""webapp.widgets writes the markup WTForms writes, faster."""

from __future__ import annotations

import pytest
from wtforms import Form, SelectField, widgets
from wtforms.fields.choices import SelectChoice

from webapp.widgets import Select

CHOICES = [
    SelectChoice("", "All"),
    SelectChoice("1", 'Aino "A" <Virtanen> & co'),
    SelectChoice('2"><script>', "Eero"),
    SelectChoice("3", ""),  # no label: the value is shown, as WTForms does
    SelectChoice("4", "Kaisa", render_kw={"disabled": True}),  # attributes: WTForms writes it
]


@pytest.mark.parametrize("chosen", ["", "1", '2"><script>', "3", "4"])
def test_select_writes_what_wtforms_writes(chosen: str) -> None:
    class Ours(Form):
        pick = SelectField(choices=CHOICES, widget=Select())

    class Theirs(Form):
        pick = SelectField(choices=CHOICES, widget=widgets.Select())

    ours, theirs = Ours(data={"pick": chosen}), Theirs(data={"pick": chosen})
    assert str(ours.pick(aria_invalid="true")) == str(theirs.pick(aria_invalid="true"))
    assert "<script>" not in str(ours.pick())
    assert str(ours.pick()).count("selected") == 1
