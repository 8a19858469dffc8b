from flask import Blueprint, Flask

bp = Blueprint("auth", __name__)

from webapp.auth import routes, sessions  # noqa: E402,F401  (routes register on bp)


def init_app(app: Flask) -> None:
    """The login backends and the failed-login throttle; a wrong directory setting stops
    start-up here, naming the setting."""
    from webapp.auth import backends, throttle

    backends.init_app(app)
    throttle.init_app(app)
