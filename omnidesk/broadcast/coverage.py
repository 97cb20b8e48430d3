"""Which cell sites a drawn shape covers: polygon, circle or rectangle, computed with shapely (GEOS).

Coordinates are (lat, lng) in degrees as the map gives them; shapely works in (x=lng, y=lat). A polygon
that crosses itself, a circle of radius zero and a rectangle without area are refused with a message.
A circle is measured in metres on a local flat projection around its centre (equirectangular), which
is well under 0.1 % off a great-circle distance for the tens of kilometres a warning zone spans.
No Qt.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import shapely
from shapely.geometry import Polygon, box
from shapely.validation import explain_validity

from omnidesk.errors import ValidationError

EARTH_RADIUS_M = 6_371_008.8
SHAPES = ("polygon", "circle", "rectangle")


def _refuse(message: str) -> ValidationError:
    return ValidationError({"target": message})


def _point(value: Any, what: str) -> tuple[float, float]:
    try:
        lat, lng = (float(v) for v in value)
    except (TypeError, ValueError):
        raise _refuse(f"{what}: expected [latitude, longitude], not {value!r}.") from None
    if not (math.isfinite(lat) and math.isfinite(lng)) or not -90 <= lat <= 90 or not -180 <= lng <= 180:
        raise _refuse(f"{what}: {lat}, {lng} is not on the map (latitude -90 to 90, longitude -180 to 180).")
    return lat, lng


@dataclass(frozen=True)
class Shape:
    """A target shape. polygon / rectangle: `points` is the ring (lat, lng) without the closing point;
    circle: `center` and `radius_m`."""

    kind: str
    points: tuple[tuple[float, float], ...] = ()
    center: tuple[float, float] | None = None
    radius_m: float | None = None

    def describe(self) -> str:
        if self.kind == "circle":
            assert self.center is not None and self.radius_m is not None
            radius = f"{self.radius_m / 1000:.3g} km" if self.radius_m >= 1000 else f"{self.radius_m:.0f} m"
            return f"circle of {radius} around {self.center[0]:.5f}, {self.center[1]:.5f}"
        return f"{self.kind} of {len(self.points)} corners"

    def to_json(self) -> dict[str, Any]:
        """The form shape_from_json reads (and the targeting map draws and reports)."""
        if self.kind == "circle":
            assert self.center is not None
            return {"shape": "circle", "center": list(self.center), "radius_m": self.radius_m}
        if self.kind == "rectangle":
            return {"shape": "rectangle", "corners": [list(self.points[0]), list(self.points[2])]}
        return {"shape": "polygon", "points": [list(p) for p in self.points]}

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature (lng, lat order as GeoJSON wants); a circle is its centre Point with radius_m."""
        if self.kind == "circle":
            assert self.center is not None
            geometry = {"type": "Point", "coordinates": [self.center[1], self.center[0]]}
            properties = {"shape": "circle", "radius_m": self.radius_m}
        else:
            ring = [[lng, lat] for lat, lng in self.points]
            geometry = {"type": "Polygon", "coordinates": [ring + [ring[0]]]}
            properties = {"shape": self.kind}
        return {"type": "Feature", "geometry": geometry, "properties": properties}


def polygon(points: Sequence[Any]) -> Shape:
    ring = [_point(p, f"polygon point {i + 1}") for i, p in enumerate(points or [])]
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring = ring[:-1]
    distinct = list(dict.fromkeys(ring))
    if len(distinct) < 3:
        raise _refuse("A polygon needs at least 3 different corners; click each corner, double-click the last.")
    geometry = Polygon([(lng, lat) for lat, lng in ring])
    if not geometry.is_valid:
        reason = explain_validity(geometry)
        where = re.search(r"\[\s*(-?[\d.eE+-]+)\s+(-?[\d.eE+-]+)\s*\]", reason)
        near = f" near {float(where.group(2)):.5f}, {float(where.group(1)):.5f}" if where else ""
        if "Self-intersection" in reason or "Ring Self-intersection" in reason:
            raise _refuse(f"The polygon crosses itself{near}; draw it again so that its edges do not cross.")
        raise _refuse(f"The polygon is not a valid area ({reason}); draw it again.")
    if geometry.area == 0:
        raise _refuse("The polygon has no area (its corners lie on one line); draw it again.")
    return Shape("polygon", tuple(ring))


