"""loaded file: source files whose load committed, so an unchanged reload is skipped

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 22:00:39.701977
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loaded_file",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=40), nullable=False),
        sa.Column("file_hash", sa.String(length=64), nullable=False),
        sa.Column("mapping_hash", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("correlation_id", sa.String(length=100), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loaded_file")),
        sa.UniqueConstraint(
            "system",
            "entity_type",
            "file_hash",
            "mapping_hash",
            name="uq_loaded_file_content",
        ),
    )


def downgrade() -> None:
    op.drop_table("loaded_file")
