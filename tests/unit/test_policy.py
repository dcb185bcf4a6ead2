"""The policy file: defaults per the contract, overrides, and one-line errors."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

import pytest

from bot.domain.model import DEFAULT_STEPS, Area, CaseKind, CaseStatus, Purpose
from bot.sla.calendar import DEFAULT_TZ
from bot.sla.policy import Policy, PolicyError, ReminderRule
from bot.sla.policy_file import load_policy

K = CaseKind
S = CaseStatus
DAY = timedelta(hours=8)
HOUR = timedelta(hours=1)
FRIDAY_1630 = datetime(2026, 11, 27, 16, 30, tzinfo=DEFAULT_TZ)


@pytest.fixture(scope="module")
def default() -> Policy:
    return load_policy(None)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults ------------------------------------------------------------------

U, R = Area.URBAN, Area.RURAL
D, N = Purpose.DOMESTIC, Purpose.NON_DOMESTIC


@pytest.mark.parametrize(
    ("kind", "step", "area", "purpose", "extra", "expected"),
    [
        (K.NEW_CONNECTION, S.CLAIMED, U, D, False, 2 * HOUR),
        (K.NEW_CONNECTION, S.INSTALLED, U, D, False, 3 * DAY),
        (K.NEW_CONNECTION, S.INSTALLED, R, D, False, 5 * DAY),
        (K.NEW_CONNECTION, S.INSTALLED, U, N, False, 5 * DAY),
        (K.NEW_CONNECTION, S.INSTALLED, R, N, False, 5 * DAY),
        (K.NEW_CONNECTION, S.INSTALLED, U, D, True, 7 * DAY),
        (K.NEW_CONNECTION, S.INSTALLED, R, N, True, 7 * DAY),
        (K.NEW_CONNECTION, S.INSTALLED, None, None, False, 3 * DAY),
        (K.NEW_CONNECTION, S.SURVEYED, U, D, False, None),
        (K.METER_COMPLAINT, S.CLAIMED, None, None, False, 2 * HOUR),
        (K.METER_COMPLAINT, S.RESOLVED, None, None, False, 3 * DAY),
        (K.METER_COMPLAINT, S.INSPECTED, None, None, False, None),
        (K.METER_RELOCATION, S.CLAIMED, U, D, False, None),
        (K.METER_RELOCATION, S.INSTALLED, R, N, False, 7 * DAY),
        (K.CONTRACT_CHANGE, S.RESOLVED, U, D, False, 3 * DAY),
        (K.MV_CONNECTION, S.INSTALLED, R, N, True, 7 * DAY),
    ],
)
def test_default_targets_follow_the_contract(
    default: Policy,
    kind: CaseKind,
    step: CaseStatus,
    area: Area | None,
    purpose: Purpose | None,
    extra: bool,
    expected: timedelta | None,
) -> None:
    got = default.target(kind, step, area=area, purpose=purpose, needs_extra_works=extra)
    assert got == expected


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (K.NEW_CONNECTION, 3 * DAY),
        (K.METER_COMPLAINT, 3 * DAY),
        (K.METER_RELOCATION, 7 * DAY),
        (K.CONTRACT_CHANGE, 3 * DAY),
        (K.MV_CONNECTION, 7 * DAY),
    ],
)
def test_case_target_is_the_completion_step(
    default: Policy, kind: CaseKind, expected: timedelta
) -> None:
    assert default.case_target(kind, area=Area.URBAN, purpose=Purpose.DOMESTIC) == expected


def test_default_steps_calendar_and_rules(default: Policy) -> None:
    assert default.workflow.steps == DEFAULT_STEPS
    cal = default.calendar
    assert cal.tz == DEFAULT_TZ
    assert cal.weekdays == frozenset(range(5))
    assert cal.windows == ((time(7, 30), time(11, 30)), (time(13), time(17)))
    assert cal.country == "VN"
    assert cal.working_day == DAY
    for kind in CaseKind:
        assert default.reminders(kind) == ReminderRule(
            interval=timedelta(minutes=120), escalate_after=2, stale_claim=4 * HOUR
        )
    assert default.digest_time == time(7, 30)
    assert default.weekly_report == (0, time(7, 30))
    assert default.install_requires_photo is False
    limits = {"urban_domestic": 3, "rural_domestic": 5, "non_domestic": 5, "complaint": 3}
    for category, days in {**limits, "access": 7}.items():
        assert default.legal_limit_days(category) == days
    with pytest.raises(KeyError):
        default.legal_limit_days("nonsense")


def test_the_shipped_file_loaded_as_a_user_file_changes_nothing(default: Policy) -> None:
    with resources.as_file(resources.files("bot.sla") / "default_policy.toml") as path:
        loaded = load_policy(path)
    assert loaded.targets == default.targets
    assert loaded.calendar == default.calendar
    assert loaded.reminder_rules == default.reminder_rules
    assert load_policy("").source == default.source


# -- due_at --------------------------------------------------------------------


def test_rural_domestic_new_connection_is_due_five_working_days_later(default: Policy) -> None:
    due = default.due_at(
        K.NEW_CONNECTION, S.INSTALLED, FRIDAY_1630, area=R, purpose=D, needs_extra_works=False
    )
    assert due == datetime(2026, 12, 4, 16, 30, tzinfo=DEFAULT_TZ)


def test_time_on_hold_pushes_the_due_time_back(default: Policy) -> None:
    def due(paused: timedelta) -> datetime | None:
        return default.due_at(
            K.NEW_CONNECTION, S.INSTALLED, FRIDAY_1630, area=R, purpose=D, paused=paused
        )

    assert due(2 * HOUR) == datetime(2026, 12, 7, 9, 0, tzinfo=DEFAULT_TZ)
    assert due(DAY) == datetime(2026, 12, 7, 16, 30, tzinfo=DEFAULT_TZ)
    with pytest.raises(ValueError):
        due(-HOUR)


def test_claim_due_and_no_target(default: Policy) -> None:
    assert default.due_at(K.METER_COMPLAINT, S.CLAIMED, FRIDAY_1630) == datetime(
        2026, 11, 30, 9, 0, tzinfo=DEFAULT_TZ
    )
    assert default.due_at(K.CONTRACT_CHANGE, S.CLAIMED, FRIDAY_1630) is None


def test_a_case_received_before_a_worked_saturday_is_due_on_it(
    default: Policy, tmp_path: Path
) -> None:
    """Saturday 22/8/2026 is worked in exchange for Monday 31/8 (the holidays library)."""
    friday = datetime(2026, 8, 21, 16, 30, tzinfo=DEFAULT_TZ)
    assert default.due_at(K.METER_COMPLAINT, S.CLAIMED, friday) == datetime(
        2026, 8, 22, 9, 0, tzinfo=DEFAULT_TZ
    )
    off = load_policy(write(tmp_path, "[calendar]\nextra_days_off = [2026-08-22]\n"))
    assert off.due_at(K.METER_COMPLAINT, S.CLAIMED, friday) == datetime(
        2026, 8, 24, 9, 0, tzinfo=DEFAULT_TZ
    )


# -- overrides -----------------------------------------------------------------


def test_an_override_changes_one_value_and_keeps_the_rest(tmp_path: Path, default: Policy) -> None:
    policy = load_policy(write(tmp_path, "[sla.meter_complaint.resolved]\ndays = 2\n"))
    assert policy.target(K.METER_COMPLAINT, S.RESOLVED) == 2 * DAY
    assert policy.target(K.METER_COMPLAINT, S.CLAIMED) == 2 * HOUR
    for kind in CaseKind:
        if kind is not K.METER_COMPLAINT:
            assert policy.targets[kind] == default.targets[kind]
    assert policy.calendar == default.calendar
    assert policy.workflow == default.workflow
    assert policy.reminder_rules == default.reminder_rules
    assert policy.source.endswith("policy.toml")


def test_hours_replace_days_and_rules_replace_a_single_target(tmp_path: Path) -> None:
    text = """
