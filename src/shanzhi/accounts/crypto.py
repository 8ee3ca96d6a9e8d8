"""Secrets: password hashes, personal-data encryption and masking, tokens, signed cookies."""

from __future__ import annotations

import base64
import hashlib
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, TimestampSigner

from shanzhi import pii
from shanzhi.config import get_settings
# Masks live with the keyring; re-exported for the callers that mask with this module.
from shanzhi.pii import mask_phone as mask_phone

_hasher = PasswordHasher()
# Checked when the user does not exist, so an unknown name costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("shanzhi-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _derived(purpose: str) -> bytes:
    return hashlib.sha256(f"shanzhi:{purpose}:{get_settings().secret_key}".encode()).digest()


# Personal data written before the keyring: a Fernet token under a key derived from
# SHANZHI_SECRET_KEY. Still read, so older databases work unmigrated; `shanzhi pii rotate-keys`
# moves them to the keyring. Never written any more.
LEGACY_PREFIX = b"gAAAAA"
LEGACY_UNREADABLE = "（无法解密：密钥不匹配）"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived("personal-data")))


def is_legacy(value: bytes) -> bool:
    # Fernet tokens are urlsafe base64, so never hold a colon; keyring values start "<key id>:".
    return value.startswith(LEGACY_PREFIX) and b":" not in value


def encrypt_text(value: str) -> bytes:
    return pii.current_key().seal(value)


def decrypt_text(value: bytes, *, strict: bool = False) -> str:
    """The plain text of a keyring value or of a legacy Fernet token. One no key opens reads as a
    placeholder, never garbage or an error (unless `strict`, as rotation must: PiiKeyError)."""
    blob = bytes(value)
    if not is_legacy(blob):
        return pii.decrypt(blob, strict=strict) or ""
    try:
        return _fernet(get_settings().secret_key).decrypt(blob).decode()
    except InvalidToken:
        if strict:
            raise pii.PiiKeyError(
                "A value stored before the keyring was encrypted under another SHANZHI_SECRET_KEY",
                "有旧格式数据是用另一个 SHANZHI_SECRET_KEY 加密的，当前密钥无法解密",
            ) from None
        return LEGACY_UNREADABLE


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _signer(purpose: str) -> TimestampSigner:
    return TimestampSigner(get_settings().secret_key, salt=f"shanzhi.{purpose}")


def sign(value: str, purpose: str) -> str:
    return _signer(purpose).sign(value).decode()


def unsign(signed: str | None, purpose: str, max_age: int) -> str | None:
    if not signed:
        return None
    try:
        return _signer(purpose).unsign(signed, max_age=max_age).decode()
    except BadSignature:
        return None
