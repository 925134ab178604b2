"""SnapCall modes (docs/billing.md, "SnapCall"): a ring or an early-media prompt before the reject.

Rows that exist keep today's behaviour (``mode`` reject: refused at once).

Revision ID: 0008
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("snapcall_numbers") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=16), nullable=False, server_default="reject"))
        batch.add_column(sa.Column("ring_seconds", sa.Integer(), nullable=False, server_default="5"))
        batch.add_column(sa.Column("prompt_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("prompt_text", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapcall_numbers") as batch:
        batch.drop_column("prompt_text")
        batch.drop_column("prompt_url")
        batch.drop_column("ring_seconds")
        batch.drop_column("mode")
