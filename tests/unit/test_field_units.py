"""The small parts of the phone-first work: button codec, codes, image checks, menus,
and that every message key the forms build at run time is in both catalogues."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain.model import Action
from bot.domain.phone import PhoneErrorReason
from bot.i18n import Lang, Translator, load_catalogue
from bot.services.evidence import MediaError, NotAnImage, TooBig
from bot.services.invites import CODE_ALPHABET, CODE_LENGTH, InviteProblem, new_code, normalize_code
from handlers.callbacks import (
    MAX_BYTES,
    ButtonAction,
    CallbackData,
    FormOp,
    FormPress,
    InvitePress,
    LinkPress,
    ListKind,
    PagePress,
    decode,
    decode_press,
)
from handlers.forms.machine import FORMS
from handlers.forms.spec import FieldKind, FieldName
from handlers.menus import MENUS, command_menus, description_key
from handlers.steps import FORM_OF_BUTTON
from sandbox.telegram import make_png
from storage.evidence_store import MediaFiles, sniff_image

CATALOGUES = {lang: load_catalogue(lang) for lang in Lang}


@pytest.mark.parametrize(
    "press",
    [
        CallbackData(ButtonAction.SURVEY, "PL-17"),
        CallbackData(ButtonAction.CLOSE, "HANAM1-123456789"),
        FormPress("a1b2c3d4", FormOp.DONE),
        FormPress("a1b2c3d4", FormOp.PICK, 12),
        PagePress(ListKind.OPEN, 3),
        InvitePress("ABCDEFGH23", approve=False),
        LinkPress("ABCDEFGH23", approve=True),
        LinkPress("ABCDEFGH23", approve=False),
    ],
)
def test_every_button_decodes_to_what_was_encoded(press: object) -> None:
    data = press.encode()  # type: ignore[attr-defined]
    assert len(data.encode()) <= MAX_BYTES
    assert decode_press(data) == press


@pytest.mark.parametrize(
    "data",
    [
        "f:a1b2:o²",  # a unicode digit
        "f:a1b2:o0",
        "f:a1b2:y1",
        "f:ä1:d",
        "l:mine:-1",
        "l:later:2",
        "i:CODE:",
        "i:CODE:yes",
        "k:CODE:",
        "k:CODE:Y",
        "k:CODE-1:y",
        "k:" + "A" * 33 + ":y",
        "k:CODE:y:extra",
        "c:frobnicate:PL-1",
        "x:y:z",
        "c:claim:PL-1:extra",
        "f:" + "a" * 70 + ":d",
    ],
)
def test_foreign_or_forged_button_data_is_refused(data: str) -> None:
    assert decode_press(data) is None


def test_the_old_decoder_still_reads_only_case_buttons() -> None:
    assert decode("c:claim:pl-17") == CallbackData(ButtonAction.CLAIM, "PL-17")
    assert decode(FormPress("ab", FormOp.SKIP).encode()) is None


def test_codes_are_typed_forgivingly_and_refused_when_they_cannot_be_codes() -> None:
    code = new_code()
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    assert normalize_code(code.lower()) == code
    assert normalize_code(f" {code[:5]}-{code[5:]} ") == code
    assert normalize_code("ABCDEFGHI0") is None  # 0 is not in the alphabet
    assert normalize_code("ABC") is None


def test_images_are_known_by_their_first_bytes_not_their_names() -> None:
    assert sniff_image(make_png(2, 2)) == ("png", "image/png")
    assert sniff_image(b"\xff\xd8\xff\xe0rest") == ("jpg", "image/jpeg")
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("webp", "image/webp")
    assert sniff_image(b"\x00\x00\x00\x18ftypheic\x00") == ("heic", "image/heic")
    assert sniff_image(b"%PDF-1.7") is None


async def test_media_files_stay_inside_the_media_dir(tmp_path: Path) -> None:
    media = MediaFiles(tmp_path / "media", max_bytes=10_000)
    at = datetime(2026, 11, 27, tzinfo=UTC)
    pending, mime = await media.save_pending("f00d", make_png(3, 3))
    assert pending.startswith("pending/f00d/") and mime == "image/png"
    final = await media.promote(pending, at)
    assert final.startswith("evidence/2026/11/") and media.resolve(final).is_file()
    back = await media.demote(final, "f00d")
    assert media.resolve(back).is_file()
    await media.drop_pending("f00d")
    assert not (tmp_path / "media" / "pending" / "f00d").exists()
    with pytest.raises(MediaError):
        media.resolve("../outside.png")
    with pytest.raises(NotAnImage):
        await media.save_final(b"plain text", at)
    with pytest.raises(TooBig):
        await media.save_final(make_png(3, 3) + bytes(10_000), at)


def test_command_menus_fit_telegram_and_exist_in_both_languages() -> None:
    menus = command_menus(Translator())
    assert set(menus) == {(scope, code) for scope in MENUS for code in ("", "vi", "en")}
    for entries in menus.values():
        assert len(entries) <= 100
        for name, description in entries:
            assert re.fullmatch(r"[a-z0-9_]{1,32}", name)
            assert 0 < len(description) <= 256 and not description.startswith("menu.")
    assert menus[("private", "vi")] != menus[("private", "en")]
    assert menus[("group", "")] == menus[("group", "vi")]  # the default is Vietnamese


def _form_keys() -> set[str]:
    """Every key the forms compose from their names at run time."""
    keys = {row.label for row in FORM_OF_BUTTON.values()}
    keys |= {f"form.kind.{k.value}" for k in FORMS if k is not Action.INTAKE}
    keys |= {f"form.bad_phone.{r.value}" for r in PhoneErrorReason}
    keys |= {f"invite.invalid.{p.value}" for p in InviteProblem}
    keys |= {f"form.type.{op.name.lower()}" for op in FormOp if op is not FormOp.PICK}
    keys |= {description_key(scope, name) for scope, names in MENUS.items() for name in names}
    for kind, fields in FORMS.items():
        for spec in fields:
            if spec.kind is FieldKind.PHOTOS:
                keys |= {"form.ask.photos", "form.ask.photos_more", "form.sum.photos"}
                keys.add(f"form.ask.photos_{kind.value}")
            elif spec.kind is FieldKind.LOCATION:
                keys |= {"form.ask.location", "form.sum.location"}
            elif spec.name is FieldName.NOTE:
                keys |= {f"form.ask.note_{kind.value}", "form.sum.note"}
            else:
                keys |= {f"form.ask.{spec.name.value}", f"form.sum.{spec.name.value}"}
    # Only survey and install ask for photos in their own words.
    keys -= {"form.ask.photos_inspect", "form.ask.photos_resolve"}
    return keys


def test_every_key_the_forms_compose_is_in_both_catalogues() -> None:
    keys = _form_keys()
    assert len(keys) > 60
    for lang, catalogue in CATALOGUES.items():
        assert sorted(keys - set(catalogue)) == [], lang
