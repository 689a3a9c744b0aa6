"""Create the schema: clinics, beneficiaries, the event log, projections, keys, audit, jobs, alerts, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 14:14:55.575535

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0001'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The event log is append-only: the database refuses to update or delete its rows.
APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events"
        " BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events"
        " BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$",
        "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events"
        " FOR EACH ROW EXECUTE FUNCTION events_append_only()",
    ],
}
DROP_APPEND_ONLY = {
    "sqlite": ["DROP TRIGGER events_no_update", "DROP TRIGGER events_no_delete"],
    "postgresql": ["DROP TRIGGER events_append_only ON events", "DROP FUNCTION events_append_only()"],
}


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('clinics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('timezone', sa.String(), nullable=True),
    sa.Column('alert_recipients', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clinics')),
    sa.UniqueConstraint('name', name=op.f('uq_clinics_name'))
    )
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(), nullable=False),
    sa.Column('prefix', sa.String(), nullable=False),
    sa.Column('key_hash', sa.String(), nullable=False),
    sa.Column('label', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_api_keys_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys'))
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_keys_clinic_id'), ['clinic_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_keys_prefix'), ['prefix'], unique=False)

    op.create_table('beneficiaries',
    sa.Column('id', sa.String(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('mbi', sa.String(), nullable=False),
    sa.Column('first_name', sa.String(), nullable=False),
    sa.Column('last_name', sa.String(), nullable=False),
    sa.Column('last_name_lower', sa.String(), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('payer', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_beneficiaries_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiaries')),
    sa.UniqueConstraint('clinic_id', 'mbi', name=op.f('uq_beneficiaries_clinic_id_mbi'))
    )
    with op.batch_alter_table('beneficiaries', schema=None) as batch_op:
        batch_op.create_index('ix_beneficiaries_clinic_id_last_name_lower', ['clinic_id', 'last_name_lower'], unique=False)

    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_job_runs_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'run_date', 'clinic_id', name=op.f('uq_job_runs_job_run_date_clinic_id'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('uq_job_runs_job_run_date_all_clinics', ['job', 'run_date'], unique=True, sqlite_where=sa.text('clinic_id IS NULL'), postgresql_where=sa.text('clinic_id IS NULL'))

    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('run_date', sa.Date(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_outbox_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('clinic_id', 'kind', 'run_date', name=op.f('uq_outbox_clinic_id_kind_run_date'))
    )
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('beneficiary_id', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('severity', sa.String(), nullable=False),
    sa.Column('message', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_alerts_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_alerts_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('clinic_id', 'kind', 'beneficiary_id', 'subject', 'date', name=op.f('uq_alerts_clinic_id_kind_beneficiary_id_subject_date'))
    )
    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(), nullable=True),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('beneficiary_id', sa.String(), nullable=True),
    sa.Column('outcome', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_keys.id'], name=op.f('fk_audit_events_api_key_id_api_keys')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_audit_events_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_clinic_id_at', ['clinic_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_events_clinic_id_beneficiary_id_at', ['clinic_id', 'beneficiary_id', 'at'], unique=False)

    op.create_table('beneficiary_projection',
    sa.Column('beneficiary_id', sa.String(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('payer', sa.String(), nullable=True),
    sa.Column('sessions_performed', sa.Integer(), nullable=False),
    sa.Column('last_session_date', sa.Date(), nullable=True),
    sa.Column('booked_count', sa.Integer(), nullable=False),
    sa.Column('first_booking_date', sa.Date(), nullable=True),
    sa.Column('last_booking_date', sa.Date(), nullable=True),
    sa.Column('latest_assessment_date', sa.Date(), nullable=True),
    sa.Column('latest_assessment_outcome', sa.String(), nullable=True),
    sa.Column('diagnosis_code', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_beneficiary_projection_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_beneficiary_projection_clinic_id_clinics')),
    sa.PrimaryKeyConstraint('beneficiary_id', name=op.f('pk_beneficiary_projection'))
    )
    with op.batch_alter_table('beneficiary_projection', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_beneficiary_projection_clinic_id'), ['clinic_id'], unique=False)

    op.create_table('events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clinic_id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.String(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Integer(), nullable=True),
    sa.Column('idempotency_key', sa.String(), nullable=True),
    sa.Column('request_hash', sa.String(), nullable=True),
    sa.Column('response', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiaries.id'], name=op.f('fk_events_beneficiary_id_beneficiaries')),
    sa.ForeignKeyConstraint(['clinic_id'], ['clinics.id'], name=op.f('fk_events_clinic_id_clinics')),
    sa.ForeignKeyConstraint(['recorded_by'], ['api_keys.id'], name=op.f('fk_events_recorded_by_api_keys')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('beneficiary_id', 'version', name=op.f('uq_events_beneficiary_id_version')),
    sa.UniqueConstraint('clinic_id', 'idempotency_key', name=op.f('uq_events_clinic_id_idempotency_key'))
    )
    for statement in APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    """Downgrade schema."""
    for statement in DROP_APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)
    op.drop_table('events')
    with op.batch_alter_table('beneficiary_projection', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_beneficiary_projection_clinic_id'))

    op.drop_table('beneficiary_projection')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_clinic_id_beneficiary_id_at')
        batch_op.drop_index('ix_audit_events_clinic_id_at')

    op.drop_table('audit_events')
    op.drop_table('alerts')
    op.drop_table('outbox')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('uq_job_runs_job_run_date_all_clinics', sqlite_where=sa.text('clinic_id IS NULL'), postgresql_where=sa.text('clinic_id IS NULL'))

    op.drop_table('job_runs')
    with op.batch_alter_table('beneficiaries', schema=None) as batch_op:
        batch_op.drop_index('ix_beneficiaries_clinic_id_last_name_lower')

    op.drop_table('beneficiaries')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_keys_prefix'))
        batch_op.drop_index(batch_op.f('ix_api_keys_clinic_id'))

    op.drop_table('api_keys')
    op.drop_table('clinics')
