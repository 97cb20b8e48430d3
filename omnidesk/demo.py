"""Realistic demo customers in bulk (a million in a few minutes) for trying out and measuring OmniDesk.

Names come from Faker's en_GB word lists, read once; rows are formatted as COPY text in chunks,
by a worker process for large loads so that Python and PostgreSQL each keep one core busy, and
streamed into the tables in a single transaction: the load fully happens or leaves nothing.

For speed the load skips per-row triggers (``session_replication_role = replica``, which needs a
superuser connection; the embedded database has one) and so does their work itself: it writes
customer.search_text and then checks it against the triggers' expression in one set-based UPDATE,
it sends one change notice for the whole load, and for large loads it drops the secondary indexes
of the tables it fills and recreates them from their own definitions afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openlocationcode import openlocationcode as olc

from omnidesk.errors import DatabaseUnavailable, ServiceError, ValidationError, first_line

if TYPE_CHECKING:
    from omnidesk.auth import Actor

# From this many customers on, dropping and recreating the secondary indexes beats maintaining
# them row by row, and a worker process pays for its start-up.
BULK_THRESHOLD = 20_000
MAX_CUSTOMERS = 10_000_000
CHUNK_CUSTOMERS = 10_000
ACTIVITY_SUMMARY = "Created by demo data"

# The tables a load fills, in the order they are copied.
TABLES = ("customer", "contact", "site", "customer_attribute", "customer_tag", "activity_log")
COPY_COLUMNS = {
    "customer": (
        "id", "name", "account_type", "status", "payment_type", "credit_limit", "currency", "tax_identifier",
        "contract_start_date", "contract_end_date", "kyc_approved_at", "kyc_approved_by", "search_text",
    ),
    "contact": ("customer_id", "contact_type", "first_name", "last_name", "email", "phone"),
    "site": (
        "customer_id", "name", "address_line_1", "city", "state", "postcode", "country", "latitude",
        "longitude", "plus_code",
    ),
    "customer_attribute": ("customer_id", "key", "value"),
    "customer_tag": ("customer_id", "label", "colour"),
    "activity_log": ("actor_user_id", "actor_name", "customer_id", "entity_type", "entity_id", "action", "summary"),
}

# The customer triggers' search_text, computed for a range of customers at once (see the 0001 migration:
# omnidesk_customer_before_write and omnidesk_contact_search_text).
SEARCH_TEXT_FIX = """
UPDATE customer c
   SET search_text = expected.search_text
  FROM (SELECT cu.id, btrim(lower(cu.name) || ' ' || coalesce(agg.contacts, '')) AS search_text
          FROM customer cu
          LEFT JOIN (SELECT customer_id,
                            string_agg(concat_ws(' ', lower(email), phone), ' ' ORDER BY id) AS contacts
                       FROM contact
                      WHERE customer_id BETWEEN %(first)s AND %(last)s
                      GROUP BY customer_id) agg ON agg.customer_id = cu.id
         WHERE cu.id BETWEEN %(first)s AND %(last)s) expected
 WHERE c.id = expected.id
   AND c.search_text IS DISTINCT FROM expected.search_text
"""

# The indexes a bulk load drops and recreates: not unique and backing no constraint, so the load
# cannot break a rule while they are gone. pg_get_indexdef is what pg_indexes.indexdef shows.
SECONDARY_INDEXES = """
SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
 WHERE t.relnamespace = current_schema()::regnamespace
   AND t.relname = ANY(%(tables)s)
   AND NOT x.indisunique
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)
 ORDER BY t.relname, i.relname
