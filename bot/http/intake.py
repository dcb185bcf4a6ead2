"""The intake API's request body: parsed strictly, every bad field named at once.

The caller is another program (the one-stop desk's system, CMIS). A typo in a
field name or a number where text belongs is a bug on its side, so nothing is
coerced or dropped silently: unknown fields, wrong types and bad values are all
reported in one 422, keyed by dotted path (``customer.phone``), and nothing is
stored.

Decisions where the contract is silent:

- ``area`` and ``purpose`` are optional, except for ``new_connection``, which
  needs both: its SLA (3, 5 or 7 working days) depends on them, and guessing
  "urban, domestic" would give rural and business customers the wrong clock.
  Other kinds store them when given.
- ``needs_extra_works`` is a JSON boolean (or null, meaning false).
- ``external_ref``, when given, is 1–128 printable characters; surrounding
  spaces are trimmed, so a retry that adds a space is still the same case.
- ``received_at`` must carry a UTC offset (a naive time is ambiguous across the
  desk's and the server's zones), must not lie more than 5 minutes ahead of the
  server's clock (allowing for skew) and not before 2000.
- Text fields are trimmed and may not contain control characters other than
  tab and line breaks (PostgreSQL refuses NUL, and they only hide typos).
- The phone number is stored in its national form (``0912345678``).

Error messages never echo the submitted values: they may be personal data.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import ErrorDetails

from bot.domain.model import Area, CaseKind, Customer, Purpose, Source, needs_area_and_purpose
from bot.domain.people import Actor
from bot.domain.phone import PhoneError, PhoneErrorReason, normalize_phone
from bot.services.commands import IntakeCase

#: How far ahead of the server's clock `received_at` may be (clock skew).
FUTURE_TOLERANCE = timedelta(minutes=5)
#: Earlier than this is a typo, not a case: the calendar has no use for it.
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)

_ALLOWED_CONTROLS = frozenset("\t\n\r")
_CHOICES: dict[str, type[StrEnum]] = {"kind": CaseKind, "area": Area, "purpose": Purpose}

_PHONE_MESSAGES = {
    PhoneErrorReason.EMPTY: "Give the customer's phone number.",
    PhoneErrorReason.BAD_CHARACTERS: "A phone number has only digits, spaces, dots, dashes, "
    "brackets and a leading +.",
    PhoneErrorReason.WRONG_LENGTH: "The phone number has the wrong number of digits.",
    PhoneErrorReason.UNKNOWN_PREFIX: "Not a Vietnamese mobile or landline number.",
}


def _no_controls(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS for c in value):
        raise ValueError("Must not contain control characters.")
    return value


Text = Annotated[StrictStr, Field(min_length=1)]


class CustomerIn(BaseModel):
    """The customer as the desk typed them; the phone is normalized on the way in."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: Annotated[Text, Field(max_length=200)]
    phone: Annotated[StrictStr, Field(repr=False)]  # kept out of reprs and logs
    address: Annotated[Text, Field(max_length=500)]

    @field_validator("name", "address")
    @classmethod
    def _text(cls, v: str) -> str:
        return _no_controls(v)

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        try:
            return normalize_phone(v)
        except PhoneError as e:
            raise ValueError(_PHONE_MESSAGES[e.reason]) from None


