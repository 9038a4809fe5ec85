"""Server-side login sessions (revocable; the cookie holds only a random id).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "manager_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["manager_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("manager_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_manager_session_user_id"), ["user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_manager_session_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("manager_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manager_session_seen_at"))
        batch_op.drop_index(batch_op.f("ix_manager_session_user_id"))
    op.drop_table("manager_session")
