"""Why someone plays or exports a recording that is not their own (SPEC §1)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

LABELS = {
    "order_verification": _l("Order verification"),
    "complaint": _l("Complaint handling"),
    "quality": _l("Quality assurance"),
    "training": _l("Training"),
    "service_development": _l("Service development"),
    "data_subject_request": _l("Data-subject request"),
    "authority_request": _l("Authority request"),
}

# Every purpose, in the order forms offer them (the migration seeds the same list).
CODES = list(LABELS)


def label(code: str) -> str:
    return str(LABELS.get(code, code))
