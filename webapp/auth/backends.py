"""Who is this? The local account backend (the embedded demo and the audited break-glass
administrator). The directory backend joins it here."""

from __future__ import annotations

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import db
from webapp.models import User

# Checked against when the user does not exist, so that an unknown name costs as much time as
# a wrong password and the two cannot be told apart.
_DUMMY_HASH = generate_password_hash("not a password of anyone")


def authenticate_local(username: str, password: str) -> User | None:
    user = db.session.scalar(
        select(User).where(User.username == username, User.auth_source == "local")
    )
    if user is None or not user.password_hash:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def set_local_password(user: User, password: str) -> None:
    user.password_hash = generate_password_hash(password)
