"""First schema: every table of the store (generated from dialer/store/models.py, then reviewed).

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:11:29.608137
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('auth_hash', sa.String(length=64), nullable=False),
    sa.Column('api_token_hash', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('default_region', sa.String(length=2), nullable=True),
    sa.Column('ip_allowlist', sa.JSON(), nullable=False),
    sa.Column('app_connect_timeout', sa.Float(), nullable=True),
    sa.Column('app_read_timeout', sa.Float(), nullable=True),
    sa.Column('max_calls_per_minute', sa.Integer(), nullable=True),
    sa.Column('max_concurrent_calls', sa.Integer(), nullable=True),
    sa.Column('default_caller_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts'))
    )
    op.create_table('callback_deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=True),
    sa.Column('dedupe_key', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=True),
    sa.Column('cdr_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('next_try_at', sa.DateTime(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_deliveries')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_callback_deliveries_dedupe_key'))
    )
    with op.batch_alter_table('callback_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_deliveries_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_callback_deliveries_status_next', ['status', 'next_try_at'], unique=False)

    op.create_table('cdrs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('uniqueid', sa.String(length=64), nullable=True),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=True),
    sa.Column('attempt_id', sa.String(length=36), nullable=True),
    sa.Column('record_key', sa.String(length=100), nullable=True),
    sa.Column('campaign_id', sa.String(length=32), nullable=True),
    sa.Column('list_id', sa.String(length=32), nullable=True),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('call_type', sa.String(length=16), nullable=False),
    sa.Column('agent_number', sa.String(length=32), nullable=False),
    sa.Column('customer_number', sa.String(length=32), nullable=False),
    sa.Column('dialed_number', sa.String(length=32), nullable=False),
    sa.Column('caller_id', sa.String(length=32), nullable=False),
    sa.Column('call_direction', sa.String(length=32), nullable=False),
    sa.Column('destination_context', sa.String(length=64), nullable=False),
    sa.Column('call_date', sa.DateTime(), nullable=False),
    sa.Column('answer', sa.DateTime(), nullable=True),
    sa.Column('end', sa.DateTime(), nullable=True),
    sa.Column('billsec', sa.Float(), nullable=True),
    sa.Column('call_duration', sa.Float(), nullable=True),
    sa.Column('call_status', sa.String(length=16), nullable=True),
    sa.Column('dial_status', sa.String(length=16), nullable=False),
    sa.Column('hangup_cause', sa.String(length=64), nullable=True),
    sa.Column('dtmf_inputs', sa.Text(), nullable=False),
    sa.Column('recording_name', sa.Text(), nullable=False),
    sa.Column('recordings', sa.JSON(), nullable=False),
    sa.Column('media_duration', sa.Float(), nullable=True),
    sa.Column('dial_results', sa.JSON(), nullable=False),
    sa.Column('app_errors', sa.JSON(), nullable=False),
    sa.Column('final_status', sa.String(length=16), nullable=True),
    sa.Column('is_dnd', sa.Boolean(), nullable=False),
    sa.Column('fs_node', sa.String(length=100), nullable=True),
    sa.Column('hangup_recorded', sa.Boolean(), nullable=False),
    sa.Column('ivr_recorded', sa.Boolean(), nullable=False),
    sa.Column('callback_queued', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cdrs')),
    sa.UniqueConstraint('record_key', name=op.f('uq_cdrs_record_key')),
    sa.UniqueConstraint('attempt_id', name=op.f('uq_cdrs_attempt_id')),
    sa.UniqueConstraint('uniqueid', name=op.f('uq_cdrs_uniqueid'))
    )
    with op.batch_alter_table('cdrs', schema=None) as batch_op:
        batch_op.create_index('ix_cdrs_account_date', ['account_id', 'call_date'], unique=False)
        batch_op.create_index('ix_cdrs_campaign', ['campaign_id'], unique=False)
        batch_op.create_index('ix_cdrs_request', ['request_id'], unique=False)

    op.create_table('announce_templates',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_announce_templates_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_announce_templates'))
    )
    with op.batch_alter_table('announce_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_announce_templates_account_id'), ['account_id'], unique=False)

    op.create_table('call_requests',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('scheduled_at', sa.DateTime(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_call_requests_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_call_requests')),
    sa.UniqueConstraint('account_id', 'kind', 'idempotency_key', name=op.f('uq_call_requests_account_id_kind_idempotency_key'))
    )
    with op.batch_alter_table('call_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_call_requests_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_call_requests_status_scheduled', ['status', 'scheduled_at'], unique=False)

    op.create_table('callback_tries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('delivery_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('try_no', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('elapsed_ms', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['delivery_id'], ['callback_deliveries.id'], name=op.f('fk_callback_tries_delivery_id_callback_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_tries'))
    )
    with op.batch_alter_table('callback_tries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_tries_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('contact_lists',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_contact_lists_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_lists')),
    sa.UniqueConstraint('account_id', 'name', name=op.f('uq_contact_lists_account_id_name'))
    )
    with op.batch_alter_table('contact_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_lists_account_id'), ['account_id'], unique=False)

    op.create_table('dnd_lists',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_dnd_lists_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dnd_lists')),
    sa.UniqueConstraint('account_id', 'name', name=op.f('uq_dnd_lists_account_id_name'))
    )
    with op.batch_alter_table('dnd_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dnd_lists_account_id'), ['account_id'], unique=False)

    op.create_table('flows',
    sa.Column('id', sa.String(length=16), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('app_url', sa.Text(), nullable=False),
    sa.Column('fallback_url', sa.Text(), nullable=True),
    sa.Column('dialect', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('security_id_hash', sa.String(length=64), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_flows_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flows'))
    )
    with op.batch_alter_table('flows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flows_account_id'), ['account_id'], unique=False)

    op.create_table('inbound_numbers',
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('app_url', sa.Text(), nullable=True),
    sa.Column('fallback_url', sa.Text(), nullable=True),
    sa.Column('dialect', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('ref_id', sa.String(length=40), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_inbound_numbers_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_inbound_numbers'))
    )
    with op.batch_alter_table('inbound_numbers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_numbers_account_id'), ['account_id'], unique=False)

    op.create_table('campaigns',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('campaign_type', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.String(length=32), nullable=False),
    sa.Column('dnd_list_id', sa.String(length=32), nullable=True),
    sa.Column('caller_id', sa.String(length=32), nullable=True),
    sa.Column('dynamic_announcement', sa.Boolean(), nullable=False),
    sa.Column('recorded_filename', sa.Text(), nullable=True),
    sa.Column('announcement_text', sa.Text(), nullable=True),
    sa.Column('repeat', sa.Integer(), nullable=False),
    sa.Column('voice', sa.String(length=64), nullable=True),
    sa.Column('volume', sa.String(length=16), nullable=True),
    sa.Column('rate', sa.String(length=16), nullable=True),
    sa.Column('pitch', sa.String(length=16), nullable=True),
    sa.Column('language_code', sa.String(length=16), nullable=True),
    sa.Column('tts_engine_type', sa.String(length=16), nullable=True),
    sa.Column('doc_url', sa.Text(), nullable=True),
    sa.Column('fallback_url', sa.Text(), nullable=True),
    sa.Column('dialect', sa.String(length=16), nullable=False),
    sa.Column('callback_url', sa.Text(), nullable=True),
    sa.Column('calls_per_minute', sa.Integer(), nullable=False),
    sa.Column('max_concurrent', sa.Integer(), nullable=True),
    sa.Column('max_retries', sa.Integer(), nullable=False),
    sa.Column('retry_time', sa.Integer(), nullable=False),
    sa.Column('retry_on_statuses', sa.JSON(), nullable=False),
    sa.Column('start_at', sa.DateTime(), nullable=True),
    sa.Column('end_at', sa.DateTime(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=False),
    sa.Column('calling_hours_start', sa.String(length=5), nullable=True),
    sa.Column('calling_hours_end', sa.String(length=5), nullable=True),
    sa.Column('use_contact_time_zone', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_contacts', sa.Integer(), nullable=False),
    sa.Column('dialed', sa.Integer(), nullable=False),
    sa.Column('answered', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('dnd', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_campaigns_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['dnd_list_id'], ['dnd_lists.id'], name=op.f('fk_campaigns_dnd_list_id_dnd_lists')),
    sa.ForeignKeyConstraint(['list_id'], ['contact_lists.id'], name=op.f('fk_campaigns_list_id_contact_lists')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('account_id', 'name', name=op.f('uq_campaigns_account_id_name'))
    )
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_campaigns_status', ['status'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('list_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('alt_numbers', sa.JSON(), nullable=False),
    sa.Column('region', sa.String(length=2), nullable=True),
    sa.Column('time_zone', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['list_id'], ['contact_lists.id'], name=op.f('fk_contacts_list_id_contact_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('list_id', 'number', name=op.f('uq_contacts_list_id_number'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contacts_list_id'), ['list_id'], unique=False)

    op.create_table('dnd_numbers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('dnd_list_id', sa.String(length=32), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['dnd_list_id'], ['dnd_lists.id'], name=op.f('fk_dnd_numbers_dnd_list_id_dnd_lists'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dnd_numbers')),
    sa.UniqueConstraint('dnd_list_id', 'number', name=op.f('uq_dnd_numbers_dnd_list_id_number'))
    )
    with op.batch_alter_table('dnd_numbers', schema=None) as batch_op:
        batch_op.create_index('ix_dnd_numbers_number', ['number'], unique=False)

    op.create_table('attempts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('request_id', sa.String(length=40), nullable=True),
    sa.Column('campaign_id', sa.String(length=32), nullable=True),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('call_type', sa.String(length=16), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('ref_id', sa.String(length=40), nullable=True),
    sa.Column('attempt_no', sa.Integer(), nullable=False),
    sa.Column('number_index', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claimed_at', sa.DateTime(), nullable=True),
    sa.Column('next_try_at', sa.DateTime(), nullable=True),
    sa.Column('fs_node', sa.String(length=100), nullable=True),
    sa.Column('origination_uuid', sa.String(length=36), nullable=True),
    sa.Column('job_uuid', sa.String(length=36), nullable=True),
    sa.Column('dial_status', sa.String(length=16), nullable=True),
    sa.Column('hangup_cause', sa.String(length=64), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_attempts_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_attempts_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['call_requests.id'], name=op.f('fk_attempts_request_id_call_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attempts')),
    sa.UniqueConstraint('origination_uuid', name=op.f('uq_attempts_origination_uuid'))
    )
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempts_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_attempts_campaign_state', ['campaign_id', 'state'], unique=False)
        batch_op.create_index(batch_op.f('ix_attempts_ref_id'), ['ref_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attempts_request_id'), ['request_id'], unique=False)
        batch_op.create_index('ix_attempts_state_next', ['state', 'next_try_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_state_next')
        batch_op.drop_index(batch_op.f('ix_attempts_request_id'))
        batch_op.drop_index(batch_op.f('ix_attempts_ref_id'))
        batch_op.drop_index('ix_attempts_campaign_state')
        batch_op.drop_index(batch_op.f('ix_attempts_account_id'))

    op.drop_table('attempts')
    with op.batch_alter_table('dnd_numbers', schema=None) as batch_op:
        batch_op.drop_index('ix_dnd_numbers_number')

    op.drop_table('dnd_numbers')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contacts_list_id'))

    op.drop_table('contacts')
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_index('ix_campaigns_status')
        batch_op.drop_index(batch_op.f('ix_campaigns_account_id'))

    op.drop_table('campaigns')
    with op.batch_alter_table('inbound_numbers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_numbers_account_id'))

    op.drop_table('inbound_numbers')
    with op.batch_alter_table('flows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flows_account_id'))

    op.drop_table('flows')
    with op.batch_alter_table('dnd_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dnd_lists_account_id'))

    op.drop_table('dnd_lists')
    with op.batch_alter_table('contact_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_lists_account_id'))

    op.drop_table('contact_lists')
    with op.batch_alter_table('callback_tries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_tries_delivery_id'))

    op.drop_table('callback_tries')
    with op.batch_alter_table('call_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_call_requests_status_scheduled')
        batch_op.drop_index(batch_op.f('ix_call_requests_account_id'))

    op.drop_table('call_requests')
    with op.batch_alter_table('announce_templates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_announce_templates_account_id'))

    op.drop_table('announce_templates')
    with op.batch_alter_table('cdrs', schema=None) as batch_op:
        batch_op.drop_index('ix_cdrs_request')
        batch_op.drop_index('ix_cdrs_campaign')
        batch_op.drop_index('ix_cdrs_account_date')

    op.drop_table('cdrs')
    with op.batch_alter_table('callback_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_callback_deliveries_status_next')
        batch_op.drop_index(batch_op.f('ix_callback_deliveries_account_id'))

    op.drop_table('callback_deliveries')
    op.drop_table('accounts')
