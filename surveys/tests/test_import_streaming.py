"""The import reads a file a row at a time: a bad row near the start stops the reading, a bad row
at the end still changes nothing, and memory does not grow with the number of rows."""

from __future__ import annotations

import tracemalloc

import pytest
from django.core.management import CommandError, call_command

from surveys.importing import MAX_ERRORS, READ_ON, ImportRejected, responses_import
from surveys.models import Criterion, Group, Participant, Priority, Ranking, Rating, Site, Study, Wave

pytestmark = pytest.mark.django_db

HEADER = "participant,groups,wave,task,item,criterion,value\n"


class Counted:
    """A file that exists only as a generator of lines (each call opens it anew): there is no text
    to read at once and no length, and it counts the lines handed out, so a test can tell how far
    the importer read."""

    def __init__(self, people: int, sites: int, *, bad: dict[int, str] | None = None, ranking: bool = False):
        self.people, self.sites, self.bad, self.ranking = people, sites, bad or {}, ranking
        self.read = 0
        self.opened = 0

    @property
    def rows(self) -> int:
        return self.people * (self.sites + (2 if self.ranking else 0))

    def _lines(self):
        yield HEADER
        row = 1
        for p in range(self.people):
            cells = [
                f"P{p:05d},{'north' if p % 2 else 'south'};all,before,rating,street {s},safety,{1 + (p + s) % 4}\n"
                for s in range(self.sites)
            ]
            if self.ranking:
                cells += [
                    f"P{p:05d},{'north' if p % 2 else 'south'};all,before,ranking,photo {i},beauty,{1 + (i + p) % 2}\n"
                    for i in range(2)
                ]
            for line in cells:
                row += 1
                self.read += 1
                yield self.bad.get(row, line)

    def __call__(self):
        self.opened += 1
        self.read = 0
        return self._lines()


@pytest.fixture
def city(db):
    return Study.objects.create(slug="city", title_en="City", scale_min=1, scale_max=4)


def _nothing_written():
    for model in (Rating, Ranking, Priority, Participant, Wave, Group, Site, Criterion):
        assert not model.objects.exists(), model


def test_a_bad_row_near_the_start_of_a_large_file_stops_the_reading(city):
    source = Counted(people=2000, sites=10, bad={5: "P00000,south;all,before,rating,street 3,safety,9\n"})
    with pytest.raises(ImportRejected) as rejected:
        responses_import(lines=source, study_slug="city")
    assert rejected.value.errors[0].startswith("row 5: rating 9 is outside the scale 1–4")
    # It read on a little to show other errors near the first, then stopped; the rest of the
    # 20,000 rows were never read, and the file was never opened a second time.
    assert source.read <= 5 + READ_ON + 1 < source.rows
    assert rejected.value.stopped_at <= 5 + READ_ON + 1
    assert source.opened == 1
    _nothing_written()


def test_reading_stops_at_the_twentieth_bad_row(city):
    bad = {row: f"P{row:05d},,before,rating,street 1,safety,x\n" for row in range(10, 10 + 3 * 40, 3)}
    source = Counted(people=500, sites=10, bad=bad)
    with pytest.raises(ImportRejected) as rejected:
        responses_import(lines=source, study_slug="city")
    errors = rejected.value.errors
    assert len(errors) == MAX_ERRORS
    assert [e.split(":")[0] for e in errors] == [f"row {r}" for r in sorted(bad)[:MAX_ERRORS]]
    assert source.read <= sorted(bad)[MAX_ERRORS - 1] + 1


def test_the_command_says_where_reading_stopped(city, tmp_path, capsys):
    path = tmp_path / "answers.csv"
    rows = [f"P{i},,before,rating,street 1,safety,{'9' if i == 3 else '2'}\n" for i in range(3 * READ_ON)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    with pytest.raises(
        CommandError, match=r"rejected, nothing was imported \(1 error\(s\) shown; reading stopped at row"
    ):
        call_command("import_responses", str(path), study="city")
    assert "answers.csv: row 5: rating 9 is outside the scale 1–4" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["end-duplicate", "end-scale", "end-ranking"])
def test_a_bad_row_at_the_end_changes_nothing(city, where):
    source = Counted(people=300, sites=10, ranking=where == "end-ranking")
    last = source.rows + 1
    bad = {
        # The same rating as row 2: found only once every rating row has been read and staged.
        "end-duplicate": "P00000,south;all,before,rating,street 0,safety,3\n",
        "end-scale": "P00299,north;all,before,rating,street 9,safety,0\n",
        # The last person ranks one photo twice.
        "end-ranking": "P00299,north;all,before,ranking,photo 0,beauty,1\n",
    }[where]
    source.bad = {last: bad}
    with pytest.raises(ImportRejected) as rejected:
        responses_import(lines=source, study_slug="city")
    assert any(e.startswith(f"row {last}:") or e.startswith(f"row {last - 1}:") for e in rejected.value.errors), (
        rejected.value.errors
    )
    if where == "end-duplicate":
        assert rejected.value.errors == [
            f"row {last}: duplicate of row 2 (same participant, wave, task, item and criterion); "
            "keep one of the two rows"
        ]
    _nothing_written()