"""


class DemoDataError(ServiceError):
    """Demo data could not be loaded; nothing was written."""


@dataclass(frozen=True)
class DemoSummary:
    customers: int
    contacts: int = 0
    sites: int = 0
    attributes: int = 0
    tags: int = 0
    activity_entries: int = 0
    first_customer_id: int | None = None
    last_customer_id: int | None = None
    seed: int | None = None
    seconds: float = 0.0
    rebuilt_indexes: tuple[str, ...] = ()
    search_text_fixed: int = 0
    skipped: bool = False

    @property
    def message(self) -> str:
        if self.skipped:
            return "The database already has customers; --if-empty left it unchanged."
        return (
            f"Loaded {self.customers:,} demo customers (ids {self.first_customer_id:,}–{self.last_customer_id:,}) "
            f"with {self.contacts:,} contacts, {self.sites:,} sites, {self.attributes:,} attributes and "
            f"{self.tags:,} tags in {self.seconds:.1f} s (seed {self.seed})."
        )


Progress = Callable[[str, int, int], None]


def load_demo_data(
    db,
    actor: Actor,
    customers: int,
    seed: int | None = None,
    *,
    only_if_empty: bool = False,
    bulk: bool | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Add `customers` demo customers with contacts, a site, attributes and tags, in one transaction.

    The same seed gives the same customers (given the same starting ids). `bulk` drops and recreates
    the secondary indexes (default: from BULK_THRESHOLD customers on, unless the tables already hold
    over four times as many, when rebuilding would cost more than maintaining); `workers` is the
    number of processes that format rows (default: one from BULK_THRESHOLD customers on, else none).
    A bulk load locks the customer tables against readers too until it is done.
    """
    import psycopg

    actor.require("admin", "load demo data")
    if isinstance(customers, bool) or not isinstance(customers, int) or not 1 <= customers <= MAX_CUSTOMERS:
        raise ValidationError({"customers": f"The number of demo customers must be 1 to {MAX_CUSTOMERS:,}; got {customers!r}."})
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    workers = (1 if customers >= BULK_THRESHOLD else 0) if workers is None else max(0, workers)
    report = progress or (lambda phase, done, total: None)
    started = time.perf_counter()
    try:
        with psycopg.connect(db.raw_connection_string(), application_name="omnidesk-demo") as conn:
            if bulk is None:
                existing = conn.execute("SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'customer'::regclass").fetchone()[0]
                bulk = rebuilds_indexes(customers, existing)
                conn.rollback()
            with conn.transaction():
                summary = _load(conn, actor, customers, seed, only_if_empty, bulk, workers, report)
    except psycopg.errors.InsufficientPrivilege as exc:
        raise DemoDataError(
            "Loading demo data needs a PostgreSQL superuser connection (it switches off per-row triggers "
            f"for speed), and this connection is not one ({first_line(exc, exc.__class__.__name__)}). Nothing was written."
        ) from exc
    except psycopg.errors.LockNotAvailable as exc:
        raise DemoDataError(
            "Another workstation is using the customer tables; demo data was not loaded. Try again when it is done."
        ) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(f"The database is not reachable ({first_line(exc, exc.__class__.__name__)}); no demo data was saved.") from exc
    except psycopg.Error as exc:
        raise DemoDataError(f"Demo data could not be loaded ({first_line(exc, exc.__class__.__name__)}); nothing was written.") from exc
    except BrokenProcessPool as exc:
        raise DemoDataError("The process formatting demo rows stopped unexpectedly; nothing was written.") from exc
    if summary.skipped:
        return summary
    from dataclasses import replace

    return replace(summary, seconds=time.perf_counter() - started)


def rebuilds_indexes(customers: int, existing: float) -> bool:
    """Whether dropping and recreating the secondary indexes beats maintaining them row by row."""
    return customers >= BULK_THRESHOLD and customers * 4 >= existing


