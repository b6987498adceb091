"""The tables declared in ``core.tables`` are the tables the migrations build.

The migrations are hand-written SQL and ``core.tables`` is written by hand too; nothing
but this comparison keeps the two the same. Alembic's autogenerate comparison reads the
migrated database and reports every difference: tables, columns, types, nullability,
server defaults, identity and generated columns, keys, unique constraints, indexes and
comments.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, MetaData, Text, create_engine, inspect
from sqlalchemy.schema import SchemaItem

from core.tables import metadata

#: Tables in the database that are not ours to declare: PostGIS's table of coordinate
#: systems, created by ``CREATE EXTENSION postgis``. (Alembic leaves out its own
#: ``alembic_version`` by itself.)
NOT_OURS = frozenset({"spatial_ref_sys"})


@pytest.fixture
def migrated(fresh_db: str) -> Iterator[Connection]:
    """A connection to a database of its own, migrated to head."""
    engine = create_engine(fresh_db)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


def differences(connection: Connection, declared: MetaData) -> list[Any]:
    """What alembic would change to make the database match ``declared``."""
    inspector = inspect(connection)
    # Views and the materialized view are built from the tables in SQL and are not
    # declared. Alembic reflects only tables today; naming them here keeps a future
    # alembic that lists views from reporting each one as a table to drop.
    views = set(inspector.get_view_names()) | set(inspector.get_materialized_view_names())

    def include_object(
        item: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
    ) -> bool:
        if type_ == "table" and reflected and compare_to is None:
            return name not in NOT_OURS and name not in views
        return True

    context = MigrationContext.configure(
        connection,
        # Server defaults are compared too (alembic's default is not to): a default in a
        # migration is behaviour, e.g. the clearance a new principal gets.
        opts={"compare_type": True, "compare_server_default": True, "include_object": include_object},
    )
    with warnings.catch_warnings():
        # Alembic only warns when a generated column's expression differs, and the type
        # reflection warns on a type it does not know: both are drift here.
        warnings.simplefilter("error")
        return list(compare_metadata(context, declared))


def test_declared_tables_match_the_migrations(migrated: Connection) -> None:
    assert differences(migrated, metadata) == []


def test_a_column_declared_but_not_migrated_is_reported(migrated: Connection) -> None:
    copy = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.sorted_tables:
        table.to_metadata(copy)
    copy.tables["principal"].append_column(Column("bijnaam", Text))

    found = differences(migrated, copy)

    assert [(d[0], d[2], d[3].name) for d in found] == [("add_column", "principal", "bijnaam")]
    assert "bijnaam" not in metadata.tables["principal"].c


def test_index_methods_match(migrated: Connection) -> None:
    """Alembic compares an index's columns but not its method: GIST is checked here."""
    inspector = inspect(migrated)
    for table in metadata.sorted_tables:
        in_database = {
            index["name"]: index.get("dialect_options", {}).get("postgresql_using", "btree")
            for index in inspector.get_indexes(table.name)
        }
        for index in table.indexes:
            declared = index.dialect_options["postgresql"]["using"] or "btree"
            assert in_database[index.name] == declared, (table.name, index.name)
