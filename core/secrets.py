"""The service's secrets: the web session key and the national-ID hash key.

They come from the environment (``EWS_SESSION_SECRET``, ``EWS_ID_HASH_KEY``). Where one
is not set, it is never a default written in the source (anyone could forge a session
with that): a random one is generated on first use and kept in a file beside the
database, readable by its owner only, so that sessions and ID hashes stay stable from one
command to the next. Production refuses to start without both set, and refuses values
that are too short or were ever published.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from pathlib import Path

from core.settings import Settings

NAMES = ("session_secret", "id_hash_key")
MIN_LENGTH = 32
# SHA-256 of values that appeared in this project's source as defaults: refused anywhere.
PUBLISHED = frozenset(
    {
        hashlib.sha256(b"development-only-id-hash-key").hexdigest(),
        hashlib.sha256(b"development-only-session-secret").hexdigest(),
    }
)


class SecretError(RuntimeError):
    """A secret is missing, too short or published: the service must not start."""


def secrets_file(settings: Settings) -> Path:
    """Where generated secrets are kept: beside a SQLite database, else the setting."""
    if settings.secrets_file is not None:
        return settings.secrets_file
    url = settings.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        return Path(url.removeprefix("sqlite:///")).parent / "ews-secrets.json"
    return Path("data") / "ews-secrets.json"


def secret(settings: Settings, name: str) -> str:
    """The configured value of secret ``name``, or the one generated and kept for it.

    Raises:
        SecretError: the value is published or (in production) missing or too short.
    """
    if name not in NAMES:
        raise KeyError(name)
    configured = getattr(settings, name)
    env = f"EWS_{name.upper()}"
    if configured is not None:
        value: str = configured.get_secret_value()
        if hashlib.sha256(value.encode()).hexdigest() in PUBLISHED:
            raise SecretError(
                f"{env} is a value published in this project's source: choose a new one"
            )
        if settings.environment == "production" and len(value) < MIN_LENGTH:
            raise SecretError(f"{env} must be at least {MIN_LENGTH} characters in production")
        return value
    if settings.environment == "production":
        raise SecretError(f"{env} must be set in production")
    return _kept(secrets_file(settings), name)


def _kept(path: Path, name: str) -> str:
    """The secret kept in ``path``, generated (with owner-only permissions) when absent.

    A lock file makes two commands starting at once agree on one value.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(path.with_suffix(".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored: dict[str, str] = {}
        if path.exists():
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
            stored = json.loads(path.read_text(encoding="utf-8"))
        if name not in stored:
            stored[name] = secrets.token_urlsafe(48)
            partial = path.with_suffix(".partial")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(stored, handle)
            partial.replace(path)
        return stored[name]
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