def _load(conn, actor: Actor, customers: int, seed: int, only_if_empty: bool, bulk: bool, workers: int, report: Progress) -> DemoSummary:
    from psycopg import sql

    from omnidesk.db.notify import CUSTOMERS_CHANNEL  # here, so worker processes need not import the database stack

    cur = conn.cursor()
    cur.execute("SET LOCAL session_replication_role = replica")
    cur.execute("SET LOCAL lock_timeout = '30s'")
    cur.execute("SET LOCAL statement_timeout = 0")  # a shared server's limit must not cut an index rebuild short
    cur.execute("SET LOCAL maintenance_work_mem = '512MB'")
    cur.execute("SET LOCAL work_mem = '256MB'")
    if bulk:
        # Dropping indexes needs these locks anyway; taking them together up front avoids deadlocks.
        cur.execute(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE")
    else:
        # Readers carry on; other writers of customers wait, so the reserved ids stay ours.
        cur.execute("LOCK TABLE customer IN SHARE ROW EXCLUSIVE MODE")
    if only_if_empty and cur.execute("SELECT EXISTS (SELECT 1 FROM customer)").fetchone()[0]:
        return DemoSummary(customers=0, seed=seed, skipped=True)

    # The ids after both the highest customer and the sequence are ours while the lock is held; the
    # sequence moves past them only at the end, so a load that fails leaves no gap.
    first_id = cur.execute(
        "SELECT greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence('customer', 'id')::regclass), 0), "
        "(SELECT coalesce(max(id), 0) FROM customer)) + 1"
    ).fetchone()[0]
    last_id = first_id + customers - 1
    now, today = cur.execute("SELECT now()::text, current_date").fetchone()

    dropped: list[tuple[str, str, str]] = []
    if bulk:
        dropped = cur.execute(SECONDARY_INDEXES, {"tables": list(TABLES)}).fetchall()
        for _table, index, _definition in dropped:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))

    counts = dict.fromkeys(TABLES, 0)
    jobs = [
        _ChunkJob(index, first_id + start, min(CHUNK_CUSTOMERS, customers - start), seed, actor.user_id,
                  actor.username, now, today)
        for index, start in enumerate(range(0, customers, CHUNK_CUSTOMERS))
    ]
    done = 0
    report("customers", 0, customers)
    for chunk in _chunks(jobs, workers):
        for table in TABLES:
            _copy(cur, table, chunk.data[table])
            counts[table] += chunk.rows[table]
        done += chunk.customers
        report("customers", done, customers)

    report("checking search text", 0, 1)
    fixed = cur.execute(SEARCH_TEXT_FIX, {"first": first_id, "last": last_id}).rowcount
    for number, (_table, index, definition) in enumerate(dropped):
        report(f"rebuilding index {index}", number, len(dropped))
        cur.execute(definition)
    if bulk:
        # Fresh statistics, or the planner would keep planning for the tables as they were.
        report("gathering statistics", 0, 1)
        for table in TABLES:
            cur.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))

    summary = DemoSummary(
        customers=customers,
        contacts=counts["contact"],
        sites=counts["site"],
        attributes=counts["customer_attribute"],
        tags=counts["customer_tag"],
        activity_entries=counts["activity_log"] + 1,
        first_customer_id=first_id,
        last_customer_id=last_id,
        seed=seed,
        rebuilt_indexes=tuple(index for _t, index, _d in dropped),
        search_text_fixed=fixed,
    )
    cur.execute(
        "INSERT INTO activity_log (actor_user_id, actor_name, entity_type, action, summary, changes) "
        "VALUES (%s, %s, 'demo_data', 'create', %s, %s)",
        (
            actor.user_id, actor.username,
            f"Loaded {customers:,} demo customers (ids {first_id}–{last_id}, seed {seed})",
            json.dumps({"customers": customers, "first_id": first_id, "last_id": last_id, "seed": seed,
                        "contacts": summary.contacts, "sites": summary.sites,
                        "attributes": summary.attributes, "tags": summary.tags}),
        ),
    )
    # One notice for the whole load instead of one per row: open windows reload their lists.
    cur.execute(
        "SELECT pg_notify(%s, %s)",
        (CUSTOMERS_CHANNEL, json.dumps({"table": "customer", "op": "bulk", "count": customers,
                                         "first_id": first_id, "last_id": last_id})),
    )
    cur.execute("SELECT setval(pg_get_serial_sequence('customer', 'id'), %s)", (last_id,))
    report("commit", 0, 1)
    return summary


