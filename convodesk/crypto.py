"""Secrets the product must use again are encrypted with a key derived from SECRET_KEY."""

import base64
import hashlib
import hmac
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _fernet_for(key: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"convodesk-secrets", info=b"v1"
    ).derive(key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _fernet(keys: list[str] | None = None) -> MultiFernet:
    """Encrypts under SECRET_KEY; decrypts under it or any of SECRET_KEY_FALLBACKS (rotation)."""
    if keys is None:
        keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([_fernet_for(key) for key in keys])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode() if plain else ""


def decrypt(token: str) -> str:
    if not token or not isinstance(token, str):
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        return ""


def rotate(token: str, keys: list[str] | None = None) -> str:
    """The same secret encrypted under the first key (SECRET_KEY unless `keys` are given), read
    with any of them; raises InvalidToken when none reads it."""
    return _fernet(keys).rotate(token.encode()).decode() if token else ""


# A settings key naming a token, password or secret holds a secret: stored encrypted, shown
# back as MASK, never written to the audit log.
SECRET_HINTS = ("token", "password", "secret")
MASK = "***"


def is_secret_key(key) -> bool:
    return isinstance(key, str) and any(h in key.lower() for h in SECRET_HINTS)


def _secret_parameter(name: str) -> bool:
    return is_secret_key(name) or "key" in name.lower() or name.lower() in ("sig", "signature")


def mask_url(value):
    """A URL as it may be shown: the password of `https://user:pass@host/` and the values of
    secret-named query parameters (`?token=…`, `?api_key=…`) replaced by MASK; anything else,
    including text that is not a URL, unchanged."""
    if not isinstance(value, str) or "://" not in value:
        return value
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    netloc = parts.netloc
    if password:
        userinfo, _at, host = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret_parameter(k) for k, _v in pairs):
            query = urlencode(
                [(k, MASK if _secret_parameter(k) else v) for k, v in pairs], safe="*"
            )
    if (netloc, query) == (parts.netloc, parts.query):
        return value
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def mask_secrets(value):
    """The value with every secret replaced by MASK, at any depth (dicts inside lists too), and
    the credentials inside URLs masked (`mask_url`)."""
    if isinstance(value, dict):
        return {
            k: (MASK if v not in (None, "") else v) if is_secret_key(k) else mask_secrets(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    return mask_url(value)


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
