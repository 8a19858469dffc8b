"""Customers: their register from the billing system, and their bans and consents."""

from flask import Blueprint

bp = Blueprint("customers", __name__)

from webapp.customers import routes  # noqa: E402,F401  (routes register on bp)