def _copy(cur, table: str, data: bytes) -> None:
    if not data:
        return
    with cur.copy(f"COPY {table} ({', '.join(COPY_COLUMNS[table])}) FROM STDIN") as copy:
        copy.write(data)


# --- generating rows ---


@dataclass(frozen=True)
class _ChunkJob:
    index: int
    first_id: int
    count: int
    seed: int
    actor_id: int | None
    actor_name: str
    now: str
    today: dt.date


@dataclass(frozen=True)
class _Chunk:
    customers: int
    data: dict[str, bytes]
    rows: dict[str, int]


def _chunks(jobs: list[_ChunkJob], workers: int) -> Iterator[_Chunk]:
    """The formatted chunks in job order, made here or by `workers` processes a few chunks ahead."""
    words = word_lists()
    if workers <= 0:
        for job in jobs:
            yield _make_chunk(job, words)
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork: the caller may run threads (GUI, pool)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(words,)) as pool:
        ahead = workers + 2
        pending = [pool.submit(_worker_chunk, job) for job in jobs[:ahead]]
        following = iter(jobs[ahead:])
        try:
            while pending:
                chunk = pending.pop(0).result()
                job = next(following, None)
                if job is not None:
                    pending.append(pool.submit(_worker_chunk, job))
                yield chunk
        finally:
            for future in pending:
                future.cancel()


_WORKER_WORDS: _WordLists | None = None


def _init_worker(words: _WordLists) -> None:
    global _WORKER_WORDS
    _WORKER_WORDS = words


def _worker_chunk(job: _ChunkJob) -> _Chunk:
    assert _WORKER_WORDS is not None
    return _make_chunk(job, _WORKER_WORDS)


@dataclass(frozen=True)
class _WordLists:
    male: tuple[str, ...]
    female: tuple[str, ...]
    last: tuple[str, ...]  # repeated by Faker's weights, so a uniform pick follows them
    company_suffixes: tuple[str, ...]


