"""What a verdict says about how its events were counted (slo.judge.counting): pure."""

import pytest

from slo.judge.counting import edges_of, iso_tenths, reset_note, span_note, span_s
from slo.judge.prom import Sample

START, END = 1_700_000_000.0, 1_700_000_060.0


def test_the_edges_are_read_from_the_rows_of_the_edges_query():
    rows = [Sample({"edge": "start"}, START - 3.8), Sample({"edge": "end"}, END - 1.2)]
    assert edges_of(rows) == (START - 3.8, END - 1.2)
    assert edges_of([Sample({"edge": "end"}, END - 1.2)]) == (None, END - 1.2)
    assert edges_of([]) == (None, None)


@pytest.mark.parametrize(("edges", "seconds"), [
    ((START - 3.8, END - 1.2), 62.6),  # a rate divides by the seconds between the scrapes
    ((None, END - 1.2), 60),
    ((START, None), 60),
    ((END, START), 60),
])
def test_a_count_spans_the_seconds_between_its_scrapes_when_both_are_known(edges, seconds):
    assert span_s(60, edges) == pytest.approx(seconds)


def test_the_span_note_names_the_scrapes_or_says_the_rule_without_them():
    note = span_note(START, END, (START - 3.8, END - 1.2))
    assert note == (f"events counted from the scrape at {iso_tenths(START - 3.8)} (3.8 s before "
                    f"the window's start) to the scrape at {iso_tenths(END - 1.2)} (1.2 s before "
                    "its end): a request counts in the window holding the first scrape after it")
    assert iso_tenths(START - 3.8) == "2023-11-14T22:13:16.2Z"
    assert span_note(START, END, (None, None)).startswith(
        "events counted from each series' last sample at or before the window's start (one "
        "without any from zero, or from its first scrape if its target is new to Prometheus) "
        "to its last scrape: ")


def test_the_reset_note_names_the_series_of_the_slos_jobs_only():
    census = {"app_requests_total": [Sample({"census": "reset", "job": "api"}, 3),
                                     Sample({"census": "reset", "job": "other"}, 5),
                                     Sample({"census": "fresh"}, 9)]}
    assert reset_note({"app_requests_total": {"api"}}, census).startswith(
        '3 series of app_requests_total (job "api") reset inside the window (the service '
        "restarted): ")
    both = reset_note({"app_requests_total": {""}}, census)
    assert both.startswith('3 series of app_requests_total (job "api"), 5 series of '
                           'app_requests_total (job "other") reset')
    assert reset_note({"app_requests_total": {"web"}}, census) is None
    assert reset_note({"x_total": {""}}, census) is None
