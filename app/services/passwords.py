"""Signing passwords: salted scrypt hashes, never the password itself.

The stored form is ``scrypt$N$r$p$<salt>$<key>`` (base64), so the cost can be raised
later without breaking older hashes. Only a fingerprint of that string (sha256, which
reveals nothing without the salt) ever appears in the audit trail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
SALT_BYTES = 16
MAX_MEM = 64 * 1024 * 1024
# Signing attempts and password changes have their own audit stream (one per account id):
# they change no row the trail replays, and a run of wrong attempts is counted there.
SIGNING_STREAM = "signing"
REFUSED_ACTION = "signature_refused"
SIGNED_ACTION = "signed"
PASSWORD_SET_ACTION = "password_set"

# On a server, someone else's hash reads as this prefix and its fingerprint (migration
# 0007): it verifies no password, and shows whether one is set and when it changed.
WITHHELD_PREFIX = "withheld$"

MIN_LENGTH = 8
MAX_LENGTH = 256


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES, maxmem=MAX_MEM
    )


def hash_password(password: str) -> str:
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False  # a damaged hash verifies nothing
    return hmac.compare_digest(actual, expected)


def password_problem(password: str, login: str) -> str | None:
    """Why a new signing password is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"use at most {MAX_LENGTH} characters"
    if not password.strip():
        return "a password of spaces only is not a password"
    if password.strip().casefold() == login.strip().casefold():
        return "the password must not be your login name"
    return None


def fingerprint(stored: str | None) -> str | None:
    """A short, non-secret mark of a stored hash: shows in the audit trail when it changed."""
    if not stored:
        return None
    if stored.startswith(WITHHELD_PREFIX):
        return stored[len(WITHHELD_PREFIX) :]  # the server computed it (migration 0007)
    return hashlib.sha256(stored.encode("ascii", "replace")).hexdigest()[:16]
