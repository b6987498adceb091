"""The newest visible day of each view class, for the suppression of rolling windows.

A rolling window ends on the newest day of the signals its view class may see (0020). For
planners' figures the suppression (core/disclosure.py) must know where each window begins:
a window of 365 days ending on a quarter's last day is exactly four quarters, and one
ending elsewhere bounds the quarter it begins in, so the windows belong in the period
equations. ``zicht_laatste_dag(ids)`` gives that day with the same visibility rule as
``zicht_cijfers``; only the owner (the refresh) runs it.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def _sees() -> str:
    """0011's visibility rule of a class ``z`` over cube rows ``k``."""
    path = Path(__file__).with_name("0011_gebied_indeling.py")
    spec = importlib.util.spec_from_file_location(f"okaart_revision_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.SEES)


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION zicht_laatste_dag(ids bigint[]) RETURNS TABLE (zicht_id bigint, dag date)
        LANGUAGE sql STABLE AS $$
            SELECT z.id, max(k.datum)
            FROM zicht z JOIN signaal_dag k ON {_sees()}
            WHERE z.id = ANY (ids)
            GROUP BY z.id
        $$;
        REVOKE ALL ON FUNCTION zicht_laatste_dag(bigint[]) FROM PUBLIC;
        COMMENT ON FUNCTION zicht_laatste_dag(bigint[]) IS
            'The newest day of the signals each view class may see: where its rolling windows end.';
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION zicht_laatste_dag(bigint[])")
