"""Property tests of the parsers that take text from people and programs.

Whatever arrives, each parser either gives its typed result or its own error;
nothing else escapes, and what it accepts it accepts consistently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.http.intake import IntakeInvalid, IntakeRequest, validate_intake
from handlers.parsing import MAX_TEXT, CommandName, normalize_ref, parse_command

NOW = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)

team_code = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,15}", fullmatch=True)
number = st.integers(min_value=0, max_value=999_999_999)
nasty = st.one_of(
    st.text(),
    st.sampled_from(
        [
            "\u202e/claim PL-1",  # right-to-left override
            "/claim\x00PL-1",
            "/claim PL-1'; DROP TABLE cases;--",
            "<b>/claim</b> PL-1",
            "／claim PL-1",  # full-width slash
            "/claim " + "9" * 10_000,
            "@bot " * 2000,
        ]
    ),
)


@given(team_code, number, st.sampled_from(["", " ", "\t", "  "]))
def test_a_ref_in_any_case_and_spacing_names_one_case(code: str, n: int, pad: str) -> None:
    ref = f"{code}-{n}"
    assert normalize_ref(pad + ref.lower() + pad) == f"{code.upper()}-{n}"
    assert normalize_ref(ref.swapcase()) == normalize_ref(ref)


@given(nasty)
def test_normalize_ref_gives_a_canonical_ref_or_none(text: str) -> None:
    ref = normalize_ref(text)
    if ref is not None:
        assert normalize_ref(ref) == ref  # idempotent
        assert ref == ref.upper().strip()


@given(nasty, st.one_of(st.none(), st.text(max_size=40)))
def test_parse_command_never_raises_and_reads_only_known_shapes(
    text: str, bot_username: str | None
) -> None:
    parsed = parse_command(text, bot_username)
    if parsed is None:
        return
    assert parsed.word == parsed.word.lower()
    assert parsed.name is None or parsed.name.value == parsed.word
    assert len(parsed.rest) <= MAX_TEXT
    assert all(arg and not any(c.isspace() for c in arg) for arg in parsed.args)


@given(st.sampled_from(list(CommandName)), st.lists(st.text(min_size=1).filter(str.isalnum)))
def test_every_command_round_trips(name: CommandName, args: list[str]) -> None:
    parsed = parse_command(" ".join([f"/{name.value}", *args]))
    assert parsed is not None
    assert parsed.name is name
    assert list(parsed.args) == args


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
fields = st.sampled_from(
    [
        "external_ref",
        "kind",
        "team",
        "area",
        "purpose",
        "needs_extra_works",
        "customer",
        "description",
        "received_at",
    ]
)


@given(st.dictionaries(fields | st.text(), json_values, max_size=10))
def test_the_intake_validator_accepts_or_names_fields_never_crashes(data: dict[str, Any]) -> None:
    try:
        req = validate_intake(data, now=NOW)
    except IntakeInvalid as e:
        assert e.fields  # a refusal always says which fields
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in e.fields.items())
        return
    assert isinstance(req, IntakeRequest)


@given(
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["meter_complaint", "contract_change"]),
            "team": team_code,
            "customer": st.fixed_dictionaries(
                {
                    "name": st.text(min_size=1, max_size=50).filter(str.isprintable),
                    "phone": st.sampled_from(["0912345678", "+84 912 345 678", "024.3825.1234"]),
                    "address": st.text(min_size=1, max_size=50).filter(str.isprintable),
                }
            ),
        }
    )
)
def test_a_well_formed_body_is_accepted(data: dict[str, Any]) -> None:
    stripped = data["customer"]["name"].strip() and data["customer"]["address"].strip()
    if not stripped:
        return  # only spaces: refused as empty, by design
    req = validate_intake(data, now=NOW)
    assert req.team == data["team"].upper()
    assert req.customer.phone.startswith("0")
