"""The commands people type, one module per job, each offering its part of the table.

- `welcome`: `/start` (also an invite's code) and `/help`;
- `steps`: the commands that change a case: its steps (read from the step table), and
  release, hold, resume, assign, cancel, rate; evidence sent in reply to a case;
- `views`: what only reads: `/case`, `/mine`, `/open`, `/overdue`, `/members`, `/report`;
- `admin`: the team and the bot's set-up: `/bindteam`, `/lang`, `/invite`, `/new`;
- `undo`: handing over and undoing: `/handover`, `/unbindteam`, `/remove` (asked first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from handlers.parsing import CommandName, ParsedCommand
from handlers.request import Request

Handler = Callable[[Request, ParsedCommand], Awaitable[None]]
CommandTable = dict[CommandName, Handler]
