"""Cell broadcast state kept in PostgreSQL, so every workstation sees the same peers and warnings.

The CBC engine (engine.py) holds the live state of one running centre; these tables are what it
records (omnidesk/cbc/store.py writes them) and the queue through which other processes ask it to act:

- cbc_peer: the configured BSCs and MMEs and the last link state the running centre reported.
- cbc_warning: one row per warning as the operator asked for it (content, targets) and its state.
- cbc_warning_peer / cbc_warning_cell: the per-peer and per-cell results the engine collected.
- cbc_command: send / update / stop requests for the running centre, claimed with SKIP LOCKED.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, ForeignKeyConstraint, Identity, Index, Integer, SmallInteger, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, _created, _in, _modified

PROTOCOLS = ("cbsp", "sbcap")
ROLES = ("client", "server")
TRANSPORTS = ("tcp", "sctp", "memory")
LAYOUTS = ("osmocom", "spec-figure")
LINK_STATES = ("disabled", "connecting", "listening", "resetting", "up", "keepalive-pending", "backing-off")
CATEGORIES = ("high-priority", "background", "normal")
# 'queued' = waiting for the running centre to take it; the rest are message_fsm.WarningState values.
WARNING_STATES = ("queued", "init", "wait-write-ack", "active", "wait-replace-ack", "wait-stop-ack", "stopped",
                  "expired", "failed")
PEER_WARNING_STATES = ("init", "wait-write-ack", "active", "wait-replace-ack", "wait-stop-ack", "stopped", "failed",
                       "timed-out")
CELL_OUTCOMES = ("success", "failure", "stopped")
COMMANDS = ("send", "update", "stop")


class CbcPeer(Base):
    __tablename__ = "cbc_peer"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    protocol: Mapped[str] = mapped_column(String(8))
    role: Mapped[str] = mapped_column(String(8), server_default="client")
    host: Mapped[str] = mapped_column(String(255), server_default="127.0.0.1")
    port: Mapped[int | None] = mapped_column(Integer)
    transport: Mapped[str | None] = mapped_column(String(8))
    repetition_period_layout: Mapped[str] = mapped_column(String(16), server_default="osmocom")
    remote_host: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default="true")
    simulated: Mapped[bool] = mapped_column(Boolean, server_default="false")
    link_state: Mapped[str] = mapped_column(String(20), server_default="disabled")
    link_reason: Mapped[str] = mapped_column(Text, server_default="")
    link_changed_at: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint(r"name ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'", name="name_format"),
        CheckConstraint(_in("protocol", PROTOCOLS), name="protocol"),
        CheckConstraint(_in("role", ROLES), name="role"),
        CheckConstraint(_in("transport", TRANSPORTS), name="transport"),
        CheckConstraint(_in("repetition_period_layout", LAYOUTS), name="layout"),
        CheckConstraint(_in("link_state", LINK_STATES), name="link_state"),
        CheckConstraint("port BETWEEN 0 AND 65535", name="port_range"),
        CheckConstraint("(protocol = 'cbsp' AND transport IN ('tcp', 'memory')) OR "
                        "(protocol = 'sbcap' AND transport IN ('sctp', 'memory')) OR transport IS NULL",
                        name="transport_fits_protocol"),
    )


class CbcWarning(Base):
    __tablename__ = "cbc_warning"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_identifier: Mapped[int] = mapped_column(Integer)
    message_code: Mapped[int] = mapped_column(Integer)
    geographical_scope: Mapped[int] = mapped_column(SmallInteger, server_default="1")
    update_number: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    category: Mapped[str] = mapped_column(String(16), server_default="normal")
    repetition_period: Mapped[int] = mapped_column(Integer)
    number_of_broadcasts: Mapped[int] = mapped_column(Integer, server_default="0")
    warning_period: Mapped[int | None] = mapped_column(Integer)
    texts: Mapped[list] = mapped_column(JSONB)  # [{"language": "en", "text": "...", "message_identifier": null}]
    targets: Mapped[dict | None] = mapped_column(JSONB)  # {peer: [cell json]} or null = every connected peer
    state: Mapped[str] = mapped_column(String(20), server_default="queued")
    reason: Mapped[str] = mapped_column(Text, server_default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = _created()
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint("message_identifier BETWEEN 0 AND 65535", name="message_identifier_range"),
        CheckConstraint("message_code BETWEEN 0 AND 1023", name="message_code_range"),
        CheckConstraint("geographical_scope BETWEEN 0 AND 3", name="scope_range"),
        CheckConstraint("update_number BETWEEN 0 AND 15", name="update_number_range"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint("repetition_period BETWEEN 1 AND 4095", name="repetition_period_range"),
        CheckConstraint("number_of_broadcasts BETWEEN 0 AND 65535", name="broadcasts_range"),
        CheckConstraint("warning_period IS NULL OR warning_period > 0", name="warning_period_positive"),
        CheckConstraint("jsonb_typeof(texts) = 'array' AND jsonb_array_length(texts) > 0", name="texts_present"),
        CheckConstraint(_in("state", WARNING_STATES), name="state"),
        Index("ix_cbc_warning_state_created", "state", "created_at"),
    )


class CbcWarningPeer(Base):
    __tablename__ = "cbc_warning_peer"
    warning_id: Mapped[int] = mapped_column(ForeignKey("cbc_warning.id", ondelete="CASCADE"), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64), primary_key=True)  # the name, kept when a peer is removed
    protocol: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, server_default="")
    writes_sent: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (CheckConstraint(_in("state", PEER_WARNING_STATES), name="state"),)


class CbcWarningCell(Base):
    __tablename__ = "cbc_warning_cell"
    warning_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    cell: Mapped[str] = mapped_column(String(80), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True, server_default="")  # '' = no language
    outcome: Mapped[str] = mapped_column(String(8))
    cause: Mapped[str | None] = mapped_column(Text)
    broadcasts_completed: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint(_in("outcome", CELL_OUTCOMES), name="outcome"),
        ForeignKeyConstraint(["warning_id", "peer"], ["cbc_warning_peer.warning_id", "cbc_warning_peer.peer"],
                             ondelete="CASCADE"),
    )


class CbcCommand(Base):
    __tablename__ = "cbc_command"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("cbc_warning.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[dt.datetime] = _created()
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    done_at: Mapped[dt.datetime | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(_in("kind", COMMANDS), name="kind"),
        Index("ix_cbc_command_pending", "id", postgresql_where="done_at IS NULL"),
    )
