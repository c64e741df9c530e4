"""Creating the tables, and bringing a database an older shopbot created up to date."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, inspect, text

from core.storage.schema import metadata

__all__ = ["create_tables"]

log = logging.getLogger(__name__)


def create_tables(conn: Connection) -> list[str]:
    """Create the missing tables and upgrade older ones; returns the columns existing tables
    lack that cannot be added (see below)."""
    metadata.create_all(conn)
    return _upgrade(conn)


def _upgrade(conn: Connection) -> list[str]:
    """Bring tables an older shopbot created up to this version: add the optional (nullable)
    columns and the indexes they lack. A missing required column cannot be filled in for the
    rows already there: it is returned, and the database is refused."""
    inspector = inspect(conn)
    refused: list[str] = []
    for table in metadata.sorted_tables:
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                refused.append(f"{table.name}.{column.name}")
                continue
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
            log.info("added column %s.%s to an older database", table.name, column.name)
        if not refused:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
    return refused
