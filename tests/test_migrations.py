"""Every migration has a working downgrade: empty → head → base → head."""

from alembic import command
from sqlalchemy import create_engine, inspect, text

from app.cli import alembic_config
from tests.conftest import fresh_database


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(app):
    url = fresh_database("cartagora_test_migrations")
    with app.app_context():
        cfg = alembic_config(url)
        command.upgrade(cfg, "head")
        at_head = tables(url)
        assert {"contributions", "arrondissements", "quartiers", "votes", "comments", "photos",
                "users", "api_tokens", "categories", "services", "addresses"} <= at_head
        command.downgrade(cfg, "base")
        assert tables(url) == {"alembic_version"}
        command.upgrade(cfg, "head")
        assert tables(url) == at_head
    engine = create_engine(url)
    with engine.connect() as conn:
        version = conn.scalar(text("SELECT version_num FROM alembic_version"))
    engine.dispose()
    assert version == command.ScriptDirectory.from_config(cfg).get_current_head()
