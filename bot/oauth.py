"""What can be read from an OAuth access token without trusting it: its expiry, when it is a JWT.

Microsoft 365 access tokens are JWTs with an ``exp`` claim; Google's are opaque. The expiry is only used to
warn the owner (the watchdog) that a token helper keeps handing out a token about to expire; it is never
used to decide anything about authentication, so the signature is not checked.
"""

from __future__ import annotations

import base64
import binascii
import json


def token_expiry(token: str) -> float | None:
    """The ``exp`` claim (epoch seconds) of a JWT access token, or None for any other token."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None
