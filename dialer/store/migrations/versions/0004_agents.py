"""Live agents: the agents and agent_events tables, agent campaigns' fields, the CDR's agent fields.

See docs/agents.md. New NOT NULL columns carry server defaults so that existing rows (every campaign and CDR
so far: unattended) get the same values the models give new ones.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("persistent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_agents_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agents_account_id"), ["account_id"], unique=False)

    op.create_table(
        "agent_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("agent_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("campaign_ids", sa.JSON(), nullable=False),
        sa.Column("call_uuid", sa.String(length=64), nullable=True),
        sa.Column("disposition", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_events")),
    )
    with op.batch_alter_table("agent_events", schema=None) as batch_op:
        batch_op.create_index("ix_agent_events_agent_at", ["agent_id", "at"], unique=False)
        batch_op.create_index("ix_agent_events_account_at", ["account_id", "at"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dial_mode", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("agent_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("wrap_up_seconds", sa.Integer(), server_default="10", nullable=False))
        batch_op.add_column(sa.Column("abandon_target", sa.Float(), server_default="0.03", nullable=False))
        batch_op.add_column(sa.Column("amd", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("machine_action", sa.String(length=16), server_default="hangup",
                                      nullable=False))
        batch_op.add_column(sa.Column("safe_harbour_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("safe_harbour_url", sa.Text(), nullable=True))

    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("queue_wait_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("talk_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("wrap_up_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("abandoned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("amd_result", sa.String(length=16), server_default="", nullable=False))
        batch_op.add_column(sa.Column("disposition", sa.Text(), server_default="", nullable=False))
        batch_op.create_index("ix_cdrs_campaign_abandoned", ["campaign_id", "abandoned"], unique=False)
        batch_op.create_index("ix_cdrs_customer_date", ["customer_number", "call_date"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cdrs", schema=None) as batch_op:
        batch_op.drop_index("ix_cdrs_customer_date")
        batch_op.drop_index("ix_cdrs_campaign_abandoned")
        for column in ("disposition", "amd_result", "abandoned", "wrap_up_seconds", "talk_seconds",
                       "queue_wait_ms", "agent_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        for column in ("safe_harbour_url", "safe_harbour_text", "machine_action", "amd", "abandon_target",
                       "wrap_up_seconds", "agent_url", "dial_mode"):
            batch_op.drop_column(column)
    op.drop_table("agent_events")
    op.drop_table("agents")
