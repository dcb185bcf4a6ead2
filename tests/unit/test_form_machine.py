"""The guided forms' state machine, stepped directly: no database, no translator, no chat.

Each test feeds messages and presses as `Input` and reads what the machine says back as
message keys, the way a worker at a pole would meet them one at a time.
"""

from __future__ import annotations

from bot.domain.model import Action, CaseKind
from handlers.callbacks import FormOp
from handlers.forms.machine import (
    Context,
    FormState,
    Input,
    Line,
    Outcome,
    Reaction,
    Said,
    current,
    feed,
    fields,
    intake_form,
    step_form,
)
from handlers.forms.spec import MAX_READING, FieldName

EVERYWHERE = Context()
NO_LOCATIONS = Context(locations=False)
PHOTO = {"path": "pending/f1/a.jpg", "mime": "image/jpeg", "size": 3}


def survey() -> FormState:
    return step_form("f1", Action.SURVEY, "42", "vi", "PL-1", required_photo=False)


def asked(state: FormState, ctx: Context = EVERYWHERE) -> FieldName | None:
    spec = current(state, ctx)
    return spec.name if spec else None


def typed(text: str) -> Input:
    return Input(text=text)


def test_a_survey_asks_note_photos_location_then_shows_the_summary() -> None:
    state = survey()
    assert asked(state) is FieldName.NOTE
    reaction = feed(state, typed("Cột cách nhà 30m"), EVERYWHERE)
    assert reaction == Reaction(Outcome.MOVED, ask=True)
    assert asked(state) is FieldName.PHOTOS
    reaction = feed(state, Input(photos=(PHOTO,)), EVERYWHERE)
    assert reaction.ask and reaction.said == ()  # asked again, with the count
    assert feed(state, Input(op=FormOp.DONE), EVERYWHERE).ask
    assert asked(state) is FieldName.LOCATION
    reaction = feed(state, Input(location=(20.5, 105.9)), EVERYWHERE)
    assert reaction.said == (Said(Line("form.location_kept"), remove_keys=True),)
    assert asked(state) is None
    assert state.values == {FieldName.NOTE: "Cột cách nhà 30m"}
    assert state.photos == [PHOTO] and state.location == [20.5, 105.9]
    assert feed(state, Input(op=FormOp.CONFIRM), EVERYWHERE).outcome is Outcome.CONFIRM


def test_a_required_note_cannot_be_skipped_and_is_asked_again_with_the_reason() -> None:
    state = survey()
    reaction = feed(state, Input(op=FormOp.SKIP, typed="bỏ qua"), EVERYWHERE)
    assert reaction.notes == (Line("form.cannot_skip"),) and reaction.ask
    assert asked(state) is FieldName.NOTE


def test_a_channel_without_locations_is_never_asked_for_one() -> None:
    state = survey()
    feed(state, typed("ghi chú"), NO_LOCATIONS)
    feed(state, Input(op=FormOp.DONE), NO_LOCATIONS)
    assert asked(state, NO_LOCATIONS) is None
    assert asked(state, EVERYWHERE) is FieldName.LOCATION


def test_a_photo_sent_early_is_kept_and_the_question_stays() -> None:
    state = survey()
    reaction = feed(state, Input(photos=(PHOTO,)), EVERYWHERE)
    assert reaction.said == (Said(Line("form.photo_kept", {"count": 1})),)
    assert not reaction.ask and asked(state) is FieldName.NOTE


def test_an_install_under_a_photo_policy_wants_a_photo_before_done() -> None:
    state = step_form("f2", Action.INSTALL, "42", "vi", "PL-1", required_photo=True)
    feed(state, typed("CT-778899"), EVERYWHERE)
    feed(state, Input(op=FormOp.SKIP), EVERYWHERE)  # no reading
    assert asked(state) is FieldName.PHOTOS
    reaction = feed(state, Input(op=FormOp.DONE), EVERYWHERE)
    assert reaction.notes == (Line("form.photo_needed"),)
    feed(state, Input(photos=(PHOTO,)), EVERYWHERE)
    feed(state, Input(op=FormOp.DONE), EVERYWHERE)
    assert asked(state) is FieldName.LOCATION


def test_a_number_typed_where_no_option_is_offered_is_the_answer_itself() -> None:
    state = step_form("f2", Action.INSTALL, "42", "vi", "PL-1", required_photo=False)
    feed(state, typed("CT-1"), EVERYWHERE)
    feed(state, Input(op=FormOp.PICK, option=12, typed="12"), EVERYWHERE)
    assert state.values[FieldName.READING] == "12"
    reaction = feed(state, Input(op=FormOp.DONE, typed="xong"), EVERYWHERE)
    assert reaction.notes == () and asked(state) is FieldName.LOCATION


