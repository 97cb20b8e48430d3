"""Provisioning tables: the job queue, one event per playbook task, and the endpoints playbooks call.

A job is a row that any runner (the desktop's own or an `omnidesk worker`) claims with
FOR UPDATE SKIP LOCKED. Its variables are recorded merged and with secrets redacted; what is needed
to run it again (overrides, chosen inventory) is kept as given.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Identity, Index, Integer, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from omnidesk.db.models import Base, _created, _in

JOB_STATUSES = ("queued", "running", "success", "failed", "cancelled")
ACTIONS = ("provision", "deprovision")
PHASES = ("run", "rollback")
# Event status codes of the source (seed 003 L14339-14346).
EVENT_OK, EVENT_RUNNING, EVENT_FAILED, EVENT_IGNORED = 0, 1, 2, 3


class ProvisioningJob(Base):
    __tablename__ = "provisioning_job"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    action: Mapped[str] = mapped_column(String(12), server_default="provision")
    status: Mapped[str] = mapped_column(String(10), server_default="queued")
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    # The service a deprovision, top-up or addon works on; for a provision, the service it created.
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"), index=True)
    playbook: Mapped[str] = mapped_column(String(100))
    playbook_description: Mapped[str] = mapped_column(String(200), server_default="")
    task_count: Mapped[int] = mapped_column(Integer, server_default="0")
    # {template name: item id} as chosen; the items are held (Assigned, no service) while the job runs.
    inventory: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    overrides: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))  # redacted
    service_uuid: Mapped[str] = mapped_column(String(64))
    auto_renew: Mapped[bool | None]
    effects: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    timeout_seconds: Mapped[int] = mapped_column(Integer, server_default="300")
    cancel_requested: Mapped[bool] = mapped_column(server_default=text("false"))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str] = mapped_column(Text, server_default="")
    initiated_by: Mapped[str] = mapped_column(String(100))
    retry_of: Mapped[int | None] = mapped_column(ForeignKey("provisioning_job.id"))
    created_at: Mapped[dt.datetime] = _created()
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        CheckConstraint(_in("action", ACTIONS), name="action"),
        CheckConstraint("timeout_seconds BETWEEN 1 AND 86400", name="timeout_range"),
        Index("ix_provisioning_job_queued", "id", postgresql_where=text("status = 'queued'")),
    )


class ProvisioningEvent(Base):
    __tablename__ = "provisioning_event"
    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("provisioning_job.id", ondelete="CASCADE"))
    event_number: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(8), server_default="run")
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[int] = mapped_column(SmallInteger)
    output: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))  # redacted
    started_at: Mapped[dt.datetime] = _created()
    finished_at: Mapped[dt.datetime | None]
    __table_args__ = (
        CheckConstraint("status BETWEEN 0 AND 3", name="status"),
        CheckConstraint(_in("phase", PHASES), name="phase"),
        Index("ux_provisioning_event_number", "job_id", "event_number", unique=True),
    )


class ProvisioningSetting(Base):
    """Settings shared by every runner: OCS and HSS endpoints, the failure list, the default timeout."""

    __tablename__ = "provisioning_setting"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB)
