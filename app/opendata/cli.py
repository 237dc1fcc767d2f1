"""`flask opendata export`: the nightly bulk exports (make opendata)."""

from __future__ import annotations

import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import InvalidRequestError

from app.db import db

opendata_cli = AppGroup("opendata", help="Bulk open data: exports and the catalogue.")


@opendata_cli.command("export")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Target directory (default: CARTAGORA_OPEN_DATA_DIR, var/open-data).")
@click.option("--no-gpkg", is_flag=True, help="Skip the GeoPackages (no GDAL needed).")
def export(out_dir: Path | None, no_gpkg: bool) -> None:
    """Write the public exports (GeoJSON, DansMaRue CSV, GeoPackage, areas, statistics) and
    their manifest, atomically, from one snapshot of the database."""
    from app.opendata import services

    target = out_dir or current_app.config["OPEN_DATA_DIR"]
    started = time.perf_counter()

    def say(f: services.ExportedFile) -> None:
        click.echo(f"  {f.name:<38} {f.rows:>9,} rows {f.bytes / 1e6:>9.2f} MB {f.seconds:>7.2f} s")

    # every file from one snapshot: the same rows in every format
    session = db.session
    try:
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    except InvalidRequestError:  # joined an open transaction (the tests'): its snapshot rules
        pass
    try:
        manifest = services.export(session, target, gpkg=not no_gpkg, progress=say)
    except services.ExportError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        session.rollback()  # read only: nothing to keep
    for reason in manifest.skipped:
        click.echo(f"  skipped: {reason}")
    total = sum(f.bytes for f in manifest.files)
    click.echo(f"opendata: {len(manifest.files)} files, {total / 1e6:.1f} MB in {target} "
               f"({time.perf_counter() - started:.1f} s)")
