"""DECISIONS' rating rule in plain Python: increments, minimum duration, half-up rounding to 4 decimals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from omnidesk.customers.rules import FieldError
from omnidesk.rating import rules


@pytest.mark.parametrize(
    "duration, increment, minimum, billable",
    [
        (7, 6, 6, 12),    # seed 000's plan: 6-second increments, 6-second minimum; 7 s rounds up to 12
        (6, 6, 6, 6),
        (1, 6, 6, 6),
        (3, 6, 0, 6),     # no minimum: still a whole increment
        (61, 60, 0, 120),  # per-minute billing
        (60, 60, 0, 60),
        (7, 6, 30, 30),   # the minimum wins over the rounded duration
        (31, 6, 30, 36),  # past the minimum, increments again
        (7, 1, 0, 7),     # per-second billing
    ],
)
def test_billable_seconds_round_up_to_the_increment_and_never_below_the_minimum(duration, increment, minimum, billable):
    assert rules.billable_seconds(duration, increment, minimum) == billable


@pytest.mark.parametrize(
    "billable, rate, cost",
    [
        (12, "0.02", "0.0040"),    # 12 s to the UK at 0.02 / minute
        (66, "0.015", "0.0165"),   # 61 s to the USA, six-second increments
        (6, "0.0165", "0.0017"),   # 0.00165 exactly: half-up gives 0.0017 (half-even would give 0.0016)
        (7, "0.015", "0.0018"),    # 0.00175
        (1, "0.0001", "0.0000"),   # 0.0000016 rounds down
        (30, "0.00001", "0.0000"),  # 0.000005 is under half of the fourth place
        (3, "0.001", "0.0001"),    # 0.00005 exactly rounds up
        (3600, "1.234567", "74.0740"),  # an hour: 74.07402 → 74.0740
    ],
)
def test_cost_is_billable_minutes_times_rate_rounded_half_up_to_four_decimals(billable, rate, cost):
    assert rules.call_cost(billable, Decimal(rate)) == Decimal(cost)
    assert str(rules.call_cost(billable, Decimal(rate))) == cost


def test_only_answered_calls_that_lasted_are_charged():
    assert rules.is_charged("answered", 1)
    assert not rules.is_charged("answered", 0)
    assert not rules.is_charged("no_answer", 0)
    assert not rules.is_charged("busy", 30)


@pytest.mark.parametrize("raw, digits", [("44", "44"), ("+234", "234"), (" 1 ", "1")])
def test_prefixes_are_digits(raw, digits):
    assert rules.prefix(raw) == digits


@pytest.mark.parametrize("raw, message", [
    ("44a", "digits only"), ("", "missing"), ("4 4", "digits only"), ("12345678901234567", "at most 16"),
])
def test_a_prefix_that_is_not_digits_is_refused_with_the_reason(raw, message):
    with pytest.raises(FieldError, match=message):
        rules.prefix(raw)


@pytest.mark.parametrize("raw, message", [
    ("-0.01", "negative"), ("abc", "not a number"), ("", "missing"), ("0.0000001", "more than 6 decimal"),
    ("NaN", "not a number"), ("1e9", "too large"),
])
def test_a_rate_that_is_negative_or_not_a_number_is_refused_with_the_reason(raw, message):
    with pytest.raises(FieldError, match=message):
        rules.rate(raw)


@pytest.mark.parametrize("raw, digits", [
    ("+44 7700 900123", "447700900123"), ("00447700900123", "447700900123"), ("447700900123", "447700900123"),
    ("(212) 555-0100", "2125550100"),
])
def test_called_numbers_are_reduced_to_international_digits(raw, digits):
    assert rules.called_number(raw) == digits


def test_a_call_start_without_an_offset_is_utc_and_one_with_an_offset_is_converted():
    assert rules.call_start("2026-06-01 00:30:00") == dt.datetime(2026, 6, 1, 0, 30, tzinfo=dt.timezone.utc)
    assert rules.call_start("2026-06-01T00:30:00+02:00") == dt.datetime(2026, 5, 31, 22, 30, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("raw, disposition", [
    ("ANSWERED", "answered"), ("NO ANSWER", "no_answer"), ("busy", "busy"), ("no_route", "no_route"),
])
def test_switch_dispositions_are_understood_in_their_usual_spellings(raw, disposition):
    assert rules.disposition(raw) == disposition
