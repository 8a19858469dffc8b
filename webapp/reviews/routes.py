from __future__ import annotations

from webapp.reviews import bp  # noqa: F401
