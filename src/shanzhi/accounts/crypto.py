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

from shanzhi.config import get_settings

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


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived("personal-data")))


def encrypt_text(value: str) -> bytes:
    return _fernet(get_settings().secret_key).encrypt(value.encode())


def decrypt_text(value: bytes) -> str:
    try:
        return _fernet(get_settings().secret_key).decrypt(value).decode()
    except InvalidToken:
        # Wrong SHANZHI_SECRET_KEY for this database: say so rather than show garbage.
        return "（无法解密：密钥不匹配）"


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    if len(phone) <= 7:
        return phone[:1] + "*" * (len(phone) - 2) + phone[-1:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


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
