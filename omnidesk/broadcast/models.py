"""The broadcast workstation's tables (migration 0009): templates, messages and their history, cell sites
with their sectors, saved zones, and the one settings row.

The lifecycle of a message is guarded in the database (omnidesk/db/sql/broadcast_0009.sql): staff insert
drafts only; submitting, approving and rejecting happen in SECURITY DEFINER functions that check the
TOTP code; nothing in broadcast_message or broadcast_event can be deleted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Float, ForeignKey, Identity, Index, Integer, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, _created, _in, _modified

CATEGORIES = ("high-priority", "background", "normal")
STATUSES = ("draft", "pending_approval", "approved", "rejected", "active", "expired", "cancelled")
SHAPES = ("polygon", "circle", "rectangle")


class BroadcastSetting(Base):
    """One row: the two-person rule and the console's text limit per language."""

    __tablename__ = "broadcast_setting"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    two_person_rule: Mapped[bool] = mapped_column(Boolean, server_default="true")
    text_limit: Mapped[int] = mapped_column(Integer, server_default="500")
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("text_limit BETWEEN 1 AND 1395", name="text_limit_range"),
    )


class BroadcastTemplate(Base):
    __tablename__ = "broadcast_template"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    scenario: Mapped[str] = mapped_column(String(40))
    message_identifier: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(16), server_default="normal")
    repetition_period: Mapped[int] = mapped_column(Integer)
    number_of_broadcasts: Mapped[int] = mapped_column(Integer, server_default="0")
    warning_period: Mapped[int | None] = mapped_column(Integer)  # seconds
    texts: Mapped[list] = mapped_column(JSONB)  # [{"language": "en", "text": "..."}]
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = _created()
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint("message_identifier BETWEEN 0 AND 65535", name="message_identifier_range"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint("repetition_period BETWEEN 1 AND 4095", name="repetition_period_range"),
        CheckConstraint("number_of_broadcasts BETWEEN 0 AND 65535", name="broadcasts_range"),
        CheckConstraint("warning_period IS NULL OR warning_period > 0", name="warning_period_positive"),
        CheckConstraint("jsonb_typeof(texts) = 'array'", name="texts_array"),
        CheckConstraint("length(btrim(name)) > 0", name="name_present"),
    )


class BroadcastMessage(Base):
    __tablename__ = "broadcast_message"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("broadcast_template.id"))
    message_identifier: Mapped[int] = mapped_column(Integer)
    category: Mapped[str] = mapped_column(String(16), server_default="normal")
    repetition_period: Mapped[int] = mapped_column(Integer)
    number_of_broadcasts: Mapped[int] = mapped_column(Integer, server_default="0")
    warning_period: Mapped[int | None] = mapped_column(Integer)
    texts: Mapped[list] = mapped_column(JSONB)
    target: Mapped[dict | None] = mapped_column(JSONB)  # the drawn shape / zone as GeoJSON; null = all cells
    target_cells: Mapped[dict | None] = mapped_column(JSONB)  # {peer: [cell json]}; null = all cells
    target_summary: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(String(20), server_default="draft")
    created_by: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = _created()
    submitted_at: Mapped[dt.datetime | None] = mapped_column()
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    rejected_at: Mapped[dt.datetime | None] = mapped_column()
    reject_reason: Mapped[str | None] = mapped_column(Text)
    transmit_claimed_at: Mapped[dt.datetime | None] = mapped_column()
    transmitted_at: Mapped[dt.datetime | None] = mapped_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("cbc_warning.id"), index=True)  # the guards look it up
    update_count: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    result_summary: Mapped[dict | None] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = _modified()
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        CheckConstraint(_in("category", CATEGORIES), name="category"),
        CheckConstraint("message_identifier BETWEEN 0 AND 65535", name="message_identifier_range"),
        CheckConstraint("repetition_period BETWEEN 1 AND 4095", name="repetition_period_range"),
        CheckConstraint("number_of_broadcasts BETWEEN 0 AND 65535", name="broadcasts_range"),
        CheckConstraint("warning_period IS NULL OR warning_period > 0", name="warning_period_positive"),
        CheckConstraint("jsonb_typeof(texts) = 'array' AND jsonb_array_length(texts) > 0", name="texts_present"),
        CheckConstraint("status <> 'rejected' OR (rejected_by IS NOT NULL AND length(btrim(reject_reason)) > 0)",
                        name="rejection_has_reason"),
        CheckConstraint("status NOT IN ('approved', 'active', 'expired') OR approved_by IS NOT NULL",
                        name="sent_only_approved"),
        Index("ix_broadcast_message_status_created", "status", "created_at"),
    )


