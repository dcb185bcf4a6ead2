"""Launch data as Telegram's client makes it, for tests: written from Telegram's published
rule ("Validating data received via the Mini App"), not from the code it tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode


def signed_init_data(
    user: dict[str, Any], bot_token: str, auth_date: datetime, **extra: str
) -> str:
    fields = {
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, ensure_ascii=False, separators=(",", ":")),
        "auth_date": str(int(auth_date.timestamp())),
        **extra,
    }
    key = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    fields["hash"] = hmac.new(key, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def telegram_user(user_id: int, first_name: str, lang: str = "vi") -> dict[str, Any]:
    return {"id": user_id, "first_name": first_name, "language_code": lang}
