"""The lead's board: a Telegram Mini App served by the bot's own HTTP server at `/app/`.

- `launch`: Telegram's signed launch data, checked by the Web App rule;
- `sessions`: the short-lived session the page holds once it is let in;
- `api`: the routes (`/app/`, its files, the JSON API under `/app/api/`), over the same
  services and permission rules as the chat;
- `views`: cases as the page shows them (phones masked as in the group chat);
- `static/`: the page itself, plain JavaScript modules, no build step.

See docs/board.md for how it is registered with @BotFather and reached.
"""
