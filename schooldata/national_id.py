"""Thai 13-digit national IDs: the checksum, and the keyed hash that replaces them in storage."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pandas as pd

# The 12 leading digits are weighted 13, 12, ..., 2.
WEIGHTS = np.arange(13, 1, -1)


def check_digit(first_twelve: str) -> int:
    """The 13th digit of a Thai national ID whose first 12 digits are given."""
    total = sum(int(d) * int(w) for d, w in zip(first_twelve, WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def is_valid(text: pd.Series) -> pd.Series:
    """Vectorised checksum of 13-digit Thai national IDs (False for anything else)."""
    digits_ok = text.str.fullmatch(r"\d{13}").fillna(False).astype(bool)
    valid = pd.Series(False, index=text.index)
    if digits_ok.any():
        digits = np.array([list(map(int, s)) for s in text[digits_ok]])
        check = (11 - (digits[:, :12] @ WEIGHTS) % 11) % 10
        valid.loc[digits_ok] = check == digits[:, 12]
    return valid


# Children without a Thai ID get a code from the school: G and 12 digits, or another
# format starting with a letter.
NON_THAI_CODE = r"[A-Z][A-Z0-9]{4,19}"


def is_non_thai_code(text: pd.Series) -> pd.Series:
    """A code given to a child without a Thai national ID (G code and similar)."""
    return text.str.fullmatch(NON_THAI_CODE).fillna(False).astype(bool)


def is_accepted(text: pd.Series) -> pd.Series:
    """A valid Thai national ID or a code of a child without one."""
    return is_valid(text) | is_non_thai_code(text)


def hash_national_id(national_id: str, key: str) -> str:
    """Keyed hash of a national ID; the ID itself is never stored."""
    return hmac.new(key.encode(), national_id.encode(), hashlib.sha256).hexdigest()
