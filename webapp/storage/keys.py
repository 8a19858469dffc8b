"""Master keys, read from a file outside the database and the recordings, and the data keys
they wrap: each recording has a data key of its own, kept wrapped beside its call."""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
_NONCE = 12
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# What a wrapped data key is bound to: its purpose and the recording it opens, so that one
# cannot be moved to another recording.
_WRAP_AAD = b"tallenne data key v1\x00"


class KeyFileError(ValueError):
    pass


class KeyUnavailable(Exception):
    """A recording's data key cannot be opened: its master key is gone, or it was tampered with."""


class KeyRing:
    """Master keys by id. The last one wraps new data keys; the others still open the data keys
    they wrapped until `tallenne keys rotate` has moved those to the newest."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        if not keys:
            raise KeyFileError("no master key")
        self._keys = dict(keys)
        self.current = list(keys)[-1]

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        return cls.from_text(Path(path).read_text())

    @classmethod
    def from_text(cls, text: str) -> KeyRing:
        """One key a line, ``ID HEX`` (64 hex digits); ``#`` starts a comment; newest last."""
        keys: dict[str, bytes] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key_id, _, text = line.partition(" ")
            try:
                key = bytes.fromhex(text.strip())
            except ValueError:
                key = b""
            if not _ID.fullmatch(key_id) or len(key) != KEY_BYTES:
                raise KeyFileError(
                    f"line {number} is not 'ID HEX' with an id of letters, digits, '.', '_' or "
                    f"'-' and a key of {KEY_BYTES * 2} hexadecimal digits"
                )
            if key_id in keys:
                raise KeyFileError(f"line {number} repeats the key id {key_id!r}")
            keys[key_id] = key
        return cls(keys)

    def __contains__(self, key_id: str) -> bool:
        return key_id in self._keys

    def wrap(self, data_key: bytes, name: str) -> tuple[bytes, str]:
        """The data key wrapped by the current master key, bound to the recording's name."""
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self._keys[self.current]).encrypt(nonce, data_key, _aad(name))
        return nonce + sealed, self.current

    def unwrap(self, sealed: bytes, key_id: str, name: str) -> bytes:
        key = self._keys.get(key_id)
        if key is None:
            raise KeyUnavailable(f"master key {key_id!r} is not in the key file")
        try:
            return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], _aad(name))
        except InvalidTag as error:
            raise KeyUnavailable("the data key does not open under its master key") from error


def _aad(name: str) -> bytes:
    return _WRAP_AAD + name.encode()
