"""PostgreSQL's side of the zip writer: the ratings as `COPY … TO STDOUT (FORMAT csv)`.

PostgreSQL does the joins and the CSV quoting; its blocks go straight into the zip entry, so the
ratings are never all in memory. Rows come out in an order drawn for this export alone (an md5
of a random salt and the row id), so two exports of the same study cannot be joined row by row.
"""

from __future__ import annotations

from django.db import connection

COPY_BUFFER = 1 << 20


_RATINGS_COPY = """
COPY (
    SELECT m.code, m.groups, %s::text, 'rating', s.code, %s::text, r.value
    FROM surveys_rating r
    JOIN unnest(%s::bigint[], %s::text[], %s::text[]) AS m(id, code, groups)
        ON m.id = r.participant_id
    JOIN unnest(%s::bigint[], %s::text[]) AS s(id, code) ON s.id = r.site_id
    WHERE r.wave_id = %s AND r.criterion_id = %s
    ORDER BY md5(%s || r.id::text)
) TO STDOUT (FORMAT csv)
"""


def ratings_copy(raw, wave_id, wave_name, people, lookups, report, *, salt: str) -> int:
    """PostgreSQL does the joins and the CSV quoting; its blocks go straight into the zip.

    One COPY per criterion (each served by the (wave, criterion) index) gives the progress
    bar steps: nothing else may run on the connection while a COPY is open, so progress is
    written between statements. The pseudonyms travel as query parameters and exist only in
    these statements."""
    people_ids = list(people)
    pseudonyms = [p[0] for p in people.values()]
    groups = [p[1] for p in people.values()]
    site_ids, site_codes = list(lookups.sites), list(lookups.sites.values())
    written = 0
    buffer = bytearray()
    connection.ensure_connection()
    for criterion_id, criterion_name in lookups.rating_criteria.items():
        params = (
            wave_name,
            criterion_name,
            people_ids,
            pseudonyms,
            groups,
            site_ids,
            site_codes,
            wave_id,
            criterion_id,
            salt,
        )
        with connection.connection.cursor() as cursor, cursor.copy(_RATINGS_COPY, params) as copy:
            # libpq hands over one row per block; gathering about a megabyte before each
            # write keeps the zip's per-call overhead off the per-row path.
            for block in copy:
                buffer += block
                if len(buffer) >= COPY_BUFFER:
                    written += flush_rows(raw, buffer)
            written += flush_rows(raw, buffer)
        report(written)
    return written


def flush_rows(raw, buffer: bytearray) -> int:
    """Writes the buffered CSV to the zip entry and returns how many rows it held: no cell
    can contain a line break (codes are validated, names are one-line fields), so each
    newline ends one row."""
    rows = buffer.count(b"\n")
    raw.write(buffer)
    buffer.clear()
    return rows
