"""The reports API's date and week parameters, with the original's error messages."""

from __future__ import annotations

from datetime import date

import pytest

from vvtv.nightly.reports import iso_week_of, parse_day, parse_iso_week


def test_a_day_parses():
    assert parse_day("2026-03-01") == date(2026, 3, 1)


@pytest.mark.parametrize("text", ["", "2026-3-1", "2026-02-30", "01-03-2026", "2026-03-01x", None])
def test_a_bad_day_gets_the_original_message(text):
    with pytest.raises(ValueError) as err:
        parse_day(text)
    assert str(err.value) == "invalid date format, use YYYY-MM-DD"


def test_an_iso_week_is_monday_to_sunday():
    assert parse_iso_week("2026-W09") == (date(2026, 2, 23), date(2026, 3, 1))
    assert parse_iso_week("2026-W53") == (date(2026, 12, 28), date(2027, 1, 3))


@pytest.mark.parametrize("text", ["2026-9", "2026W09", "2026-W9", "26-W09", "2026-w09", "", None])
def test_a_malformed_week_gets_the_format_message(text):
    with pytest.raises(ValueError) as err:
        parse_iso_week(text)
    assert str(err.value) == "invalid week format, use YYYY-Www"


@pytest.mark.parametrize("text", ["2026-W00", "2026-W54", "2025-W53"])
def test_a_week_that_does_not_exist_gets_the_iso_message(text):
    with pytest.raises(ValueError) as err:
        parse_iso_week(text)
    assert str(err.value) == "invalid iso week"


def test_the_week_label_of_a_day_round_trips():
    assert iso_week_of(date(2027, 1, 3)) == "2026-W53"
    assert parse_iso_week(iso_week_of(date(2026, 3, 4)))[0] == date(2026, 3, 2)
