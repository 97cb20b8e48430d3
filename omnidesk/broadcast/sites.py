"""Cell sites and their sectors: the CSV import (all or nothing, every bad row reported by line number),
the listing the map draws, and turning covered sites into the per-peer targets the CBC engine takes.

The CSV is the seed's `lat,lng,name,sector1,sector2,sector3` (sector = antenna azimuth in degrees; a site
may have fewer than three). Optional further columns say which cell each sector is for its CBC peer:
`peer,mcc,mnc,lac_tac,ci1,ci2,ci3` — a BSC's sector is the cell global id (mcc, mnc, LAC, ci), an MME's
the tracking area (mcc, mnc, TAC). A header line is optional. No Qt.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from sqlalchemy import delete, insert, select

from omnidesk.auth import Actor
from omnidesk.broadcast.models import CellSector, CellSite
from omnidesk.cbc import store as cbc_store
from omnidesk.errors import ServiceError

BASE_COLUMNS = ("lat", "lng", "name", "sector1", "sector2", "sector3")
CELL_COLUMNS = ("peer", "mcc", "mnc", "lac_tac", "ci1", "ci2", "ci3")
MAX_REPORTED = 50


class ImportRefused(ServiceError):
    """The file was refused as a whole; `problems` lists (line number, message) for every bad row."""

    def __init__(self, problems: list[tuple[int, str]], rows: int):
        self.problems = problems
        shown = "; ".join(f"line {line}: {message}" for line, message in problems[:MAX_REPORTED])
        more = f"; and {len(problems) - MAX_REPORTED} more" if len(problems) > MAX_REPORTED else ""
        super().__init__(f"Nothing was imported: {len(problems)} bad "
                         f"{'row' if len(problems) == 1 else 'rows'} of {rows} — {shown}{more}.")


@dataclass(frozen=True)
class Sector:
    sector: int
    azimuth: float
    peer: str | None = None
    mcc: str | None = None
    mnc: str | None = None
    lac_tac: int | None = None
    ci: int | None = None

    def cell_label(self, protocol: str | None) -> str | None:
        if self.peer is None:
            return None
        if protocol == "sbcap":
            return f"TAI {self.mcc}-{self.mnc}-{self.lac_tac}"
        return f"CGI {self.mcc}-{self.mnc}-{self.lac_tac}-{self.ci}"

    def target(self, protocol: str) -> dict[str, Any]:
        plmn = {"mcc": self.mcc, "mnc": self.mnc}
        if protocol == "sbcap":
            return {"type": "TrackingAreaId", "plmn": plmn, "tac": self.lac_tac}
        return {"type": "CellGlobalId", "plmn": plmn, "lac": self.lac_tac, "ci": self.ci}


@dataclass(frozen=True)
class Site:
    id: int | None
    name: str
    lat: float
    lng: float
    sectors: tuple[Sector, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "lat": self.lat, "lng": self.lng,
                "sectors": [{"sector": s.sector, "azimuth": s.azimuth, "peer": s.peer, "mcc": s.mcc, "mnc": s.mnc,
                             "lac_tac": s.lac_tac, "ci": s.ci} for s in self.sectors]}


def _number(value: str, what: str, low: float, high: float, problems: list[str]) -> float | None:
    try:
        number = float(value)
    except ValueError:
        problems.append(f"{what} {value!r} is not a number" if value else f"{what} is missing")
        return None
    if not math.isfinite(number) or not low <= number <= high:
        problems.append(f"{what} {value} is outside {low:g} to {high:g}")
        return None
    return number


def _whole(value: str, what: str, high: int, problems: list[str]) -> int | None:
    if not re.fullmatch(r"\d+", value):
        problems.append(f"{what} {value!r} is not a whole number" if value else f"{what} is missing")
        return None
    if int(value) > high:
        problems.append(f"{what} {value} is above {high}")
        return None
    return int(value)


def parse_csv(data: str, peers: Mapping[str, str] | None = None) -> list[Site]:
    """The sites a CSV describes, or ImportRefused listing every bad row. peers: name -> protocol of the
    configured CBC peers (a sector naming another peer is a bad row); None skips that check."""
    rows = list(csv.reader(io.StringIO(data.lstrip("\ufeff"))))
    problems: list[tuple[int, str]] = []
    sites: list[Site] = []
    names: dict[str, int] = {}
    counted = 0
    for line, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells) or cells[0].startswith("#"):
            continue
        if line == 1 and cells[0].lower() == "lat":
            continue  # header
        counted += 1
        wrong: list[str] = []
        if len(cells) not in (6, 13):
            problems.append((line, f"expected 6 columns ({','.join(BASE_COLUMNS)}) or 13 (adding "
                                   f"{','.join(CELL_COLUMNS)}), found {len(cells)}"))
            continue
        lat = _number(cells[0], "latitude", -90, 90, wrong)
        lng = _number(cells[1], "longitude", -180, 180, wrong)
        name = cells[2]
        if not name:
            wrong.append("the site has no name")
        elif len(name) > 80:
            wrong.append("the name is longer than 80 characters")
        elif name.lower() in names:
            wrong.append(f"the name {name!r} is already on line {names[name.lower()]}")
        else:
            names[name.lower()] = line
        azimuths: list[tuple[int, float]] = []
        for i, value in enumerate(cells[3:6], start=1):
            if value == "":
                continue
            azimuth = _number(value, f"sector{i} azimuth", 0, 360, wrong)
            if azimuth is not None:
                azimuths.append((i, azimuth % 360))
        if not azimuths and not any(w.startswith("sector") for w in wrong):
            wrong.append("the site has no sector (give at least sector1's azimuth in degrees)")
        sectors: list[Sector] = [Sector(i, a) for i, a in azimuths]
        if len(cells) == 13 and cells[6]:
            peer, mcc, mnc = cells[6], cells[7], cells[8]
            protocol = None if peers is None else peers.get(peer)
            if peers is not None and protocol is None:
                wrong.append(f"peer {peer!r} is not configured (configured: {', '.join(sorted(peers)) or 'none'})")
            if not re.fullmatch(r"\d{3}", mcc):
                wrong.append(f"mcc {mcc!r} is not 3 digits")
            if not re.fullmatch(r"\d{2,3}", mnc):
                wrong.append(f"mnc {mnc!r} is not 2 or 3 digits")
            lac_tac = _whole(cells[9], "lac_tac", 0xFFFFFF if protocol == "sbcap" else 0xFFFF, wrong)
            with_ci = []
            for sector in sectors:
                value = cells[9 + sector.sector]
                ci = None
                if value or protocol != "sbcap":
                    ci = _whole(value, f"ci{sector.sector}", 0xFFFF if protocol != "sbcap" else 0xFFFFFFF, wrong)
                with_ci.append(Sector(sector.sector, sector.azimuth, peer, mcc, mnc, lac_tac, ci))
            sectors = with_ci
        elif len(cells) == 13 and any(cells[7:]):
            wrong.append("cell identities are given without the peer that serves them")
        if wrong:
            problems.append((line, "; ".join(wrong)))
        elif lat is not None and lng is not None:
            sites.append(Site(None, name, lat, lng, tuple(sectors)))
    if problems:
        raise ImportRefused(problems, counted)
    if not sites:
        raise ImportRefused([(1, "the file has no cell sites")], 0)
    return sites


@dataclass(frozen=True)
class ImportResult:
    sites: int
    sectors: int
    replaced: int

    @property
    def message(self) -> str:
        return (f"Imported {self.sites:,} cell sites with {self.sectors:,} sectors"
                + (f", replacing the {self.replaced:,} there were." if self.replaced else "."))


def import_csv(db, actor: Actor, data: str) -> ImportResult:
    """Replace every cell site with the file's, in one transaction: a bad row leaves the old ones in place."""
    actor.require("manage_settings", "import cell sites")
    peers = {name: config.protocol for name, config in cbc_store.peer_configs(db).items()}
    sites = parse_csv(data, peers)
    with db.transaction() as s:
        replaced = s.execute(delete(CellSite)).rowcount
        ids = s.execute(insert(CellSite).returning(CellSite.id, CellSite.name),
                        [{"name": site.name, "lat": site.lat, "lng": site.lng} for site in sites]).all()
        by_name = {name: site_id for site_id, name in ids}
        sector_rows = [{"site_id": by_name[site.name], "sector": x.sector, "azimuth": x.azimuth, "peer": x.peer,
                        "mcc": x.mcc, "mnc": x.mnc, "lac_tac": x.lac_tac, "ci": x.ci}
                       for site in sites for x in site.sectors]
        if sector_rows:
            s.execute(insert(CellSector), sector_rows)
    return ImportResult(len(sites), len(sector_rows), replaced)


