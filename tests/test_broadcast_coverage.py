"""Targeting: the covered sites of a polygon, circle and rectangle match a reference point-in-shape computation
written independently here (ray casting, haversine, bounds); bad shapes are refused with a message."""

from __future__ import annotations

import math
import random

import pytest

from omnidesk.broadcast import coverage
from omnidesk.errors import ValidationError

CENTRE = (-6.80, 39.28)


def sample_sites(n=800, seed=7):
    rng = random.Random(seed)
    return [(CENTRE[0] + rng.uniform(-0.5, 0.5), CENTRE[1] + rng.uniform(-0.5, 0.5)) for _ in range(n)]


def ray_cast(point, ring):
    """Classic even-odd rule, in (lat, lng)."""
    lat, lng = point
    inside = False
    for (a_lat, a_lng), (b_lat, b_lng) in zip(ring, ring[1:] + ring[:1]):
        if (a_lat > lat) != (b_lat > lat):
            crossing = a_lng + (lat - a_lat) * (b_lng - a_lng) / (b_lat - a_lat)
            if lng < crossing:
                inside = not inside
    return inside


def haversine_m(a, b):
    lat1, lng1, lat2, lng2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lng2 - lng1) / 2) ** 2
    return 2 * coverage.EARTH_RADIUS_M * math.asin(math.sqrt(h))


def covered(shape, sites):
    index = coverage.SiteIndex([s[0] for s in sites], [s[1] for s in sites])
    return set(index.covered(shape).tolist())


def test_a_concave_polygon_covers_exactly_the_sites_the_reference_finds():
    sites = sample_sites()
    ring = [(-7.1, 39.0), (-7.1, 39.6), (-6.9, 39.6), (-6.9, 39.3), (-6.6, 39.3), (-6.6, 39.0)]  # an L shape
    expected = {i for i, p in enumerate(sites) if ray_cast(p, ring)}
    assert 50 < len(expected) < len(sites) - 50
    assert covered(coverage.polygon(ring), sites) == expected
    # closing the ring by repeating the first point changes nothing
    assert covered(coverage.polygon(ring + ring[:1]), sites) == expected


def test_a_circle_covers_the_sites_within_its_radius_by_great_circle_distance():
    sites = sample_sites()
    radius = 25_000
    expected = {i for i, p in enumerate(sites) if haversine_m(CENTRE, p) <= radius}
    near_edge = [i for i, p in enumerate(sites) if abs(haversine_m(CENTRE, p) - radius) < 50]
    got = covered(coverage.circle(CENTRE, radius), sites)
    # the flat projection may differ from the great circle only within metres of the edge
    assert got - set(near_edge) == expected - set(near_edge)
    assert 20 < len(expected) < len(sites)


def test_a_rectangle_from_any_two_opposite_corners_covers_the_sites_within_its_bounds():
    sites = sample_sites()
    north_east, south_west = (-6.7, 39.45), (-6.95, 39.2)
    expected = {i for i, (lat, lng) in enumerate(sites) if -6.95 <= lat <= -6.7 and 39.2 <= lng <= 39.45}
    assert covered(coverage.rectangle(north_east, south_west), sites) == expected
    assert covered(coverage.rectangle(south_west, north_east), sites) == expected


def test_a_polygon_crossing_itself_is_refused_with_where_it_crosses():
    bow_tie = [(-7.0, 39.0), (-6.6, 39.6), (-7.0, 39.6), (-6.6, 39.0)]
    with pytest.raises(ValidationError, match=r"The polygon crosses itself near -6\.8\d*, 39\.3\d*; draw it again"):
        coverage.polygon(bow_tie)


@pytest.mark.parametrize("radius", [0, -5, "0", float("nan")])
def test_a_circle_of_radius_zero_is_refused(radius):
    with pytest.raises(ValidationError, match="A circle needs a radius above 0 m"):
        coverage.circle(CENTRE, radius)


def test_other_bad_shapes_are_refused_with_what_to_do():
    with pytest.raises(ValidationError, match="at least 3 different corners"):
        coverage.polygon([(-6.8, 39.2), (-6.7, 39.3)])
    with pytest.raises(ValidationError, match="no area"):
        coverage.rectangle((-6.8, 39.2), (-6.8, 39.4))
    with pytest.raises(ValidationError, match="not on the map"):
        coverage.polygon([(-96.8, 39.2), (-6.7, 39.3), (-6.6, 39.1)])


def test_a_shape_survives_its_geojson_round_trip_as_a_saved_zone_does():
    for shape in (coverage.polygon([(-7.0, 39.0), (-6.9, 39.5), (-6.6, 39.1)]),
                  coverage.circle(CENTRE, 1200), coverage.rectangle((-6.9, 39.1), (-6.7, 39.4))):
        again = coverage.shape_from_json(shape.to_geojson())
        assert again == shape


def test_every_shape_reads_back_from_the_form_the_map_draws_and_reports():
    for shape in (coverage.polygon([[-6.85, 39.20], [-6.85, 39.35], [-6.74, 39.35]]),
                  coverage.rectangle([-6.85, 39.20], [-6.74, 39.35]),
                  coverage.circle([-6.80, 39.28], 2500)):
        assert coverage.shape_from_json(shape.to_json()) == shape