# City, region, latitude and longitude of a point inland of the centre, postcode area.
UK_CITIES = (
    ("London", "Greater London", 51.5072, -0.1276, ("E", "EC", "N", "NW", "SE", "SW", "W", "WC")),
    ("Birmingham", "West Midlands", 52.4862, -1.8904, ("B",)),
    ("Manchester", "Greater Manchester", 53.4808, -2.2426, ("M",)),
    ("Leeds", "West Yorkshire", 53.8008, -1.5491, ("LS",)),
    ("Glasgow", "Glasgow City", 55.8642, -4.2518, ("G",)),
    ("Edinburgh", "City of Edinburgh", 55.9390, -3.2000, ("EH",)),
    ("Liverpool", "Merseyside", 53.4100, -2.9600, ("L",)),
    ("Bristol", "Bristol", 51.4545, -2.5879, ("BS",)),
    ("Sheffield", "South Yorkshire", 53.3811, -1.4701, ("S",)),
    ("Cardiff", "Cardiff", 51.5000, -3.1900, ("CF",)),
    ("Belfast", "County Antrim", 54.5900, -5.9400, ("BT",)),
    ("Newcastle upon Tyne", "Tyne and Wear", 54.9783, -1.6178, ("NE",)),
    ("Nottingham", "Nottinghamshire", 52.9548, -1.1581, ("NG",)),
    ("Leicester", "Leicestershire", 52.6369, -1.1398, ("LE",)),
    ("Southampton", "Hampshire", 50.9250, -1.4000, ("SO",)),
    ("Brighton", "East Sussex", 50.8450, -0.1400, ("BN",)),
    ("Plymouth", "Devon", 50.3900, -4.1300, ("PL",)),
    ("Aberdeen", "Aberdeen City", 57.1600, -2.1300, ("AB",)),
    ("Cambridge", "Cambridgeshire", 52.2053, 0.1218, ("CB",)),
    ("Oxford", "Oxfordshire", 51.7520, -1.2577, ("OX",)),
    ("Norwich", "Norfolk", 52.6309, 1.2974, ("NR",)),
    ("York", "North Yorkshire", 53.9590, -1.0815, ("YO",)),
    ("Coventry", "West Midlands", 52.4068, -1.5197, ("CV",)),
    ("Swansea", "Swansea", 51.6400, -3.9500, ("SA",)),
    ("Dundee", "Dundee City", 56.4700, -3.0000, ("DD",)),
    ("Exeter", "Devon", 50.7184, -3.5339, ("EX",)),
    ("Reading", "Berkshire", 51.4543, -0.9781, ("RG",)),
    ("Milton Keynes", "Buckinghamshire", 52.0406, -0.7594, ("MK",)),
    ("Derby", "Derbyshire", 52.9225, -1.4746, ("DE",)),
    ("Stoke-on-Trent", "Staffordshire", 53.0027, -2.1794, ("ST",)),
    ("Inverness", "Highland", 57.4700, -4.2300, ("IV",)),
    ("Kingston upon Hull", "East Riding of Yorkshire", 53.7700, -0.3600, ("HU",)),
    ("Preston", "Lancashire", 53.7632, -2.7031, ("PR",)),
    ("Bath", "Somerset", 51.3811, -2.3590, ("BA",)),
    ("Canterbury", "Kent", 51.2802, 1.0789, ("CT",)),
    ("Lincoln", "Lincolnshire", 53.2307, -0.5406, ("LN",)),
)
STREET_SUFFIXES = (
    "Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Gardens", "Crescent", "Grove",
    "Place", "Terrace", "Court", "Hill", "Park", "Mews", "Row", "Square", "Walk", "View",
)
BUSINESS_ESTATES = ("Business Park", "Trading Estate", "Enterprise Centre", "Industrial Estate", "Court")
BUSINESS_SECTORS = (
    "Ltd", "Ltd", "Ltd", "Communications Ltd", "Consulting Ltd", "Logistics Ltd", "Retail Ltd", "Engineering Ltd",
    "Solicitors LLP", "Accountants LLP", "Holdings PLC", "Architects", "Dental Practice", "Motors Ltd",
)
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # letters used in the inward code
EMAIL_DOMAINS = ("example.net", "example.com", "example.org")  # reserved for documentation (RFC 2606)
# (key, values); external_crm_id is made per customer.
ATTRIBUTES = (
    ("external_crm_id", ()),
    ("support_tier", ("bronze", "silver", "gold", "platinum")),
    ("billing_cycle", ("monthly", "quarterly", "annual")),
    ("preferred_contact_method", ("email", "phone", "sms", "post")),
    ("marketing_opt_in", ("true", "false")),
    ("referral_source", ("website", "retail_store", "partner", "referral", "telesales")),
)
TAGS = (
    ("VIP Customer", "FFD700"),
    ("Late Payer", "FF6347"),
    ("Fibre Ready", "1E90FF"),
    ("Business Priority", "8A2BE2"),
    ("Port-in Pending", "20B2AA"),
    ("Paperless Billing", "3CB371"),
)
INDIVIDUAL_CREDIT = ("100.00", "250.00", "500.00", "1000.00")
BUSINESS_CREDIT = ("1000.00", "2500.00", "5000.00", "10000.00", "25000.00")


_WORDS: _WordLists | None = None