def list_sites(db, actor: Actor) -> list[Site]:
    """Every site with its sectors, by name (the map needs view_cbc_message or create_cbc_message)."""
    if not (actor.can("view_cbc_message") or actor.can("create_cbc_message")):
        actor.require("view_cbc_message", "see cell sites")
    with db.read() as s:  # plain rows, not ORM objects: 20,000 sites with 60,000 sectors load several times faster
        sectors: dict[int, list[Sector]] = {}
        for site_id, *fields in s.execute(
                select(CellSector.site_id, CellSector.sector, CellSector.azimuth, CellSector.peer, CellSector.mcc,
                       CellSector.mnc, CellSector.lac_tac, CellSector.ci)
                .order_by(CellSector.site_id, CellSector.sector)):
            sectors.setdefault(site_id, []).append(Sector(*fields))
        return [Site(site_id, name, lat, lng, tuple(sectors.get(site_id, ())))
                for site_id, name, lat, lng in s.execute(
                    select(CellSite.id, CellSite.name, CellSite.lat, CellSite.lng).order_by(CellSite.name))]


def targets_for(sites: Iterable[Site], peers: Mapping[str, str]) -> tuple[dict[str, list[dict]], list[str]]:
    """({peer: [target json]}, names of covered sites no sector of which names a configured peer's cell).
    An MME's tracking area appears once however many sectors share it."""
    targets: dict[str, list[dict]] = {}
    seen: set[tuple] = set()
    unmapped: list[str] = []
    for site in sites:
        mapped = False
        for sector in site.sectors:
            protocol = peers.get(sector.peer or "")
            if protocol is None:
                continue
            mapped = True
            key = (sector.peer, sector.mcc, sector.mnc, sector.lac_tac, None if protocol == "sbcap" else sector.ci)
            if key not in seen:
                seen.add(key)
                targets.setdefault(sector.peer, []).append(sector.target(protocol))  # type: ignore[arg-type]
        if not mapped:
            unmapped.append(site.name)
    return targets, unmapped
