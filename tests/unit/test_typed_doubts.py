"""What a tired worker types, read as they meant it or asked about: amounts with two
readings, refs typed loosely, notes that are a ref, and the summary's «✏️ Sửa»."""

from __future__ import annotations

import pytest

from bot.domain.amounts import amount_readings
from bot.domain.model import Action
from handlers.callbacks import CommandPress, FormOp, FormPress, decode_press
from handlers.forms.machine import (
    Context,
    FormState,
    Input,
    Line,
    Outcome,
    current,
    doubt_line,
    feed,
    prefill,
    step_form,
)
from handlers.forms.spec import FieldName
from handlers.parsing import looks_like_ref, note_like_ref, read_ref

EVERYWHERE = Context()


@pytest.mark.parametrize(
    ("text", "readings"),
    [
        ("1tr5k", (1_500_000, 1_005_000)),  # said "một triệu rưỡi", added up 1 005 000
        ("1 tr 5 k", (1_500_000, 1_005_000)),
        ("1500", (1_500, 1_500_000)),  # thousands left off?
        ("1.500", (1_500, 1_500_000)),
        ("2", (2, 2_000, 2_000_000)),
        ("1tr5", (1_500_000,)),
        ("1tr500k", (1_500_000,)),
        ("2tr", (2_000_000,)),
        ("1500đ", (1_500,)),  # a currency mark says it was meant
        ("1.5k", (1_500,)),
        ("0", (0,)),  # the utility pays nothing: no doubt
        ("15000", (15_000,)),
    ],
)
def test_amounts_in_doubt_have_every_reading_the_likeliest_first(
    text: str, readings: tuple[int, ...]
) -> None:
    assert amount_readings(text) == readings


@pytest.mark.parametrize(
    ("typed", "team", "ref"),
    [
        ("PL1", "PL", "PL-1"),
        ("pl6", "PL", "PL-6"),
        ("#PL-6", "PL", "PL-6"),
        ("PL_6", "PL", "PL-6"),
        ("pl-6", None, "PL-6"),
        ("#HN3", "PL", "HN-3"),
        ("CT12345", "PL", None),  # a meter serial, not a ref of team PL
        ("6", "PL", None),  # a bare number is read only when its case exists (Lookup)
        ("cáp", "PL", None),
    ],
)
def test_refs_typed_in_a_hurry_are_understood(typed: str, team: str | None, ref: str) -> None:
    assert read_ref(typed, team) == ref


def test_what_was_meant_as_a_ref_but_is_none_is_told_apart_from_words() -> None:
    assert all(looks_like_ref(w) for w in ("PL-", "PL-6a", "#6x"))
    assert not any(looks_like_ref(w) for w in ("cáp", "25m", "CT12345", "cột-điện"))
    assert all(note_like_ref(n) for n in ("PL 4", "pl4", "#4", "4"))
    assert not any(note_like_ref(n) for n in ("cần 25m cáp", "cột gần nhà 4"))


def estimate() -> FormState:
    return step_form("f1", Action.ESTIMATE, "42", "vi", "PL-3", required_photo=False)


def test_a_doubtful_typed_amount_is_asked_with_its_readings_as_options() -> None:
    state = estimate()
    readings = amount_readings("1tr5k")
    prefill(
        state, {FieldName.UTILITY_COST: "2000000"}, EVERYWHERE, FieldName.CUSTOMER_COST, readings
    )
    spec = current(state, EVERYWHERE)
    assert spec is not None and spec.name is FieldName.CUSTOMER_COST
    assert state.offered == ["1500000", "1005000"]
    assert FieldName.NOTE in state.done  # not typed: skipped, not asked
    reaction = feed(state, Input(op=FormOp.PICK, option=1, typed="1"), EVERYWHERE)
    assert reaction.ask and current(state, EVERYWHERE) is None
    assert state.values[FieldName.CUSTOMER_COST] == "1500000" and state.offered == []
    assert feed(state, Input(op=FormOp.CONFIRM), EVERYWHERE).outcome is Outcome.CONFIRM


def test_an_amount_typed_into_the_form_is_questioned_and_can_be_retyped() -> None:
    state = estimate()
    reaction = feed(state, Input(text="1500"), EVERYWHERE)
    assert reaction.notes == (doubt_line("1500", (1_500, 1_500_000)),)
    assert FieldName.CUSTOMER_COST not in state.values
    feed(state, Input(text="1.500.000"), EVERYWHERE)  # typed again, unmistakably
    assert state.values[FieldName.CUSTOMER_COST] == "1500000"
    # With no doubt open, a typed "2" is an amount in doubt, not option 2.
    reaction = feed(state, Input(op=FormOp.PICK, option=2, typed="2"), EVERYWHERE)
    assert reaction.notes[0].key == "form.amount_doubt"


def test_the_summary_edits_one_field_and_comes_back() -> None:
    state = estimate()
    for text in ("1tr500k", "2tr"):
        feed(state, Input(text=text), EVERYWHERE)
    feed(state, Input(op=FormOp.SKIP), EVERYWHERE)
    assert current(state, EVERYWHERE) is None
    reaction = feed(state, Input(op=FormOp.EDIT, option=2), EVERYWHERE)
    assert reaction.ask
    spec = current(state, EVERYWHERE)
    assert spec is not None and spec.name is FieldName.UTILITY_COST
    feed(state, Input(text="0"), EVERYWHERE)
    assert current(state, EVERYWHERE) is None  # straight back to the summary
    assert state.values == {FieldName.CUSTOMER_COST: "1500000", FieldName.UTILITY_COST: "0"}
    refused = feed(state, Input(op=FormOp.EDIT, option=9), EVERYWHERE)
    assert refused.notes == (Line("form.use_buttons"),)


def test_an_edit_press_rides_on_a_short_payload() -> None:
    data = FormPress("a1b2c3d4", FormOp.EDIT, 12).encode()
    assert decode_press(data) == FormPress("a1b2c3d4", FormOp.EDIT, 12)
    assert len(data.encode()) <= 64


def test_a_command_press_is_typed_back_and_never_over_64_bytes() -> None:
    press = CommandPress("assign", "PL-12 telegram:3002")
    assert decode_press(press.encode()) == press
    assert decode_press("d:rate:PL-3 8") == CommandPress("rate", "PL-3 8")
    assert decode_press("d:rate:") is None and decode_press("d:r4te:PL-3") is None
    long_uid = "zalo:" + "9" * 60
    assert not CommandPress.fits("assign", f"PL-12 {long_uid}")  # left out, not sent
    with pytest.raises(ValueError, match="64 bytes"):
        CommandPress("assign", f"PL-12 {long_uid}").encode()
