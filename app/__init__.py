"""Cartagora: a participatory map of Paris (Flask + PostGIS)."""

from __future__ import annotations

from flask import Flask

from app.config import MIN_SECRET_LENGTH, SECRET_FILE, Config
from app.db import db
from app.errors import register_error_handlers
from app.ratelimit import limiter

KNOWN_DEFAULTS = frozenset({"dev-only-change-me", "change-me", "secret", "dev"})


def check_secret(secret: str | None) -> None:
    """Refuse to start without a real secret: a default one lets anyone sign a session cookie."""
    if not secret:
        raise RuntimeError(
            "No SECRET_KEY: set the SECRET_KEY environment variable, or run `make run` (which "
            f"writes a random one to {SECRET_FILE})")
    if secret in KNOWN_DEFAULTS or len(secret) < MIN_SECRET_LENGTH:
        raise RuntimeError(f"SECRET_KEY must be a random value of at least {MIN_SECRET_LENGTH} "
                           "characters (python -c 'import secrets; print(secrets.token_hex(64))')")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder="../static", static_url_path="/static")
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    check_secret(app.config.get("SECRET_KEY"))
    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    app.json.sort_keys = False
    from app.api.contract import IdConverter

    app.url_map.converters["id"] = IdConverter  # 64-bit ids in paths (<id:contribution_id>)

    db.init_app(app)
    limiter.init_app(app)
    register_error_handlers(app)

    from app.accounts.views import bp as accounts_bp
    from app.admin.views import bp as admin_bp
    from app.api.views import bp as api_bp
    from app.areas.views import bp as areas_bp
    from app.cli import register_cli
    from app.consultations.views import bp as consultations_bp
    from app.contributions.media import register_media_cleanup
    from app.contributions.views import bp as contributions_bp
    from app.engagement.views import bp as engagement_bp
    from app.field.views import bp as field_bp
    from app.map.views import bp as map_bp
    from app.moderation.views import bp as moderation_bp
    from app.ogc.views import bp as ogc_bp
    from app.open311.views import bp as open311_bp
    from app.opendata.views import bp as opendata_bp
    from app.tiles.views import bp as tiles_bp
    from app.web import init_web
    from app.web.account import bp as account_pages_bp
    from app.web.admin import bp as admin_pages_bp
    from app.web.agent import bp as agent_pages_bp
    from app.web.consultations import bp as consultation_pages_bp
    from app.web.moderation import bp as moderation_pages_bp
    from app.web.views import bp as web_bp

    for bp in (api_bp, accounts_bp, areas_bp, contributions_bp, engagement_bp, field_bp,
               agent_pages_bp, map_bp, web_bp, account_pages_bp, moderation_bp,
               moderation_pages_bp, admin_bp, admin_pages_bp, open311_bp, ogc_bp, tiles_bp,
               opendata_bp, consultations_bp, consultation_pages_bp):
        app.register_blueprint(bp)
    init_web(app)  # Babel, CSRF token, security headers (CSP)
    from app.accounts.oidc import init_oidc

    init_oidc(app)  # sign-in with the city's OpenID Connect provider, if configured
    register_media_cleanup(app)
    register_cli(app)
    from app.planner.cli import planner_cli
    from app.planner.views import bp as planner_bp

    app.register_blueprint(planner_bp)  # /api/v1/stats/*, /planner
    app.cli.add_command(planner_cli)
    from app.petitions.cli import petitions_cli
    from app.petitions.views import bp as petitions_bp
    from app.web.petitions import bp as petition_pages_bp

    app.register_blueprint(petitions_bp)  # /api/v1/petitions, /petitions/feed.atom
    app.register_blueprint(petition_pages_bp)  # /petitions, /moderation/petitions, /admin/petitions
    app.cli.add_command(petitions_cli)
    from app.budget.cli import budget_cli
    from app.budget.views import bp as budget_bp
    from app.web.budget import bp as budget_pages_bp

    app.register_blueprint(budget_bp)  # /api/v1/budgets, /api/v1/budget-projects
    app.register_blueprint(budget_pages_bp)  # /budget
    from app.web.budget_vote import bp as budget_vote_pages_bp

    app.register_blueprint(budget_vote_pages_bp)  # /budget/<year>/vote, /budget/<year>/results
    from app.web.budget_admin import bp as budget_admin_pages_bp

    app.register_blueprint(budget_admin_pages_bp)  # /admin/budgets
    app.cli.add_command(budget_cli)
    from app.missions.cli import missions_cli
    from app.missions.feed_views import bp as missions_feed_bp
    from app.missions.views import bp as missions_bp
    from app.web.missions import bp as mission_pages_bp
    from app.web.organisations import bp as organisation_pages_bp

    app.register_blueprint(missions_bp)  # /api/v1/organisations, /api/v1/missions, /api/v1/me/engagements
    app.register_blueprint(missions_feed_bp)  # API Engagement's feed and import
    app.register_blueprint(mission_pages_bp)  # /missions, /me/engagements
    app.register_blueprint(organisation_pages_bp)  # /organisations, /moderation/organisations
    app.cli.add_command(missions_cli)
    from app.alerts.cli import alerts_cli
    from app.alerts.views import bp as alerts_bp
    from app.web.alerts import bp as alert_pages_bp

    app.register_blueprint(alerts_bp)  # /api/v1/me/alerts
    app.register_blueprint(alert_pages_bp)  # /me/alerts, /alerts/unsubscribe/<token>
    app.cli.add_command(alerts_cli)
    from app.web.pwa import bp as pwa_bp

    app.register_blueprint(pwa_bp)  # /manifest.webmanifest, /sw.js, /hors-ligne
    return app
