"""SMS: Konnect Messages requests, messages, their SMPP parts, tracked links and clicks (docs/sms.md).

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sms_batches',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('konnect_id', sa.String(length=200), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sms_batches_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_batches')),
    sa.UniqueConstraint('account_id', 'konnect_id', name=op.f('uq_sms_batches_account_id_konnect_id'))
    )
    with op.batch_alter_table('sms_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_batches_account_id'), ['account_id'], unique=False)

    op.create_table('sms_messages',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('batch_id', sa.String(length=40), nullable=True),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('konnect_id', sa.String(length=200), nullable=True),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('call_uuid', sa.String(length=64), nullable=True),
    sa.Column('to_number', sa.String(length=32), nullable=False),
    sa.Column('from_number', sa.String(length=32), nullable=True),
    sa.Column('sender', sa.String(length=32), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('encoding', sa.String(length=8), nullable=False),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=8), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('tries', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=80), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('next_try_at', sa.DateTime(), nullable=True),
    sa.Column('error_code', sa.String(length=16), nullable=True),
    sa.Column('error_reason', sa.Text(), nullable=True),
    sa.Column('price', sa.String(length=32), nullable=True),
    sa.Column('balance', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_sms_messages_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_messages'))
    )
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_messages_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_messages_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index('ix_sms_messages_status_next_try_at', ['status', 'next_try_at'], unique=False)

    op.create_table('sms_links',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('clicks', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('first_clicked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['sms_messages.id'], name=op.f('fk_sms_links_message_id_sms_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_sms_links'))
    )
    with op.batch_alter_table('sms_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_links_message_id'), ['message_id'], unique=False)

    op.create_table('sms_parts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('smsc_message_id', sa.String(length=80), nullable=True),
    sa.Column('command_status', sa.Integer(), nullable=True),
    sa.Column('error_code', sa.String(length=16), nullable=True),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['sms_messages.id'], name=op.f('fk_sms_parts_message_id_sms_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_parts')),
    sa.UniqueConstraint('message_id', 'seq', name=op.f('uq_sms_parts_message_id_seq'))
    )
    with op.batch_alter_table('sms_parts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_parts_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sms_parts_smsc_message_id'), ['smsc_message_id'], unique=False)

    op.create_table('sms_clicks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('message_id', sa.String(length=40), nullable=False),
    sa.Column('clicked_at', sa.DateTime(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['code'], ['sms_links.code'], name=op.f('fk_sms_clicks_code_sms_links'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_clicks'))
    )
    with op.batch_alter_table('sms_clicks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sms_clicks_code'), ['code'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sms_clicks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_clicks_code'))

    op.drop_table('sms_clicks')
    with op.batch_alter_table('sms_parts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_parts_smsc_message_id'))
        batch_op.drop_index(batch_op.f('ix_sms_parts_message_id'))

    op.drop_table('sms_parts')
    with op.batch_alter_table('sms_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_links_message_id'))

    op.drop_table('sms_links')
    with op.batch_alter_table('sms_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_messages_status_next_try_at')
        batch_op.drop_index(batch_op.f('ix_sms_messages_batch_id'))
        batch_op.drop_index(batch_op.f('ix_sms_messages_account_id'))

    op.drop_table('sms_messages')
    with op.batch_alter_table('sms_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sms_batches_account_id'))

    op.drop_table('sms_batches')