def rectangle(corner: Any, opposite: Any) -> Shape:
    (lat1, lng1), (lat2, lng2) = _point(corner, "rectangle corner"), _point(opposite, "opposite corner")
    if lat1 == lat2 or lng1 == lng2:
        raise _refuse("The rectangle has no area: drag from one corner to the opposite one.")
    south, north, west, east = min(lat1, lat2), max(lat1, lat2), min(lng1, lng2), max(lng1, lng2)
    return Shape("rectangle", ((south, west), (south, east), (north, east), (north, west)))


def circle(center: Any, radius_m: Any) -> Shape:
    centre = _point(center, "circle centre")
    try:
        radius = float(radius_m)
    except (TypeError, ValueError):
        raise _refuse(f"The circle's radius must be a number of metres, not {radius_m!r}.") from None
    if not math.isfinite(radius) or radius <= 0:
        raise _refuse("A circle needs a radius above 0 m: drag from the centre outwards.")
    if radius > 2_000_000:
        raise _refuse(f"A circle of {radius / 1000:.0f} km is beyond what a warning zone can be (2,000 km at most); "
                      "send to all cells instead.")
    return Shape("circle", center=centre, radius_m=radius)


def shape_from_json(data: Mapping[str, Any]) -> Shape:
    """{"shape": "polygon", "points": [[lat, lng], ...]} | {"shape": "rectangle", "corners": [[..], [..]]} |
    {"shape": "circle", "center": [lat, lng], "radius_m": 500}, or the GeoJSON Feature to_geojson makes."""
    if not isinstance(data, Mapping):
        raise _refuse("A target shape is an object with its shape: polygon, circle or rectangle.")
    if data.get("type") == "Feature":
        props, geometry = data.get("properties") or {}, data.get("geometry") or {}
        kind = props.get("shape")
        if kind == "circle":
            lng, lat = geometry.get("coordinates") or (None, None)
            return circle((lat, lng), props.get("radius_m"))
        ring = [(lat, lng) for lng, lat in (geometry.get("coordinates") or [[]])[0]]
        if kind == "rectangle":
            lats, lngs = [p[0] for p in ring], [p[1] for p in ring]
            return rectangle((min(lats), min(lngs)), (max(lats), max(lngs)))
        return polygon(ring)
    kind = data.get("shape")
    if kind == "polygon":
        return polygon(data.get("points") or [])
    if kind == "rectangle":
        corners = data.get("corners") or []
        if len(corners) != 2:
            raise _refuse("A rectangle is given by two opposite corners.")
        return rectangle(corners[0], corners[1])
    if kind == "circle":
        return circle(data.get("center"), data.get("radius_m"))
    raise _refuse(f"Unknown shape {kind!r}: draw a polygon, circle or rectangle.")


class SiteIndex:
    """The cell sites' coordinates as arrays, so one shape tests all of them at once."""

    def __init__(self, lats: Iterable[float], lngs: Iterable[float]):
        self.lat = np.asarray(list(lats), dtype=float)
        self.lng = np.asarray(list(lngs), dtype=float)

    def __len__(self) -> int:
        return len(self.lat)

    def covered(self, shape: Shape) -> np.ndarray:
        """Indices of the sites inside the shape (a site on its edge counts as inside)."""
        if len(self.lat) == 0:
            return np.zeros(0, dtype=int)
        if shape.kind == "circle":
            assert shape.center is not None and shape.radius_m is not None
            lat0, lng0 = shape.center
            y = np.radians(self.lat - lat0) * EARTH_RADIUS_M
            dlng = (self.lng - lng0 + 180.0) % 360.0 - 180.0
            x = np.radians(dlng) * EARTH_RADIUS_M * math.cos(math.radians(lat0))
            distances = shapely.distance(shapely.points(x, y), shapely.Point(0.0, 0.0))
            return np.nonzero(distances <= shape.radius_m)[0]
        if shape.kind == "rectangle":
            (south, west), _, (north, east), _ = shape.points
            geometry = box(west, south, east, north)
        else:
            geometry = Polygon([(lng, lat) for lat, lng in shape.points])
        shapely.prepare(geometry)
        return np.nonzero(shapely.intersects_xy(geometry, self.lng, self.lat))[0]