[sla.new_connection.installed]
hours = 20

[[sla.contract_change.resolved]]
area = "rural"
days = 4

[[sla.contract_change.resolved]]
days = 2
"""
    policy = load_policy(write(tmp_path, text))
    assert policy.target(K.NEW_CONNECTION, S.INSTALLED, area=R, needs_extra_works=True) == (
        20 * HOUR
    )
    assert policy.target(K.CONTRACT_CHANGE, S.RESOLVED, area=R) == 4 * DAY
    assert policy.target(K.CONTRACT_CHANGE, S.RESOLVED, area=U) == 2 * DAY


def test_calendar_and_reminder_overrides(tmp_path: Path) -> None:
    text = """
[calendar]
windows = ["08:00-12:00", "13:30-17:30"]
extra_days_off = [2026-11-30]
extra_working_days = ["2026-11-28"]

[reminders]
interval_minutes = 60

[reminders.mv_connection]
stale_claim_hours = 0
escalate_after = 3

[digest]
time = 07:00:00

[report]
weekday = "Friday"
time = "16:00"

[evidence]
install_requires_photo = true
"""
    policy = load_policy(write(tmp_path, text))
    cal = policy.calendar
    assert cal.windows == ((time(8), time(12)), (time(13, 30), time(17, 30)))
    assert cal.extra_days_off == {date(2026, 11, 30)}
    assert cal.extra_working_days == {date(2026, 11, 28)}
    assert cal.tz == DEFAULT_TZ  # untouched keys of a touched table are kept
    assert policy.reminders(K.NEW_CONNECTION) == ReminderRule(
        interval=HOUR, escalate_after=2, stale_claim=4 * HOUR
    )
    assert policy.reminders(K.MV_CONNECTION) == ReminderRule(
        interval=HOUR, escalate_after=3, stale_claim=None
    )
    assert policy.digest_time == time(7)
    assert policy.weekly_report == (4, time(16))
    assert policy.install_requires_photo is True
    # 1 h on Friday until 17:30, then 1 h on the make-up Saturday from 08:00.
    assert policy.due_at(K.METER_COMPLAINT, S.CLAIMED, FRIDAY_1630) == datetime(
        2026, 11, 28, 9, 0, tzinfo=DEFAULT_TZ
    )


def test_holidays_off(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "[calendar]\npublic_holidays = false\n"))
    assert policy.calendar.is_working_day(date(2027, 2, 8))


def test_custom_steps_drop_default_targets_of_removed_steps(tmp_path: Path) -> None:
    text = '[steps]\nmeter_relocation = ["open", "claimed", "resolved", "closed"]\n'
    policy = load_policy(write(tmp_path, text))
    assert policy.workflow.steps_of(K.METER_RELOCATION) == (S.OPEN, S.CLAIMED, S.RESOLVED, S.CLOSED)
    assert policy.case_target(K.METER_RELOCATION) is None


def test_none_removes_a_target(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, '[sla.new_connection]\nclaimed = "none"\n'))
    assert policy.target(K.NEW_CONNECTION, S.CLAIMED) is None
    assert policy.case_target(K.NEW_CONNECTION) == 3 * DAY


# -- bad files -------------------------------------------------------------------


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"POLICY_FILE {path} ")
    return message


def test_negative_days_message_is_exact(tmp_path: Path) -> None:
    text = "# SLA\n\n[sla.new_connection.installed]\ndays = -3\n"
    assert error_of(tmp_path, text) == (
        f"POLICY_FILE {tmp_path / 'policy.toml'} line 4: "
        "sla.new_connection.installed.days must be a positive number"
    )


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        pytest.param(
            '[calendar]\ntimezone = "Asia/Ho_Chi_Minh"\nwindows = 07:30-11:30\n',
            3,
            "not valid TOML",
            id="toml-syntax",
        ),
        pytest.param(
            "[evidence]\ninstall_requires_photo = false\n\n"
            "[sla.new_connektion.claimed]\nhours = 2\n",
            4,
            "sla.new_connektion is not a known case kind",
            id="unknown-kind-in-sla",
        ),
        pytest.param(
            '[steps]\nnew_connektion = ["open", "claimed", "installed", "closed"]\n',
            2,
            "steps.new_connektion is not a known case kind",
            id="unknown-kind-in-steps",
        ),
        pytest.param(
            '[steps]\ncontract_change = [\n  "open",\n  "claimed",\n  "done",\n  "closed",\n]\n',
            2,
            'steps.contract_change has "done", which is not a step',
            id="unknown-status",
        ),
        pytest.param(
            '\n[steps]\ncontract_change = ["claimed", "resolved", "closed"]\n',
            3,
            'steps.contract_change must start with "open"',
            id="steps-not-starting-with-open",
        ),
        pytest.param(
            '[steps]\ncontract_change = ["open", "claimed", "resolved"]\n',
            2,
            'must end with "closed"',
            id="steps-not-ending-with-closed",
        ),
        pytest.param(
            '[steps]\ncontract_change = ["open", "claimed", "closed"]\n',
            2,
            "at least one step between",
            id="steps-too-short",
        ),
        pytest.param(
            '[calendar]\n# office hours\nwindows = ["07:30-11:30", "25:00-26:00"]\n',
            3,
            'calendar.windows has "25:00-26:00": 25:00 is not a time of day',
            id="bad-window",
        ),
        pytest.param(
            '[calendar]\nwindows = ["13:00-17:00", "07:30-11:30"]\n',
            2,
            "overlaps or precedes",
            id="windows-out-of-order",
        ),
        pytest.param(
            '[calendar]\ntimezone = "Asia/Hanoi_City"\n',
            2,
            "is not a known time zone",
            id="bad-timezone",
        ),
        pytest.param(
            '[calendar]\nweekdays = ["mon", "funday"]\n',
            2,
            "calendar.weekdays must be a day of the week",
            id="bad-weekday",
        ),
        pytest.param(
            '[calendar]\nextra_days_off = ["2027-02-30"]\n',
            2,
            "not a date",
            id="bad-date",
        ),
        pytest.param(
            '[calendar]\nwindos = ["07:30-11:30"]\n',
            2,
            "calendar.windos is not a known key",
            id="typo-key",
        ),
        pytest.param(
            "[reminders]\ninterval_minutes = 60\n\n[reminders.mv_connection]\nescalate_after = 0\n",
            5,
            "reminders.mv_connection.escalate_after must be a whole number, 1 or more",
            id="bad-escalate",
        ),
        pytest.param(
            "[reminders]\nstale_claim_hours = true\n",
            2,
            "must be 0 or more",
            id="bool-as-number",
        ),
        pytest.param(
            "[sla.contract_change.installed]\ndays = 3\n",
            1,
            "sla.contract_change.installed is not a step of contract_change",
            id="target-for-missing-step",
        ),
        pytest.param(
            "[[sla.new_connection.installed]]\ndays = 3\n\n"
            '[[sla.new_connection.installed]]\narea = "rural"\ndays = 5\n',
            4,
            "sla.new_connection.installed[2] can never apply",
            id="unreachable-rule",
        ),
        pytest.param(
            '[[sla.new_connection.installed]]\narea = "rural"\ndays = 5\n\n'
            '[[sla.new_connection.installed]]\narea = "city"\ndays = 3\n',
            6,
            "sla.new_connection.installed[2].area must be one of: urban, rural",
            id="bad-area",
        ),
        pytest.param(
            "[sla.new_connection.claimed]\nhours = 2\ndays = 1\n",
            1,
            "either days or hours",
            id="days-and-hours",
        ),
        pytest.param(
            "[sla.meter_complaint]\nresolved = { days = 0 }\n",
            2,
            "sla.meter_complaint.resolved.days must be a positive number",
            id="inline-table-zero",
        ),
        pytest.param(
            '[report]\nweekday = "mon"\ntime = "7h30"\n',
            3,
            'report.time must be a time of day like "07:30"',
            id="bad-time",
        ),
        pytest.param(
            "[legal_limit_days]\nurban = 3\n",
            2,
            "legal_limit_days.urban is not a known key",
            id="bad-category",
        ),
    ],
)
def test_bad_files_name_the_line_and_the_reason(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    message = error_of(tmp_path, text)
    assert f" line {line}: " in message
    assert words in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"^POLICY_FILE .*nope\.toml: cannot be read"):
        load_policy(tmp_path / "nope.toml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b'[digest]\ntime = "\xff"\n')
    with pytest.raises(PolicyError, match="UTF-8"):
        load_policy(path)


def test_every_example_in_the_documentation_loads(tmp_path: Path) -> None:
    import re

    doc = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
    if not doc.exists():  # pragma: no cover - docs are part of the source tree
        pytest.skip("docs/policy.md not present")
    blocks = re.findall(r"```toml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert blocks
    for block in blocks:
        load_policy(write(tmp_path, block))
