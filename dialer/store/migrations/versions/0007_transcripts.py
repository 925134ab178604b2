"""Transcripts of call recordings (issue 14): the CDR's transcript text, its status, and one entry per recording.

``transcript_status`` is '' (none asked), ``pending``, ``done`` or ``failed``; existing rows get ''.

Revision ID: 0007
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transcript", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("transcript_status", sa.String(length=16), server_default="", nullable=False))
        batch_op.add_column(sa.Column("transcripts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_column("transcripts")
        batch_op.drop_column("transcript_status")
        batch_op.drop_column("transcript")
