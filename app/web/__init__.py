"""Server-rendered pages for residents: the map, a contribution, accounts (Flask-Babel, CSRF, CSP)."""

from __future__ import annotations

from flask import Flask

from app.web.i18n import init_i18n
from app.web.security import init_security


def init_web(app: Flask) -> None:
    init_i18n(app)
    init_security(app)
