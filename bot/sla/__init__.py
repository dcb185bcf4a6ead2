"""Working time and the service policy (SLA targets, steps, reminders)."""

from bot.sla.calendar import WorkingCalendar
from bot.sla.policy import (
    LEGAL_LIMIT_CATEGORIES,
    Policy,
    PolicyError,
    ReminderRule,
    TargetRule,
    WeeklyReport,
)
from bot.sla.policy_file import load_policy

__all__ = [
    "LEGAL_LIMIT_CATEGORIES",
    "Policy",
    "PolicyError",
    "ReminderRule",
    "TargetRule",
    "WeeklyReport",
    "WorkingCalendar",
    "load_policy",
]
