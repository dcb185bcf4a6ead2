"""Working time and the service policy (SLA targets, steps, reminders).

Each name has one home: import it from its module (`bot.sla.policy`, `bot.sla.calendar`,
`bot.sla.policy_file`, …); this package re-exports nothing.
"""
