"""Secrets presented to us (intake tokens, webhook secrets), compared one way everywhere.

A header may carry any bytes; aiohttp hands non-UTF-8 ones over as lone surrogates,
which `str.encode()` refuses, so a stray byte in a secret header was a crash (500)
where it is only a wrong secret (401/403). Both sides are hashed first, so the
comparison takes the same time whatever the lengths, and `hmac.compare_digest`
takes the same time wherever the first difference lies.
"""

from __future__ import annotations

import hashlib
import hmac


def digest(secret: str) -> bytes:
    """SHA-256 of the secret's UTF-8 bytes; any string, lone surrogates included."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def same_secret(presented: str | None, expected: str) -> bool:
    """Whether `presented` (a header's value, maybe missing) is `expected`."""
    return presented is not None and hmac.compare_digest(digest(presented), digest(expected))
