"""Tables of the database-enforced security layer (migration 0004, omnidesk/db/sql/security_0004.sql).

Only the migration owner can read or change `staff_auth`, `staff_backup_code`, `staff_session` and
`security_config`: no login role is granted anything on them, and row-level security with no
policy closes them even to a grant made by mistake. Staff reach them only through the
`SECURITY DEFINER` functions of the SQL file.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, _created

PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


class SecurityConfig(Base):
    """One row: the suffix that makes this database's PostgreSQL role names unique in the cluster,
    and a clock offset tests use to move the database's notion of "now" (lockout expiry)."""

    __tablename__ = "security_config"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    role_suffix: Mapped[str] = mapped_column(String(32))
    clock_offset: Mapped[dt.timedelta] = mapped_column(server_default=text("'0'::interval"))
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("role_suffix ~ '^[a-z0-9_]{1,32}$'", name="role_suffix_format"),
    )


class PermissionGrant(Base):
    """What holding a permission lets a role do to a table; the grants are generated from these rows."""

    __tablename__ = "permission_grant"
    permission_id: Mapped[int] = mapped_column(ForeignKey("permission.id", ondelete="CASCADE"), primary_key=True)
    privilege: Mapped[str] = mapped_column(String(8), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    __table_args__ = (CheckConstraint("privilege IN ('SELECT', 'INSERT', 'UPDATE', 'DELETE')", name="privilege"),)


class StaffAuth(Base):
    __tablename__ = "staff_auth"
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True)
    totp_secret: Mapped[str | None] = mapped_column(Text)
    totp_pending_secret: Mapped[str | None] = mapped_column(Text)
    totp_enabled_at: Mapped[dt.datetime | None]
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    failed_attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    locked_until: Mapped[dt.datetime | None]
    must_change_password: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    password_changed_at: Mapped[dt.datetime | None]
    __table_args__ = (CheckConstraint("failed_attempts >= 0", name="failed_attempts"),)


class StaffBackupCode(Base):
    __tablename__ = "staff_backup_code"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary)
    used_at: Mapped[dt.datetime | None]


class StaffSession(Base):
    __tablename__ = "staff_session"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    method: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = _created()
    last_seen_at: Mapped[dt.datetime] = _created()
    expires_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]
    __table_args__ = (
        CheckConstraint("method IN ('totp', 'backup_code', 'password_only')", name="method"),
        Index("ix_staff_session_live", "user_id", postgresql_where=text("ended_at IS NULL")),
    )
