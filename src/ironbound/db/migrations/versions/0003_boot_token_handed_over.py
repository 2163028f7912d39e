"""a boot script that reported booting may still report its sanboot's failure

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.add_column(
            sa.Column(
                "handed_over",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="the script reported booting; its sanboot may still report a failure",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.drop_column("handed_over")