def word_lists() -> _WordLists:
    """First names, last names (weighted) and company suffixes from Faker's en_GB providers, read once."""
    global _WORDS
    if _WORDS is None:
        from faker.providers.company.en_US import Provider as CompanyProvider
        from faker.providers.person.en_GB import Provider as PersonProvider

        last: list[str] = []
        for name, weight in PersonProvider.last_names.items():
            last.extend([name] * max(1, round(weight * 100)))
        suffixes = tuple(s for s in CompanyProvider.company_suffixes if s in ("Ltd", "PLC", "Group", "and Sons"))
        words = _WordLists(
            tuple(PersonProvider.first_names_male), tuple(PersonProvider.first_names_female), tuple(last),
            suffixes + BUSINESS_SECTORS,
        )
        for word in (*words.male, *words.female, *words.last, *words.company_suffixes):
            # Rows are written as COPY text without escaping; make sure nothing needs it.
            if not word or any(ch in word for ch in "\t\n\r\\"):
                raise DemoDataError(f"Faker's word list has an unusable entry {word!r}.")
        _WORDS = words
    return _WORDS


def _email_part(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum() or ch == "-")


def _make_chunk(job: _ChunkJob, words: _WordLists) -> _Chunk:
    """COPY text for `job.count` customers with ids from `job.first_id`, decided by (seed, chunk index)."""
    rng = random.Random(job.seed * 1_000_003 + job.index)
    r = rng.random
    randrange = rng.randrange
    male, female, last = words.male, words.female, words.last
    n_male, n_female, n_last = len(male), len(female), len(last)
    suffixes = words.company_suffixes
    n_suffixes = len(suffixes)
    mail = {name: _email_part(name) for name in (*male, *female, *set(last))}
    cities = UK_CITIES
    n_cities = len(cities)
    starts = [(job.today - dt.timedelta(days=d)).isoformat() for d in range(1096)]
    ends = {
        (d, years): (job.today - dt.timedelta(days=d) + dt.timedelta(days=365 * years)).isoformat()
        for d in range(1096) for years in (1, 2)
    }
    encode = olc.encode
    now, actor_name = job.now, job.actor_name
    actor_id = r"\N" if job.actor_id is None else str(job.actor_id)
    kyc_done = f"{now}\t{actor_name}"
    kyc_pending = "\\N\t\\N"

    customers_out: list[str] = []
    contacts_out: list[str] = []
    sites_out: list[str] = []
    attributes_out: list[str] = []
    tags_out: list[str] = []
    activity_out: list[str] = []

    def person() -> tuple[str, str]:
        if r() < 0.5:
            return male[int(r() * n_male)], last[int(r() * n_last)]
        return female[int(r() * n_female)], last[int(r() * n_last)]

    def phone() -> str:
        # Ofcom's 07700 900xxx drama range and its neighbours: never a real subscriber's number.
        return f"+4477009{randrange(100000):05d}"

    for customer_id in range(job.first_id, job.first_id + job.count):
        business = r() < 0.2
        first, surname = person()
        if business:
            shape = r()
            other = last[int(r() * n_last)]
            if shape < 0.45:
                name = f"{surname} & {other} {suffixes[int(r() * n_suffixes)]}"
            elif shape < 0.8:
                name = f"{surname} {suffixes[int(r() * n_suffixes)]}"
            else:
                name = f"{surname}-{other} {suffixes[int(r() * n_suffixes)]}"
            account_type = "business"
            postpaid = r() < 0.8
            credit = BUSINESS_CREDIT[int(r() * len(BUSINESS_CREDIT))] if postpaid else "0.00"
            tax = f"GB{randrange(100_000_000, 1_000_000_000)}"
        else:
            name = f"{first} {surname}"
            account_type = "individual"
            postpaid = r() < 0.3
            credit = INDIVIDUAL_CREDIT[int(r() * len(INDIVIDUAL_CREDIT))] if postpaid else "0.00"
            tax = r"\N"
        s = r()
        status = "active" if s < 0.82 else "pending" if s < 0.9 else "suspended" if s < 0.96 else "closed"
        if postpaid:
            day = int(r() * 1096)
            contract = f"{starts[day]}\t{ends[day, 1 if r() < 0.6 else 2]}"
        else:
            contract = "\\N\t\\N"
        domain = EMAIL_DOMAINS[int(r() * 3)]
        email = f"{mail[first]}.{mail[surname]}+{customer_id}@{domain}"
        mobile = phone()
        contacts_out.append(f"{customer_id}\tprimary\t{first}\t{surname}\t{email}\t{mobile}\n")
        search = f"{name.lower()} {email} {mobile}"
        if r() < (0.6 if business else 0.25):
            if business:
                first2, surname2 = person()
                kind = "billing" if r() < 0.5 else "technical"
            else:
                first2 = male[int(r() * n_male)] if r() < 0.5 else female[int(r() * n_female)]
                surname2 = surname
                kind = "billing"
            email2 = f"{mail[first2]}.{mail[surname2]}+{customer_id}@{domain}"
            if r() < 0.5:
                mobile2 = phone()
                contacts_out.append(f"{customer_id}\t{kind}\t{first2}\t{surname2}\t{email2}\t{mobile2}\n")
                search = f"{search} {email2} {mobile2}"
            else:
                contacts_out.append(f"{customer_id}\t{kind}\t{first2}\t{surname2}\t{email2}\t\\N\n")
                search = f"{search} {email2}"
        customers_out.append(
            f"{customer_id}\t{name}\t{account_type}\t{status}\t{'postpaid' if postpaid else 'prepaid'}\t{credit}\tGBP\t"
            f"{tax}\t{contract}\t{kyc_pending if status == 'pending' else kyc_done}\t"
            f"{search}\n"
        )

        city, region, lat0, lng0, areas = cities[int(r() * n_cities)]
        lat = round(lat0 + (r() - 0.5) * 0.04, 6)
        lng = round(lng0 + (r() - 0.5) * 0.06, 6)
        postcode = (
            f"{areas[int(r() * len(areas))]}{1 + int(r() * 20)} {int(r() * 10)}"
            f"{POSTCODE_LETTERS[int(r() * 20)]}{POSTCODE_LETTERS[int(r() * 20)]}"
        )
        street = f"{last[int(r() * n_last)]} {STREET_SUFFIXES[int(r() * len(STREET_SUFFIXES))]}"
        if business:
            site_name = "Head office"
            address = (
                f"Unit {1 + int(r() * 40)}, {last[int(r() * n_last)]} {BUSINESS_ESTATES[int(r() * len(BUSINESS_ESTATES))]}"
                if r() < 0.4 else f"{1 + int(r() * 250)} {street}"
            )
        else:
            site_name = "Home"
            address = f"{1 + int(r() * 250)} {street}"
        sites_out.append(
            f"{customer_id}\t{site_name}\t{address}\t{city}\t{region}\t{postcode}\tGB\t{lat:.6f}\t{lng:.6f}\t"
            f"{encode(lat, lng)}\n"
        )

        a = r()
        if a >= 0.4:
            for key, values in rng.sample(ATTRIBUTES, 1 if a < 0.8 else 2):
                value = f"CRM{randrange(10_000_000):07d}" if not values else values[int(r() * len(values))]
                attributes_out.append(f"{customer_id}\t{key}\t{value}\n")
        if r() < 0.1:
            label, colour = TAGS[int(r() * len(TAGS))]
            tags_out.append(f"{customer_id}\t{label}\t{colour}\n")
        activity_out.append(f"{actor_id}\t{actor_name}\t{customer_id}\tcustomer\t{customer_id}\tcreate\t{ACTIVITY_SUMMARY}\n")

    parts = {
        "customer": customers_out, "contact": contacts_out, "site": sites_out,
        "customer_attribute": attributes_out, "customer_tag": tags_out, "activity_log": activity_out,
    }
    return _Chunk(
        customers=job.count,
        data={table: "".join(lines).encode() for table, lines in parts.items()},
        rows={table: len(lines) for table, lines in parts.items()},
    )
