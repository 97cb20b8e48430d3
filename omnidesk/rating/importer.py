"""CSV imports for rating: rate sheets into a plan, and call detail records. Each all or nothing.

Every line is checked before anything is written; one bad line rejects the whole file and the
ImportRejected error lists every bad line with its number and all its reasons (the same report as
the inventory import). Clean files go in with COPY.

Rate sheet (seed 000: `prefix,rate,description`), with an optional effective_date column:

    prefix,rate,description,effective_date
    44,0.02,UK,2026-01-01

A file without a header is read as prefix, rate, description[, effective_date]. Rows without a
date apply from the `effective_date` given to the import, or from the beginning (1970-01-01).
A prefix and date already in the plan is refused unless `replace` is given.

CDRs: a header naming at least the call start, the called number, the duration in seconds, the
customer (its id) and either a disposition or an answered yes/no column; optionally the caller
and the switch's call id (a call id already imported is refused, so a file cannot be billed twice).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

import psycopg
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.customers.rules import FieldError
from omnidesk.db.integrity import explain_integrity_error
from omnidesk.errors import ServiceError, ValidationError
from omnidesk.inventory.importer import ImportProblem, ImportRejected, _reader
from omnidesk.rating import engine, rules
from omnidesk.rating.service import (
    PLAN_PERMISSION_CHANGE,
    RATING_PERMISSION,
    RatingReport,
    plan_by_reference,
)

__all__ = ["ImportProblem", "ImportRejected", "RateImportReport", "CdrImportReport", "import_rates", "import_cdrs"]

MAX_RATE_ROWS = 1_000_000
MAX_CDR_ROWS = 5_000_000

_RATE_COLUMNS = {
    "prefix": "prefix", "destination_prefix": "prefix", "code": "prefix", "dial_code": "prefix",
    "rate": "rate", "rate_per_minute": "rate", "price": "rate", "per_minute": "rate",
    "description": "description", "destination": "description", "name": "description",
    "effective_date": "effective_date", "effective_from": "effective_date", "effective": "effective_date",
    "valid_from": "effective_date",
}
_RATE_ORDER = ("prefix", "rate", "description", "effective_date")

_CDR_COLUMNS = {
    "call_start": "call_start", "start": "call_start", "start_time": "call_start", "timestamp": "call_start",
    "calldate": "call_start", "call_date": "call_start", "started_at": "call_start",
    "caller": "caller", "calling_number": "caller", "caller_number": "caller", "src": "caller", "source": "caller",
    "from": "caller",
    "called_number": "called_number", "called": "called_number", "destination_number": "called_number",
    "destination": "called_number", "dst": "called_number", "to": "called_number", "number": "called_number",
    "duration": "duration", "duration_seconds": "duration", "duration_secs": "duration", "billsec": "duration",
    "seconds": "duration",
    "customer_id": "customer", "customer": "customer", "account": "customer", "account_id": "customer",
    "customer_reference": "customer",
    "disposition": "disposition", "status": "disposition", "answered": "answered",
    "call_id": "call_id", "uniqueid": "call_id", "unique_id": "call_id", "id": "call_id",
}
_INCOMING = ("line", "call_id", "call_start", "caller", "called_number", "duration_seconds", "customer_id",
             "disposition")
_CDR_REQUIRED = {"call_start": "call start", "called_number": "called number", "duration": "duration",
                 "customer": "customer"}


@dataclass(frozen=True)
class RateImportReport:
    plan: str
    added: int
    replaced: int
    seconds: float


@dataclass(frozen=True)
class CdrImportReport:
    imported: int
    first_id: int | None
    last_id: int | None
    rating: RatingReport | None  # None when imported without rating
    seconds: float


def _norm(header: str) -> str:
    return re.sub(r"[\s_-]+", "_", header.strip().lower())


def _is_blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def _layout(headers: list[str], aliases: dict[str, str], problems: list[ImportProblem]) -> dict[str, int]:
    """{field: column index} from the header; unknown or repeated columns are line-1 problems."""
    columns: dict[str, int] = {}
    for index, header in enumerate(headers):
        field = aliases.get(_norm(header))
        if field is None:
            known = ", ".join(dict.fromkeys(aliases.values()))
            problems.append(ImportProblem(1, f"column {header!r} is not known (columns: {known})"))
        elif field in columns:
            problems.append(ImportProblem(1, f"columns {headers[columns[field]]!r} and {header!r} both give the {field}"))
        else:
            columns[field] = index
    return columns


def _rows(reader, headers: list[str], problems: list[ImportProblem], maximum: int, noun: str, tally: list[int]):
    """(line number, record) for each non-blank line after the header, with the field count checked;
    tally[0] counts every row, the malformed ones too."""
    line, last = 1, reader.line_num
    try:
        for record in reader:
            line, last = last + 1, reader.line_num  # a quoted field may span lines: the record starts after the last
            if _is_blank(record):
                continue
            tally[0] += 1
            if tally[0] > maximum:
                raise ValidationError({"file": f"At most {maximum:,} {noun} can be imported from one file; split it."})
            if len(record) != len(headers):
                problems.append(ImportProblem(line, f"{len(record)} field{'s' if len(record) != 1 else ''}, "
                                                    f"the header has {len(headers)}"))
                continue
            yield line, record
    except csv.Error as exc:
        problems.append(ImportProblem(line + 1, f"not readable as CSV ({exc})"))


def _check_line(checks: dict[str, Callable[[], Any]]) -> tuple[dict[str, Any], list[str]]:
    """Every field of one line checked; (clean values, every reason it is bad)."""
    values, reasons = {}, []
    for name, check in checks.items():
        try:
            values[name] = check()
        except FieldError as exc:
            reasons.append(str(exc).rstrip("."))
    return values, reasons


def _first_record(reader) -> list[str]:
    try:
        headers = next(iter(reader))
    except StopIteration:
        raise ValidationError({"file": "The file is empty."}) from None
    except csv.Error as exc:
        raise ValidationError({"file": f"line 1: not readable as CSV ({exc})."}) from None
    if not any(h.strip() for h in headers):
        raise ValidationError({"file": "The file is empty: its first line should name the columns."})
    return headers


def _copy(session, table: str, columns: tuple[str, ...], rows) -> None:
    raw = session.connection().connection.driver_connection
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:  # the database's own checks (another import got there first)
        reason = exc.diag.message_primary if exc.diag and exc.diag.message_primary else str(exc).splitlines()[0]
        raise ServiceError(f"Nothing was imported: {reason}.") from exc


# --- rate sheets ---


def import_rates(
    db, actor: Actor, plan: int | str, source: str | Path | bytes | TextIO, *,
    effective_date: dt.date | None = None, replace: bool = False,
) -> RateImportReport:
    """Import a rate sheet into a plan: every row or none (ImportRejected lists every bad line)."""
    actor.require(PLAN_PERMISSION_CHANGE, "import rate sheets")
    started = time.perf_counter()
    default_date = effective_date or rules.ALWAYS
    reader, source_name = _reader(source)
    problems: list[ImportProblem] = []
    first = _first_record(reader)
    if re.fullmatch(r"\+?[0-9]+", first[0].strip()):  # no header: prefix, rate, description[, effective_date]
        if len(first) > len(_RATE_ORDER):
            raise ValidationError({"file": f"line 1 has {len(first)} fields; a rate sheet without a header has "
                                           f"at most {len(_RATE_ORDER)}: {', '.join(_RATE_ORDER)}."})
        headers = list(_RATE_ORDER[:len(first)])
        columns = {name: i for i, name in enumerate(headers)}
        pending = [(1, first)]
    else:
        headers = first
        columns = _layout(headers, _RATE_COLUMNS, problems)
        pending = []
        for field in ("prefix", "rate"):
            if field not in columns:
                problems.append(ImportProblem(1, f"no {field} column (a rate sheet needs prefix and rate)"))
    if problems:
        raise ImportRejected(problems, 0)

    def get(record: list[str], field: str) -> str | None:
        return record[columns[field]] if field in columns else None

    clean: dict[tuple[str, dt.date], tuple[int, Any, str]] = {}  # (prefix, date) → (line, rate, description)
    tally = [len(pending)]

    def take(line: int, record: list[str]) -> None:
        values, reasons = _check_line({
            "prefix": lambda: rules.prefix(get(record, "prefix")),
            "rate": lambda: rules.rate(get(record, "rate")),
            "description": lambda: rules.description(get(record, "description")),
            "effective_date": lambda: rules.effective_date(get(record, "effective_date"), default_date),
        })
        if not reasons:
            key = (values["prefix"], values["effective_date"])
            if key in clean:
                when = f" from {key[1].isoformat()}" if "effective_date" in columns else ""
                reasons.append(f"prefix {key[0]}{when} is also on line {clean[key][0]}")
            else:
                clean[key] = (line, values["rate"], values["description"])
        if reasons:
            problems.append(ImportProblem(line, "; ".join(reasons)))

    for line, record in pending:
        take(line, record)
    for line, record in _rows(reader, headers, problems, MAX_RATE_ROWS, "rates", tally):
        take(line, record)
    count = tally[0]
    if count == 0 and not problems:
        raise ValidationError({"file": "The file has a header but no rates."})

    with db.transaction() as s:
        record_plan = plan_by_reference(s, plan, lock=True)  # one import into a plan at a time
        existing = {}
        if clean:
            keys = list(clean)
            existing = {
                (r.prefix, r.effective_date): r.rate
                for r in s.execute(
                    text("""SELECT prefix, effective_date, rate FROM rate_plan_rate
                             WHERE rate_plan_id = :plan
                               AND (prefix, effective_date) IN (SELECT * FROM unnest(CAST(:prefixes AS text[]),
                                                                                     CAST(:dates AS date[])))"""),
                    {"plan": record_plan.id, "prefixes": [k[0] for k in keys], "dates": [k[1] for k in keys]})
            }
        if existing and not replace:
            for (prefix, date), rate in existing.items():
                line = clean[(prefix, date)][0]
                problems.append(ImportProblem(
                    line, f"prefix {prefix} from {date.isoformat()} is already in {record_plan.name} at {rate}; "
                          "import with replace to change it"))
        if problems:
            raise ImportRejected(problems, count)
        if existing:
            s.execute(text("""DELETE FROM rate_plan_rate WHERE rate_plan_id = :plan
                                AND (prefix, effective_date) IN (SELECT * FROM unnest(CAST(:prefixes AS text[]),
                                                                                      CAST(:dates AS date[])))"""),
                      {"plan": record_plan.id, "prefixes": [k[0] for k in existing], "dates": [k[1] for k in existing]})
        _copy(s, "rate_plan_rate", ("rate_plan_id", "prefix", "effective_date", "rate", "description"),
              ((record_plan.id, prefix, date, rate, description)
               for (prefix, date), (_, rate, description) in clean.items()))
        record_plan.updated_at = dt.datetime.now(dt.timezone.utc)
        added, replaced = len(clean) - len(existing), len(existing)
        activity.record(
            s, actor, action="import", entity_type="rate_plan", entity_id=record_plan.id,
            summary=f"Imported {len(clean):,} rate{'s' if len(clean) != 1 else ''} into {record_plan.name} "
                    f"from {source_name} ({added:,} new, {replaced:,} replaced)",
            changes={"added": added, "replaced": replaced, "source": source_name},
        )
        return RateImportReport(record_plan.name, added, replaced, time.perf_counter() - started)


# --- call detail records ---


def import_cdrs(
    db, actor: Actor, source: str | Path | bytes | TextIO, *, rate: bool = True,
    default_plan: int | str | None = None,
) -> CdrImportReport:
    """Import every call of a CDR file or none (ImportRejected lists every bad line); then rate the
    imported calls unless rate=False. Calls that cannot be rated are imported unrated and reported."""
    actor.require(RATING_PERMISSION, "import call records")
    started = time.perf_counter()
    reader, source_name = _reader(source)
    problems: list[ImportProblem] = []
    headers = _first_record(reader)
    columns = _layout(headers, _CDR_COLUMNS, problems)
    for field, label in _CDR_REQUIRED.items():
        if field not in columns:
            problems.append(ImportProblem(1, f"no {label} column"))
    if "disposition" in columns and "answered" in columns:
        problems.append(ImportProblem(1, "both a disposition and an answered column; give one"))
    elif "disposition" not in columns and "answered" not in columns:
        problems.append(ImportProblem(1, "no disposition (or answered yes/no) column, so answered calls "
                                         "cannot be told from unanswered ones"))
    if problems:
        raise ImportRejected(problems, 0)

    i_start, i_called, i_duration, i_customer = (columns[f] for f in ("call_start", "called_number", "duration", "customer"))
    i_caller, i_call_id = columns.get("caller"), columns.get("call_id")
    if "disposition" in columns:
        i_status, status_check = columns["disposition"], rules.disposition
    else:
        i_status, status_check = columns["answered"], rules.answered
    source = source_name[:200]

    def clean(line: int, record: list[str]) -> tuple | None:
        """The staging row of one line, or None with its reasons added to the problems."""
        reasons = []
        try:
            start = rules.call_start(record[i_start])
        except FieldError as exc:
            reasons.append(str(exc))
        try:
            called = rules.called_number(record[i_called])
        except FieldError as exc:
            reasons.append(str(exc))
        try:
            seconds = rules.duration(record[i_duration])
        except FieldError as exc:
            reasons.append(str(exc))
        raw_customer = record[i_customer].strip()
        customer = int(raw_customer) if raw_customer.isdigit() and len(raw_customer) < 19 else None
        if customer is None:
            reasons.append(f"customer {raw_customer!r} is not a customer number" if raw_customer else "customer is missing")
        try:
            status = status_check(record[i_status])
        except FieldError as exc:
            reasons.append(str(exc))
        call_id = record[i_call_id].strip() if i_call_id is not None else ""
        if len(call_id) > 64:
            reasons.append(f"call id is {len(call_id)} characters, at most 64")
        if reasons:
            problems.append(ImportProblem(line, "; ".join(reasons)))
            return None
        caller = record[i_caller].strip()[:64] if i_caller is not None else ""  # free text, as the switch wrote it
        return line, call_id or None, start, caller, called, seconds, customer, status

    with db.transaction() as s:
        # Checked lines stream into a staging table (no WAL, no indexes), so a million-call file is not
        # held in memory; the checks against the file itself and the database are then set-wise SQL.
        s.execute(text("""
            CREATE TEMPORARY TABLE cdr_incoming (
                line integer PRIMARY KEY, call_id text, call_start timestamptz, caller text, called_number text,
                duration_seconds integer, customer_id bigint, disposition text
            ) ON COMMIT DROP
        """))
        tally = [0]
        _copy(s, "cdr_incoming", _INCOMING, (row for line, record in _rows(reader, headers, problems, MAX_CDR_ROWS,
                                                                             "calls", tally)
                                             if (row := clean(line, record)) is not None))
        count = tally[0]
        if count == 0 and not problems:
            raise ValidationError({"file": "The file has a header but no calls."})
        s.execute(text("ANALYZE cdr_incoming"))
        for line, call_id, first in s.execute(text("""
                SELECT line, call_id, first_value(line) OVER (PARTITION BY call_id ORDER BY line) AS first
                  FROM cdr_incoming
                 WHERE call_id IN (SELECT call_id FROM cdr_incoming GROUP BY call_id HAVING count(*) > 1)""")):
            if line != first:
                problems.append(ImportProblem(line, f"call id {call_id} is also on line {first}"))
        for line, customer in s.execute(text("""
                SELECT i.line, i.customer_id FROM cdr_incoming i
                 WHERE NOT EXISTS (SELECT 1 FROM customer c WHERE c.id = i.customer_id)""")):
            problems.append(ImportProblem(line, f"there is no customer {customer}"))
        for line, call_id in s.execute(text("""
                SELECT i.line, i.call_id FROM cdr_incoming i JOIN cdr c ON c.call_id = i.call_id""")):
            problems.append(ImportProblem(line, f"call id {call_id} was already imported"))
        if problems:
            raise ImportRejected(problems, count)
        plan = plan_by_reference(s, default_plan) if default_plan is not None else None
        try:
            imported, first_id, last_id = s.execute(text(f"""
                WITH added AS (
                    INSERT INTO cdr (call_id, call_start, caller, called_number, duration_seconds, customer_id,
                                     disposition, source)
                    SELECT call_id, call_start, caller, called_number, duration_seconds, customer_id, disposition,
                           CAST(:source AS text)
                      FROM cdr_incoming ORDER BY line
                    RETURNING id)
                SELECT count(*), min(id), max(id) FROM added"""), {"source": source}).one()
        except DBAPIError as exc:  # another workstation imported one of these call ids meanwhile
            raise ServiceError(f"Nothing was imported: {explain_integrity_error(exc)}") from exc
        rating = None
        if rate:
            rating_started = time.perf_counter()
            # The batch's ids; another import's calls that fall between them are rated too, which is
            # what a rating run would do anyway (the advisory lock keeps the two from colliding).
            outcome = engine.rate_calls(s, "c.id BETWEEN :first AND :last", {"first": first_id, "last": last_id},
                                        default_plan=plan.id if plan else None, rerate=False)
            rating = RatingReport.of(outcome, time.perf_counter() - rating_started)
        summary = f"Imported {imported:,} call{'s' if imported != 1 else ''} from {source_name}"
        if rating is not None:
            summary += f". {rating.describe()}"
        activity.record(
            s, actor, action="import", entity_type="cdr", entity_id=None, summary=summary,
            changes={"calls": imported, "first_id": first_id, "last_id": last_id, "source": source_name,
                     "rated": rating.rated if rating else 0, "unrated": rating.unrated if rating else imported},
        )
        return CdrImportReport(imported, first_id, last_id, rating, time.perf_counter() - started)