def test_too_long_text_is_refused_with_the_limit() -> None:
    state = step_form("f2", Action.INSTALL, "42", "vi", "PL-1", required_photo=False)
    feed(state, typed("CT-1"), EVERYWHERE)
    reaction = feed(state, typed("9" * (MAX_READING + 1)), EVERYWHERE)
    assert reaction.notes == (Line("form.too_long", {"limit": MAX_READING}),)
    assert FieldName.READING not in state.values


def test_amounts_are_read_the_way_people_write_them_and_refused_otherwise() -> None:
    state = step_form("f3", Action.ESTIMATE, "42", "vi", "PL-1", required_photo=False)
    reaction = feed(state, typed("mười nghìn"), EVERYWHERE)
    assert reaction.notes == (Line("err.bad_amount", {"text": "mười nghìn"}),)
    feed(state, typed("1,5tr"), EVERYWHERE)
    feed(state, typed("2.000.000"), EVERYWHERE)
    assert state.values[FieldName.CUSTOMER_COST] == "1500000"
    assert state.values[FieldName.UTILITY_COST] == "2000000"
    assert asked(state) is FieldName.NOTE


def test_cancel_ends_any_form_and_confirm_before_the_end_is_not_taken() -> None:
    state = survey()
    reaction = feed(state, Input(op=FormOp.CONFIRM), EVERYWHERE)
    assert reaction.outcome is Outcome.MOVED and reaction.notes == (Line("form.use_buttons"),)
    assert feed(state, Input(op=FormOp.CANCEL), EVERYWHERE).outcome is Outcome.CANCEL


def intake(team: str | None = None) -> FormState:
    return intake_form("f4", "42", "vi", team, None)


def test_a_new_connection_asks_area_and_purpose_and_other_kinds_do_not() -> None:
    for kind, wanted in ((CaseKind.NEW_CONNECTION, True), (CaseKind.METER_COMPLAINT, False)):
        state = intake(team="PL")
        state.offered = [k.value for k in CaseKind]
        feed(state, Input(op=FormOp.PICK, option=state.offered.index(kind.value) + 1), EVERYWHERE)
        for answer in ("Nguyễn Văn Tâm", "0912345678", "12 Lê Lợi, Phủ Lý"):
            feed(state, typed(answer), EVERYWHERE)
        assert (asked(state) is FieldName.AREA) is wanted
        assert asked(state) in (FieldName.AREA, FieldName.DESCRIPTION)


def test_a_clerk_s_own_team_is_not_asked_but_an_admin_picks_one_by_its_label() -> None:
    assert FieldName.TEAM not in _asked_names(intake(team="PL"))
    labels = Context(labels={"PL": "PL — Phủ Lý", "DL": "DL — Duy Tiên"})
    for answer, refusal, team in (
        (Input(op=FormOp.PICK, option=3, typed="3"), Line("form.pick_one"), None),
        (typed("Duy Tiên"), Line("form.pick_one"), None),
        (typed("dl duy tiên"), None, "DL"),
    ):
        state = intake()
        state.offered = [CaseKind.METER_COMPLAINT.value]
        feed(state, Input(op=FormOp.PICK, option=1), EVERYWHERE)
        assert asked(state) is FieldName.TEAM
        state.offered = ["PL", "DL"]
        reaction = feed(state, answer, labels)
        assert reaction.notes == ((refusal,) if refusal else ())
        assert state.values.get(FieldName.TEAM) == team


def test_a_bad_phone_number_says_what_is_wrong_with_it() -> None:
    state = intake(team="PL")
    state.offered = [CaseKind.METER_COMPLAINT.value]
    feed(state, Input(op=FormOp.PICK, option=1), EVERYWHERE)
    feed(state, typed("Nguyễn Văn Tâm"), EVERYWHERE)
    reaction = feed(state, typed("12"), EVERYWHERE)
    assert len(reaction.notes) == 1 and reaction.notes[0].key.startswith("form.bad_phone.")
    assert asked(state) is FieldName.PHONE


def test_a_forwarded_text_is_the_description_and_is_not_asked() -> None:
    state = intake_form("f5", "42", "vi", "PL", "  Khách báo mất điện  ")
    assert state.values[FieldName.DESCRIPTION] == "Khách báo mất điện"
    assert FieldName.DESCRIPTION not in _asked_names(state)


def test_the_state_survives_its_json_round_trip() -> None:
    state = survey()
    feed(state, typed("ghi chú"), EVERYWHERE)
    feed(state, Input(photos=(PHOTO,)), EVERYWHERE)
    assert FormState.from_json(state.to_json()) == state


def _asked_names(state: FormState) -> set[FieldName]:
    return {spec.name for spec in fields(state, EVERYWHERE)}
