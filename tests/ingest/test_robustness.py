"""Bad input, counted: damaged copies of the real dataset files (tests/malformed.py: cuts, flipped
bytes, a wrong header, mixed encodings, a 10 MB line, an empty file, a gzip cut short, one bad line)
each end in rejects or a `DecodeError` that names the file, with the damaged line among the rejects
where there is one; every good row beside the damage is kept; nothing raises anything else.

A seeded sample of the corpus keeps this fast (the 10 MB line once); ``bench/robustness.py`` runs it
whole.
"""

from __future__ import annotations

import pytest

from resources.tools import Tools
from tests.malformed import LONG_LINE_BYTES, corpus, run

SAMPLE = 30


@pytest.fixture(scope="module")
def cases(shared_datasets, tmp_path_factory):
    return corpus(shared_datasets, tmp_path_factory.mktemp("malformed"), sample=SAMPLE)


def test_sample_covers_every_damage_and_type(cases):
    assert {c.damage for c in cases} >= {"cut-25%", "flip", "wrong-header", "empty", "gzip-cut", "long-line"}
    assert {c.data_type for c in cases} == {"flow", "dns", "proxy"}
    assert [c.path.stat().st_size > LONG_LINE_BYTES for c in cases].count(True) == 1


def test_damaged_inputs_end_in_clear_errors_and_keep_good_rows(cases):
    results = [run(case, Tools()) for case in cases]
    assert not [problem for result in results for problem in result.problems()]
    # The cases that must fail did, each in its own way: a DecodeError or rejects, never silence.
    assert all(r.clear for r in results if r.case.must_fail)


def test_one_bad_line_costs_only_that_line(shared_datasets, tmp_path):
    """Every text format: a file with one line replaced keeps all its other rows, the line a reject
    with its number and reason."""
    lines = corpus(shared_datasets, tmp_path, damages={"one-bad-line"})
    assert len(lines) >= 8
    for case in lines:
        result = run(case, Tools())
        assert (result.error, result.crash) == (None, None), case.name
        assert result.rows == case.good and case.bad_lines[0] in result.reject_lines, case.name
