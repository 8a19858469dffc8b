"""The access audit trail: an append-only record of who did what to which call or customer,
each event chained to the one before it under a key kept outside the database.

This package depends on nothing in ``webapp``; the web application calls it and hands it the key.
"""

from audit import checkpoints
from audit.checkpoints import Checkpoint, ForgedCheckpoint
from audit.sqltypes import UTCDateTime
from audit.trail import Event, Link, Outcome, append, events, heads, metadata
from audit.verify import Problem, Report, Tampering, verify

__all__ = [
    "Checkpoint",
    "Event",
    "ForgedCheckpoint",
    "Link",
    "Outcome",
    "Problem",
    "Report",
    "Tampering",
    "UTCDateTime",
    "append",
    "checkpoints",
    "events",
    "heads",
    "metadata",
    "verify",
]
