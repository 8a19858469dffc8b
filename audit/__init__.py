"""The access audit trail: an append-only record of who did what to which call or customer.

This package depends on nothing in ``webapp``; the web application calls it.
"""

from audit.sqltypes import UTCDateTime
from audit.trail import Event, Outcome, append, events, metadata

__all__ = ["Event", "Outcome", "UTCDateTime", "append", "events", "metadata"]
