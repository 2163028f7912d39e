"""a token serves a new host only in a boot window Ironbound opened; boot cycles are counted

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.add_column(
            sa.Column(
                "window_until",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="the boot window Ironbound opened (power on) closes then; "
                "none: closed (a deploy's token before its power-on)",
            )
        )
        batch.add_column(
            sa.Column(
                "cycles",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="boot cycles opened since cycles_since",
            )
        )
        batch.add_column(
            sa.Column(
                "cycles_since",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="the start of the minute whose boot cycles are counted",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.drop_column("cycles_since")
        batch.drop_column("cycles")
        batch.drop_column("window_until")