class BroadcastEvent(Base):
    """The message's history: every step, who took it and when. Never updated, never deleted."""

    __tablename__ = "broadcast_event"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("broadcast_message.id"), index=True)
    at: Mapped[dt.datetime] = _created()
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    actor_name: Mapped[str] = mapped_column(String(63), server_default="")
    event: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict] = mapped_column(JSONB, server_default="{}")


UPDATE_STATUSES = ("pending_approval", "approved", "rejected", "sent", "failed")


class BroadcastUpdate(Base):
    """A request to update an active message (migration 0013): asked for with the requester's TOTP code,
    approved under the two-person rule by another user with theirs, then claimed and sent. Written only by
    the database's functions (broadcast_update_0013.sql); never deleted."""

    __tablename__ = "broadcast_update"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("broadcast_message.id"), index=True)
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_user.id"))
    requested_at: Mapped[dt.datetime] = _created()
    texts: Mapped[list | None] = mapped_column(JSONB)  # null = unchanged
    number_of_broadcasts: Mapped[int | None] = mapped_column(Integer)
    repetition_period: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), server_default="pending_approval")
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column()
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    rejected_at: Mapped[dt.datetime | None] = mapped_column()
    reject_reason: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    claimed_at: Mapped[dt.datetime | None] = mapped_column()
    command_id: Mapped[int | None] = mapped_column(ForeignKey("cbc_command.id"), unique=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column()
    update_number: Mapped[int | None] = mapped_column(SmallInteger)  # the message's update_count it became
    failed_at: Mapped[dt.datetime | None] = mapped_column()
    failure_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (
        CheckConstraint(_in("status", UPDATE_STATUSES), name="status"),
        CheckConstraint("texts IS NOT NULL OR number_of_broadcasts IS NOT NULL OR repetition_period IS NOT NULL",
                        name="changes_something"),
        CheckConstraint("texts IS NULL OR (jsonb_typeof(texts) = 'array' AND jsonb_array_length(texts) > 0)",
                        name="texts_present"),
        CheckConstraint("number_of_broadcasts IS NULL OR number_of_broadcasts BETWEEN 0 AND 65535",
                        name="broadcasts_range"),
        CheckConstraint("repetition_period IS NULL OR repetition_period BETWEEN 1 AND 4095",
                        name="repetition_period_range"),
        CheckConstraint("status <> 'rejected' OR (rejected_by IS NOT NULL AND length(btrim(reject_reason)) > 0)",
                        name="rejection_has_reason"),
        CheckConstraint("status NOT IN ('approved', 'sent') OR approved_by IS NOT NULL", name="sent_only_approved"),
        Index("uq_broadcast_update_one_open", "message_id", unique=True,
              postgresql_where=text("status IN ('pending_approval', 'approved')")),
    )


class CellSite(Base):
    __tablename__ = "cell_site"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    imported_at: Mapped[dt.datetime] = _created()
    __table_args__ = (
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lng BETWEEN -180 AND 180", name="lng_range"),
    )


class CellSector(Base):
    """One antenna of a site: its azimuth and, when known, the cell it is for its CBC peer (a BSC's cell
    global id, or an MME's tracking area and E-UTRAN cell)."""

    __tablename__ = "cell_sector"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("cell_site.id", ondelete="CASCADE"), index=True)
    sector: Mapped[int] = mapped_column(SmallInteger)
    azimuth: Mapped[float] = mapped_column(Float)
    peer: Mapped[str | None] = mapped_column(String(64))
    mcc: Mapped[str | None] = mapped_column(String(3))
    mnc: Mapped[str | None] = mapped_column(String(3))
    lac_tac: Mapped[int | None] = mapped_column(Integer)  # LAC for a BSC's cells, TAC for an MME's
    ci: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        CheckConstraint("sector BETWEEN 1 AND 3", name="sector_range"),
        CheckConstraint("azimuth >= 0 AND azimuth < 360", name="azimuth_range"),
        UniqueConstraint("site_id", "sector"),
    )


class BroadcastZone(Base):
    __tablename__ = "broadcast_zone"
    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    shape: Mapped[str] = mapped_column(String(16))
    geojson: Mapped[dict] = mapped_column(JSONB)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[dt.datetime] = _created()
    __table_args__ = (CheckConstraint(_in("shape", SHAPES), name="shape"),)
