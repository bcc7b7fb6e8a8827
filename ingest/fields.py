"""Model fields whose values are encrypted at rest (Fernet, keys from CHORUS_ENCRYPTION_KEYS)."""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CHORUS_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "stored secret cannot be decrypted: CHORUS_ENCRYPTION_KEYS does not hold the key "
            "it was written with"
        ) from exc


class EncryptedJSONField(models.TextField):
    """A JSON value stored as a Fernet token. Never readable in the database or a dump."""

    description = "Encrypted JSON"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value):
        if isinstance(value, dict | list):
            return value
        if value in (None, ""):
            return {}
        return json.loads(decrypt(value))

    def get_prep_value(self, value):
        if value is None:
            value = {}
        return encrypt(json.dumps(value))
