"""A form's place as a message: the question, its buttons (or what to type without
them), and the summary to confirm. Worded here and nowhere else."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot.channels.base import Button, Capabilities, Key, Outbound
from bot.domain.amounts import format_vnd
from bot.domain.model import Action
from bot.i18n import Lang, Translator
from handlers.callbacks import FormOp, FormPress
from handlers.forms.machine import FORMS, Context, FormState, Line, Said, fields
from handlers.forms.spec import FieldKind, FieldName, FieldSpec

BUTTON_KEYS: dict[FormOp, str] = {
    FormOp.DONE: "form.btn.done",
    FormOp.SKIP: "form.btn.skip",
    FormOp.CANCEL: "form.btn.cancel",
    FormOp.CONFIRM: "form.btn.confirm",
}
#: Steps whose photo question has words of its own (what to photograph); the others
#: ask in general words.
OWN_PHOTO_QUESTION = frozenset({Action.SURVEY, Action.INSTALL})
#: The choices whose options are worded from the catalogue, by the key's prefix.
OPTION_PREFIXES = {FieldName.KIND: "kind", FieldName.AREA: "area", FieldName.PURPOSE: "purpose"}


class Prompts:
    def __init__(self, tr: Translator) -> None:
        self.tr = tr

    def line(self, lang: Lang, line: Line) -> str:
        return self.tr.t(lang, line.key, **line.values)

    def said(self, lang: Lang, said: Said) -> Outbound:
        return Outbound(text=self.line(lang, said.line), remove_keys=said.remove_keys)

    def cancelled(self, lang: Lang) -> Outbound:
        return Outbound(text=self.tr.t(lang, "form.cancelled"), remove_keys=True)

    def expired(self, lang: Lang, minutes: int) -> Outbound:
        return Outbound(text=self.tr.t(lang, "form.expired", minutes=minutes), remove_keys=True)

    def option_label(
        self, lang: Lang, name: FieldName, value: str, teams: Mapping[str, str]
    ) -> str:
        prefix = OPTION_PREFIXES.get(name)
        if prefix is not None:
            return self.tr.t(lang, f"{prefix}.{value}")
        return self.tr.t(lang, "form.team_option", code=value, name=teams.get(value, ""))

    def labels(
        self, lang: Lang, name: FieldName, values: Sequence[str], teams: Mapping[str, str]
    ) -> dict[str, str]:
        return {value: self.option_label(lang, name, value, teams) for value in values}

    def question(
        self,
        lang: Lang,
        state: FormState,
        spec: FieldSpec | None,
        caps: Capabilities,
        notes: Sequence[Line] = (),
        teams: Mapping[str, str] | None = None,
    ) -> Outbound:
        """`spec` asked (with `notes` on why it is asked again); None: the summary."""
        t = self.tr.t
        lines = [self._title(lang, state), *(self.line(lang, note) for note in notes)]
        if spec is None:
            lines += self._summary(lang, state)
            lines.append(t(lang, "form.confirm"))
            return self._summary_buttons(lang, state, lines, caps)
        ops = [FormOp.SKIP] if spec.optional else []
        if spec.kind is FieldKind.PHOTOS:
            count = len(state.photos)
            key = "form.ask.photos_more" if count else f"form.ask.photos_{state.kind.value}"
            if state.kind not in OWN_PHOTO_QUESTION and not count:
                key = "form.ask.photos"
            lines.append(t(lang, key, count=count))
            return self._buttons(lang, state, lines, [FormOp.DONE, FormOp.CANCEL], caps)
        if spec.kind is FieldKind.LOCATION:
            lines.append(t(lang, "form.ask.location"))
            keys: list[tuple[Key, ...]] = [(Key(t(lang, "form.btn.location"), True),)]
            keys.append(tuple(Key(t(lang, BUTTON_KEYS[op])) for op in (*ops, FormOp.CANCEL)))
            return Outbound(text="\n".join(lines), keys=tuple(keys))
        ops.append(FormOp.CANCEL)
        if spec.kind is FieldKind.CHOICE:
            lines.append(t(lang, f"form.ask.{spec.name.value}"))
            labels = self.labels(lang, spec.name, state.offered, teams or {})
            return self._buttons(lang, state, lines, ops, caps, list(labels.values()))
        key = f"form.ask.{spec.name.value}"
        if spec.name is FieldName.NOTE:
            key = f"form.ask.note_{state.kind.value}"
        lines.append(t(lang, key))
        if spec.kind is FieldKind.AMOUNT and state.offered:  # the readings of a doubtful amount
            readings = [
                t(lang, "form.amount_option", amount=format_vnd(int(value)))
                for value in state.offered
            ]
            return self._buttons(lang, state, lines, ops, caps, readings)
        return self._buttons(lang, state, lines, ops, caps)

    def _summary_buttons(
        self, lang: Lang, state: FormState, lines: list[str], caps: Capabilities
    ) -> Outbound:
        """Confirm, cancel, and «✏️ Sửa» for each answer: a wrong one is answered again."""
        t = self.tr.t
        names = [spec.name for spec in fields(state, Context(locations=caps.locations))]
        labels = [t(lang, "form.btn.edit", field=t(lang, f"form.field.{n.value}")) for n in names]
        presses = [FormPress(state.id, FormOp.EDIT, i).encode() for i in range(1, len(names) + 1)]
        buttons = [Button(label, data) for label, data in zip(labels, presses, strict=True)]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        ops = (FormOp.CONFIRM, FormOp.CANCEL)
        rows.append(
            tuple(Button(t(lang, BUTTON_KEYS[op]), FormPress(state.id, op).encode()) for op in ops)
        )
        if not caps.buttons:  # say what to type instead
            for i, name in enumerate(names, start=1):
                lines.append(
                    t(lang, "form.option_line", n=i, label=t(lang, f"form.field.{name.value}"))
                )
            lines.append(t(lang, "form.type.edit"))
            lines += [t(lang, f"form.type.{op.name.lower()}") for op in ops]
        return Outbound(text="\n".join(lines), buttons=tuple(rows))

    def _buttons(
        self,
        lang: Lang,
        state: FormState,
        lines: list[str],
        ops: list[FormOp],
        caps: Capabilities,
        options: list[str] | None = None,
    ) -> Outbound:
        t = self.tr.t
        rows: list[tuple[Button, ...]] = []
        for i, label in enumerate(options or [], start=1):
            rows.append((Button(label, FormPress(state.id, FormOp.PICK, i).encode()),))
        rows.append(
            tuple(Button(t(lang, BUTTON_KEYS[op]), FormPress(state.id, op).encode()) for op in ops)
        )
        if not caps.buttons:  # say what to type instead
            for i, label in enumerate(options or [], start=1):
                lines.append(t(lang, "form.option_line", n=i, label=label))
            if options:
                lines.append(t(lang, "form.type.option"))
            lines += [t(lang, f"form.type.{op.name.lower()}") for op in ops]
        return Outbound(text="\n".join(lines), buttons=tuple(rows))

    def _title(self, lang: Lang, state: FormState) -> str:
        if state.kind is Action.INTAKE:
            return self.tr.t(lang, "form.title_new")
        step = self.tr.t(lang, f"form.kind.{state.kind.value}")
        return self.tr.t(lang, "form.title", ref=state.ref or "", step=step)

    def _summary(self, lang: Lang, state: FormState) -> list[str]:
        t = self.tr.t
        lines: list[str] = []
        for spec in FORMS[state.kind]:
            name = spec.name
            if spec.kind is FieldKind.PHOTOS:
                lines.append(t(lang, "form.sum.photos", count=len(state.photos)))
                continue
            if spec.kind is FieldKind.LOCATION:
                if state.location:
                    lat, lon = state.location
                    lines.append(t(lang, "form.sum.location", lat=f"{lat:.5f}", lon=f"{lon:.5f}"))
                continue
            if name not in state.values:
                continue
            value = state.values[name]
            if spec.kind is FieldKind.AMOUNT:
                value = format_vnd(int(value))
            elif spec.kind is FieldKind.CHOICE and name is not FieldName.TEAM:
                value = self.option_label(lang, name, value, {})
            lines.append(t(lang, f"form.sum.{name.value}", value=value))
        return lines
