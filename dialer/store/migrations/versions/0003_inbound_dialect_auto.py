"""Inbound numbers whose owner never said a dialect detect it from their app (``auto``).

Before this revision every inbound number configured with a Konnect ``doc_url``
was stored as ``kml`` (no API could say otherwise), so a KooKoo app on it got
Konnect's parameters. Those rows become ``auto`` (docs/ivr.md, "Which parameters
an app receives"); ``kookoo`` rows are the platform's own apps and stay.

Revision ID: 0003
Revises: 0002
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE inbound_numbers SET dialect = 'auto' WHERE dialect = 'kml'")


def downgrade() -> None:
    # Code before 0003 knows no "auto"; it served these numbers as KML.
    op.execute("UPDATE inbound_numbers SET dialect = 'kml' WHERE dialect = 'auto'")
