"""Personal data at rest: encryption with rotating keys, keyed digests for exact lookup, masks.

Every encrypted column uses this keyring: the housing registry directly (with digests), the
others (user, reporter, contact and grid-people phones) through `accounts.crypto.encrypt_text`.
Keys come from SHANZHI_PII_KEYS, newest first ("k2:secret2,k1:secret1"). A value is stored as
``<key id>:<nonce><AES-256-GCM ciphertext and tag>`` (the key id is also the associated data, so
a value cannot be passed off as another key's), and a read picks the key the value was written
with: while keys rotate, old and new values both decrypt. New writes use the first key.
`shanzhi pii rotate-keys` (pii_rotation.py) re-encrypts every table under the first key; after
that the old key can go.

Exact lookup ("is this ID number registered?") uses an HMAC-SHA256 digest per field under the
row's key; a search computes the digest under every listed key, so lookups work mid-rotation.
Without SHANZHI_PII_KEYS a single key "k0" is derived from SHANZHI_SECRET_KEY (development).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shanzhi.config import get_settings
from shanzhi.errors import ShanzhiError
from shanzhi.housing.idcard import mask_id

__all__ = [
    "UNREADABLE",
    "Key",
    "PiiKeyError",
    "current_key",
    "decrypt",
    "digest",
    "digests",
    "encrypt",
    "keyring",
    "mask_id",
    "mask_name",
    "mask_phone",
]

KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
MIN_SECRET = 16
NONCE = 12  # bytes; random per value (AES-GCM is safe for far more values than a registry holds)
UNREADABLE = "（无法解密：密钥缺失）"


class PiiKeyError(ShanzhiError):
    """The key configuration is wrong, or a stored value names a key no longer configured."""

    status_code = 500
    code = "pii_key_error"


@dataclass(frozen=True)
class Key:
    id: str
    cipher: AESGCM
    index_key: bytes  # for digests; a different derivation than the cipher key

    def seal(self, value: str) -> bytes:
        nonce = os.urandom(NONCE)
        label = self.id.encode()
        return label + b":" + nonce + self.cipher.encrypt(nonce, value.encode(), label)

    def open(self, sealed: bytes) -> str:
        return self.cipher.decrypt(sealed[:NONCE], sealed[NONCE:], self.id.encode()).decode()


def _derive(purpose: str, key_id: str, secret: str) -> bytes:
    return hashlib.sha256(f"shanzhi:{purpose}:{key_id}:{secret}".encode()).digest()


def _key(key_id: str, secret: str) -> Key:
    return Key(key_id, AESGCM(_derive("pii-cipher", key_id, secret)), _derive("pii-index", key_id, secret))


@lru_cache(maxsize=8)
def _parse(raw: str | None, secret_key: str) -> tuple[Key, ...]:
    if not raw or not raw.strip():
        return (_key("k0", secret_key),)
    keys: list[Key] = []
    for part in raw.split(","):
        key_id, sep, secret = part.strip().partition(":")
        if not sep or not KEY_ID.match(key_id) or len(secret) < MIN_SECRET:
            raise PiiKeyError(
                f"SHANZHI_PII_KEYS must read 'id:secret,…' with ids of letters/digits and secrets of "
                f"at least {MIN_SECRET} characters",
                f"SHANZHI_PII_KEYS 格式应为“编号:密钥,…”，编号为字母数字，密钥至少 {MIN_SECRET} 个字符",
            )
        if any(k.id == key_id for k in keys):
            raise PiiKeyError(f"SHANZHI_PII_KEYS lists key {key_id} twice",
                              f"SHANZHI_PII_KEYS 中密钥编号 {key_id} 重复")
        keys.append(_key(key_id, secret))
    return tuple(keys)


def keyring() -> tuple[Key, ...]:
    """The configured keys, newest (the one new writes use) first."""
    settings = get_settings()
    return _parse(settings.pii_keys, settings.secret_key)


def current_key() -> Key:
    return keyring()[0]


def _find(key_id: str) -> Key | None:
    return next((k for k in keyring() if k.id == key_id), None)


def encrypt(value: str | None, key: Key | None = None) -> bytes | None:
    if value is None:
        return None
    return (key or current_key()).seal(value)


def decrypt(blob: bytes | None, *, strict: bool = False) -> str | None:
    """The plain value; a value under a key no longer configured reads as UNREADABLE
    (or raises PiiKeyError when `strict`, as key rotation must)."""
    if blob is None:
        return None
    raw_id, _, sealed = bytes(blob).partition(b":")
    key_id = raw_id.decode("ascii", "replace")
    key = _find(key_id)
    try:
        if key is None:
            raise InvalidTag
        return key.open(sealed)
    except InvalidTag:
        if strict:
            raise PiiKeyError(
                f"A stored value uses key {key_id!r}, which SHANZHI_PII_KEYS does not hold",
                f"有数据使用密钥 {key_id}，但 SHANZHI_PII_KEYS 中没有该密钥（轮换完成前不要移除旧密钥）",
            ) from None
        return UNREADABLE


def digest(field: str, value: str, key: Key | None = None) -> str:
    """The keyed digest stored beside an encrypted value (value already normalized)."""
    k = key or current_key()
    return hmac.new(k.index_key, f"{field}:{value}".encode(), hashlib.sha256).hexdigest()


def digests(field: str, value: str) -> list[str]:
    """The digest under every configured key: what an exact lookup matches during rotation."""
    return [digest(field, value, k) for k in keyring()]


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    if len(phone) <= 7:
        return phone[:1] + "*" * (len(phone) - 2) + phone[-1:]
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


def mask_name(name: str | None) -> str | None:
    """张** / 欧阳*: the surname stays, the given name is hidden (exports without reveal)."""
    if not name:
        return name
    keep = 2 if len(name) >= 4 else 1
    return name[:keep] + "*" * (len(name) - keep)