class IntakeRequest(BaseModel):
    """``POST /api/v1/cases``; see the module docstring for the rules."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    kind: CaseKind
    team: Annotated[Text, Field(max_length=16)]
    customer: CustomerIn
    external_ref: Annotated[Text, Field(max_length=128)] | None = None
    area: Area | None = None
    purpose: Purpose | None = None
    needs_extra_works: StrictBool | None = None
    description: Annotated[StrictStr, Field(max_length=2000)] | None = None
    received_at: datetime | None = None

    @field_validator("kind", "area", "purpose", mode="before")
    @classmethod
    def _choice(cls, v: object, info: ValidationInfo) -> object:
        """One message for any wrong value, listing the choices."""
        if v is None and info.field_name != "kind":
            return None
        choices = _CHOICES[info.field_name or ""]
        if not (isinstance(v, str) and v in {c.value for c in choices}):
            raise ValueError(f"Must be one of {', '.join(c.value for c in choices)}.")
        return v

    @field_validator("team")
    @classmethod
    def _team(cls, v: str) -> str:
        return v.upper()

    @field_validator("external_ref")
    @classmethod
    def _external_ref(cls, v: str | None) -> str | None:
        if v is not None and not v.isprintable():
            raise ValueError("Must contain only printable characters.")
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str | None:
        return _no_controls(v) if v is not None else None

    @field_validator("received_at", mode="before")
    @classmethod
    def _received_at(cls, v: object, info: ValidationInfo) -> datetime | None:
        if v is None:
            return None
        example = "e.g. 2026-11-27T08:15:00+07:00"
        if not isinstance(v, str):
            raise ValueError(f"Must be an ISO 8601 time with an offset, {example}.")
        try:
            at = datetime.fromisoformat(v.strip())
        except ValueError:
            raise ValueError(f"Must be an ISO 8601 time with an offset, {example}.") from None
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"Must include a UTC offset, {example}.")
        now = _context_now(info)
        if at > now + FUTURE_TOLERANCE:
            raise ValueError("Must not be in the future.")
        if at < EARLIEST_RECEIVED:
            raise ValueError("Must not be before the year 2000.")
        return at


def _context_now(info: ValidationInfo) -> datetime:
    ctx = info.context
    now = ctx.get("now") if isinstance(ctx, Mapping) else None
    if not isinstance(now, datetime):  # pragma: no cover - a programming error
        raise TypeError("validate with context={'now': aware datetime}")
    return now


# ---------------------------------------------------------------- errors


def _message(err: ErrorDetails) -> str:
    """One short English sentence per pydantic error type; never the input."""
    kind = err["type"]
    ctx: dict[str, Any] = dict(err.get("ctx") or {})
    if kind == "value_error":
        return str(ctx.get("error", "Invalid value."))
    if kind == "missing":
        return "This field is required."
    if kind == "extra_forbidden":
        return "Unknown field."
    if kind == "string_type":
        return "Must be a string."
    if kind == "string_too_short":
        return "Must not be empty."
    if kind == "string_too_long":
        return f"Must be at most {ctx.get('max_length')} characters."
    if kind in ("bool_type", "bool_parsing"):
        return "Must be true or false."
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "Must be an object."
    return "Invalid value."


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def _cross_field(data: Mapping[str, Any]) -> dict[str, str]:
    """Rules that span fields, checked on the raw body so they are reported
    even when other fields are wrong."""
    found: dict[str, str] = {}
    raw = data.get("kind")
    # Any JSON value may stand here: compare, never hash (a dict or list would raise).
    kind = CaseKind(raw) if isinstance(raw, str) and raw in CaseKind._value2member_map_ else None
    if kind is not None and needs_area_and_purpose(kind):
        for name in ("area", "purpose"):
            if data.get(name) is None:
                found[name] = f"Required for {kind.value}."
    return found


class IntakeInvalid(Exception):
    """The body broke one or more rules; `fields` maps dotted paths to messages."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(sorted(fields)))  # the paths only, never the values
        self.fields = fields


def validate_intake(data: Mapping[str, Any], *, now: datetime) -> IntakeRequest:
    """The parsed request, or IntakeInvalid naming every bad field.

    The team's existence is checked by the caller (it needs the database).
    """
    fields: dict[str, str] = {}
    model: IntakeRequest | None = None
    try:
        model = IntakeRequest.model_validate(data, context={"now": now})
    except ValidationError as e:
        for err in e.errors(include_url=False, include_input=False):
            fields.setdefault(_path(err["loc"]), _message(err))
    for path, msg in _cross_field(data).items():
        fields.setdefault(path, msg)
    if fields or model is None:
        raise IntakeInvalid(fields)
    return model


def team_code_of(data: Mapping[str, Any]) -> str | None:
    """The team code the body names, if it is well-formed enough to look up."""
    team = data.get("team")
    if isinstance(team, str) and 0 < len(team.strip()) <= 16:
        return team.strip().upper()
    return None


def to_command(req: IntakeRequest, actor: Actor) -> IntakeCase:
    """The service's command for a validated request."""
    return IntakeCase(
        actor=actor,
        source=Source.API,
        origin=None,
        kind=req.kind,
        team_code=req.team,
        customer=Customer(req.customer.name, req.customer.phone, req.customer.address),
        description=req.description or "",
        external_ref=req.external_ref,
        area=req.area,
        purpose=req.purpose,
        needs_extra_works=bool(req.needs_extra_works),
        received_at=req.received_at,
    )
