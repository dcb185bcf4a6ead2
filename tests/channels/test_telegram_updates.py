"""Telegram updates read from their JSON (`read_update`), without PTB's objects: what the
adapter needs of each kind, and malformed parts refused as PTB refused to read them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.channels.telegram.inbound import Unreadable, chat_move_of, read_update, to_inbound

GROUP = {"id": -1001, "type": "supergroup", "title": "Đội Phủ Lý"}
LAN = {"id": 42, "is_bot": False, "first_name": "Lan", "language_code": "vi"}


def message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": GROUP, "from": LAN, **fields}


def test_a_reply_in_a_forum_topic_to_the_topics_first_message_is_no_reply() -> None:
    opener = {"message_id": 3, "date": 0, "chat": GROUP, "forum_topic_created": {"name": "PL"}}
    card = {"message_id": 5, "date": 0, "chat": GROUP, "text": "PL-1"}
    topical = message(text="ok", is_topic_message=True, reply_to_message=opener)
    in_topic = read_update({"update_id": 1, "message": topical})
    to_card = read_update({"update_id": 2, "message": message(text="ok", reply_to_message=card)})
    assert (heard := to_inbound(in_topic)) is not None and heard.reply_to_message_id is None
    assert (heard := to_inbound(to_card)) is not None and heard.reply_to_message_id == "5"


def test_a_group_upgraded_to_a_supergroup_is_told_from_either_service_message() -> None:
    small = {"id": -55, "type": "group", "title": "PL"}
    left = read_update({"update_id": 1, "message": message(chat=small, migrate_to_chat_id=-1009)})
    arrived = read_update({"update_id": 2, "message": message(migrate_from_chat_id=-55)})
    assert chat_move_of(left) == ("-55", "-1009")
    assert chat_move_of(arrived) == ("-55", "-1001")
    assert to_inbound(left) is None and left.lane == "chat:-55"


def test_a_press_is_answered_and_kept_in_its_chats_lane_even_when_not_ours() -> None:
    card = {"message_id": 11, "date": 0, "chat": GROUP}
    press = {"id": "cb-1", "from": LAN, "chat_instance": "ci", "message": card, "data": "x"}
    inline = {"id": "cb-2", "from": LAN, "chat_instance": "ci", "inline_message_id": "i"}
    channel = {**press, "id": "cb-3", "message": {**card, "chat": {"id": -9, "type": "channel"}}}
    ours, elsewhere, posted = (
        read_update({"update_id": n, "callback_query": q})
        for n, q in ((1, press), (2, inline), (3, channel))
    )
    assert (ours.press_id, ours.lane) == ("cb-1", "chat:-1001") and to_inbound(ours)
    assert (elsewhere.press_id, elsewhere.lane) == ("cb-2", "user:42")
    assert (posted.press_id, posted.lane) == ("cb-3", "chat:-9")
    assert to_inbound(elsewhere) is None and to_inbound(posted) is None


def test_other_kinds_of_update_keep_their_chats_order_and_say_nothing() -> None:
    edited = read_update({"update_id": 4, "edited_message": message(text="/claim PL-1")})
    bare = read_update({"update_id": 5})
    assert (edited.lane, to_inbound(edited), edited.press_id) == ("chat:-1001", None, None)
    assert bare.lane == "update:5"


@pytest.mark.parametrize(
    "raw",
    [
        "an update",
        {"update_id": "9"},
        {"update_id": True, "message": message(text="hi")},
        {"update_id": 9, "message": message(chat="nobody's chat 0912345678")},
        {"update_id": 9, "message": message(text="hi", **{"from": {"id": 42}})},
        {"update_id": 9, "message": message(photo={"file_id": "p"})},
        {"update_id": 9, "message": message(photo=[{"file_id": "p", "width": 1}])},
        {"update_id": 9, "message": message(location={"latitude": "20.5", "longitude": 1})},
        {"update_id": 9, "callback_query": {"from": LAN, "chat_instance": "ci"}},
        {"update_id": 9, "message": message(text=["/claim"])},
    ],
)
def test_parts_that_are_not_what_telegram_sends_make_the_update_unreadable(raw: object) -> None:
    with pytest.raises(Unreadable) as caught:
        read_update(raw)
    assert "0912345678" not in str(caught.value)
