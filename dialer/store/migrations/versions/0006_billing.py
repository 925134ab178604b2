"""Prices and balance (billing_* tables) and SnapCall (snapcall_* tables); docs/billing.md.

A branch off 0004: init_db upgrades to every head.

Revision ID: 0006
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Amount = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_accounts",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("balance", Amount, nullable=False),
        sa.Column("reserved", Amount, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_billing_accounts_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_billing_accounts")),
    )
    op.create_table(
        "billing_rates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=8), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("rate", Amount, nullable=False),
        sa.Column("pulse_initial", sa.Integer(), nullable=False),
        sa.Column("pulse_increment", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_billing_rates_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_rates")),
        sa.UniqueConstraint("account_id", "service", "prefix", name=op.f("uq_billing_rates_account_id_service_prefix")),
    )
    op.create_index(op.f("ix_billing_rates_account_id"), "billing_rates", ["account_id"], unique=False)
    op.create_table(
        "billing_reservations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=8), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("parts", sa.Integer(), nullable=True),
        sa.Column("rate", Amount, nullable=False),
        sa.Column("pulse_initial", sa.Integer(), nullable=False),
        sa.Column("pulse_increment", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("price", Amount, nullable=True),
        sa.Column("balance_after", Amount, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("settled_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_reservations")),
    )
    op.create_index(op.f("ix_billing_reservations_account_id"), "billing_reservations", ["account_id"], unique=False)
    op.create_index("ix_billing_reservations_state_created", "billing_reservations", ["state", "created_at"],
                    unique=False)
    op.create_table(
        "billing_ledger",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", Amount, nullable=False),
        sa.Column("balance_after", Amount, nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_ledger")),
    )
    op.create_index("ix_billing_ledger_account_at", "billing_ledger", ["account_id", "at"], unique=False)
    op.create_table(
        "billing_holds",
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], name=op.f("fk_billing_holds_campaign_id_campaigns"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_billing_holds")),
    )
    op.create_index(op.f("ix_billing_holds_account_id"), "billing_holds", ["account_id"], unique=False)
    op.create_table(
        "snapcall_numbers",
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("konnect_id", sa.String(length=200), nullable=False),
        sa.Column("ref_id", sa.String(length=40), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("reject", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_snapcall_numbers_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_snapcall_numbers")),
    )
    op.create_index(op.f("ix_snapcall_numbers_account_id"), "snapcall_numbers", ["account_id"], unique=False)
    op.create_table(
        "snapcall_verifications",
        sa.Column("ref_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("konnect_id", sa.String(length=200), nullable=False),
        sa.Column("phone_number", sa.String(length=32), nullable=False),
        sa.Column("snapcall_number", sa.String(length=32), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_snapcall_verifications_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ref_id", name=op.f("pk_snapcall_verifications")),
    )
    op.create_index(op.f("ix_snapcall_verifications_account_id"), "snapcall_verifications", ["account_id"],
                    unique=False)
    op.create_index("ix_snapcall_verifications_match", "snapcall_verifications",
                    ["snapcall_number", "phone_number", "status"], unique=False)


def downgrade() -> None:
    for table in ("snapcall_verifications", "snapcall_numbers", "billing_holds", "billing_ledger",
                  "billing_reservations", "billing_rates", "billing_accounts"):
        op.drop_table(table)