def test_a_bad_row_at_the_end_of_a_reimport_leaves_the_earlier_answers(city):
    first = [f"P{p},,before,rating,street {s},safety,2\n" for p in range(50) for s in range(4)]
    responses_import(text=HEADER + "".join(first), study_slug="city")
    before = sorted(Rating.objects.values_list("participant__code", "site__name", "value", "updated_at"))
    # Every value changes, and the last row repeats the first.
    changed = [row.replace(",2\n", ",4\n") for row in first]
    with pytest.raises(ImportRejected, match=f"row {len(changed) + 2}: duplicate of row 2"):
        responses_import(text=HEADER + "".join(changed) + changed[0], study_slug="city")
    assert sorted(Rating.objects.values_list("participant__code", "site__name", "value", "updated_at")) == before
    assert Participant.objects.count() == 50


def test_a_new_study_is_not_created_when_the_last_row_is_bad():
    source = Counted(people=100, sites=5)
    source.bad = {source.rows + 1: "P00000,south;all,before,rating,street 0,safety,1\n"}
    with pytest.raises(ImportRejected, match="duplicate of row 2"):
        responses_import(lines=source, study_slug="fresh", create=True, scale_min=1, scale_max=4)
    assert not Study.objects.exists()
    _nothing_written()


def test_a_file_that_changes_between_the_two_readings_is_refused(city):
    calls = []

    def lines():
        calls.append(1)
        rows = ["P1,,before,rating,street 1,safety,2\n", "P2,,before,rating,street 1,safety,3\n"]
        if len(calls) > 1:
            rows[1] = "P2,,before,rating,street 1,safety,4\n"
        return iter([HEADER, *rows])

    with pytest.raises(ImportRejected, match="the file changed while it was imported"):
        responses_import(lines=lines, study_slug="city")
    assert len(calls) == 2
    _nothing_written()


def test_memory_does_not_grow_with_the_number_of_rows(city, monkeypatch):
    """The same 200 people rate 25 streets, then 100 streets (4× the rows, 4× the ratings): the
    peak of Python allocations stays put. Reading the whole file, or keeping anything per row,
    would make it grow with the rows."""
    # Small batches, so both files take several (what is flat is memory beyond one batch).
    monkeypatch.setattr("surveys.importing.BATCH", 500)

    def peak(sites: int) -> int:
        Rating.objects.all().delete()
        source = Counted(people=200, sites=sites, ranking=True)
        tracemalloc.start()
        try:
            report = responses_import(lines=source, study_slug="city")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert report.answers["ratings"] == 200 * sites and source.opened == 2
        return peak

    peak(100)  # creates the streets and warms caches (the ORM's, the connection's) built once
    small, large = peak(25), peak(100)
    assert Rating.objects.count() == 200 * 100 and Ranking.objects.count() == 200
    assert large < 1.25 * small, (small, large)


def test_ratings_given_by_a_name_and_by_its_code_are_one_answer_the_last_row_wins(tmp_path):
    study = Study.objects.create(slug="city", title_en="City", scale_min=1, scale_max=4)
    site = Site.objects.create(study=study, code="fleury", name="Rue Fleury Est")
    responses_import(
        text=HEADER + "p1,,w,rating,Rue Fleury Est,safety,2\np1,,w,rating,fleury,safety,3\n", study_slug="city"
    )
    assert list(Rating.objects.values_list("site", "value")) == [(site.pk, 3)]


def test_the_command_reads_a_byte_order_mark_and_names_the_first_byte_that_is_not_utf8(city, tmp_path):
    path = tmp_path / "answers.csv"
    good = (HEADER + "p1,,w,rating,s1,safety,2\n" * 1).encode("utf-8")
    path.write_bytes(b"\xef\xbb\xbf" + good)
    call_command("import_responses", str(path), study="city")
    assert Rating.objects.count() == 1
    body = "".join(f"p{i},,w,rating,s1,safety,2\n" for i in range(2, 3000)).encode()
    path.write_bytes(good + body + b"p9,,w,rating,caf\xe9,safety,2\n")
    offset = len(good) + len(body) + len(b"p9,,w,rating,caf")
    with pytest.raises(CommandError, match=rf"not UTF-8 text \(invalid continuation byte at byte {offset}\)"):
        call_command("import_responses", str(path), study="city")
    assert Rating.objects.count() == 1


def test_no_rating_is_lost_or_doubled_at_the_edges_of_batches(city, monkeypatch):
    # Tiny batches: many COPY / INSERT chunks and upsert ranges, with blank rows in between.
    monkeypatch.setattr("surveys.importing.BATCH", 3)
    monkeypatch.setattr("surveys.importing.UPSERT_ROWS", 7)
    rows, expected = [], {}
    for i in range(101):
        value = 1 + i * 7 % 4
        rows.append(f"P{i % 13},,before,rating,street {i // 13},safety,{value}\n")
        expected[(f"P{i % 13}", f"street {i // 13}")] = value
        if i % 10 == 0:
            rows.append(",,,,,,\n")
    report = responses_import(text=HEADER + "".join(rows), study_slug="city")
    assert report.answers["ratings"] == 101
    assert dict(((c, s), v) for c, s, v in Rating.objects.values_list("participant__code", "site__name", "value")) == (
        expected
    )
    assert Rating.objects.count() == 101
