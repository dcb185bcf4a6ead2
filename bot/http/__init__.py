"""The HTTP side: intake API, health, metrics; webhooks plug in via installers."""

from bot.http.server import CONTAINER, RouteInstaller, build_http_app, start_http, stop_http

__all__ = ["CONTAINER", "RouteInstaller", "build_http_app", "start_http", "stop_http"]
