"""Loads a study's answers from the database into the dataclasses of `analytics.measures`.

Speed matters: a large study holds close to a million ratings. Rows are read as plain values
(on PostgreSQL packed by the server into one bytea that numpy reads), never as model
instances, and scattered into dense matrices with numpy fancy indexing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
from django.db import connection

from surveys.models import ConsensusRating, Criterion, Group, Participant, RankingSetItem, Site, Study, Wave

from .measures import RankingMatrix, RatingMatrix, StudyData, WaveData

# Bumped whenever the loader or the report changes meaning, so old fingerprints stop matching.
REPORT_VERSION = 3

_RATING_COLUMNS = ("participant_id", "wave_id", "site_id", "criterion_id", "value")
_SCATTER_CHUNK = 1 << 20


@dataclass(frozen=True)
class LoadedStudy:
    data: StudyData
    group_labels: dict[str, str]
    criterion_labels: dict[str, str]
    n_ratings: int


def ratings_read(*, wave_ids: list[int]) -> np.ndarray:
    """All ratings of the given waves as an int64 array of shape (n, 5), columns
    participant, wave, site, criterion, value (in no particular order).

    On PostgreSQL the server packs the rows into bytea of big-endian int4 quintuples that numpy
    reads in place: about half the time of fetching 800k row tuples, and no Python object per
    value. The rows come one (wave, criterion) at a time (the index on those columns serves each
    piece) so the transfer buffers stay the size of one piece, not of the study: at 7 M ratings
    one packed result would hold ~1 GB of hex text, bytes and copies at once. Elsewhere a plain
    cursor fetch is fast enough for the sizes SQLite serves.
    """
    if not wave_ids:
        return np.empty((0, 5), dtype=np.int64)
    placeholders = ", ".join(["%s"] * len(wave_ids))
    where = f"FROM surveys_rating WHERE wave_id IN ({placeholders})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            return _ratings_read_packed(cursor, wave_ids)
        cursor.execute(f"SELECT {', '.join(_RATING_COLUMNS)} {where}", wave_ids)
        rows = cursor.fetchall()
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


def _ratings_read_packed(cursor, wave_ids: list[int]) -> np.ndarray:
    """ratings_read on PostgreSQL: one packed query per (wave, criterion of the waves' studies),
    then one for ratings of any other criterion, so every rating of the waves is read once."""
    criterion_ids = list(
        Criterion.objects.filter(study__in=Wave.objects.filter(id__in=wave_ids).values("study_id"))
        .order_by("id")
        .values_list("id", flat=True)
    )
    packed = " || ".join(f"int4send({c}::int4)" for c in _RATING_COLUMNS)
    select = f"SELECT string_agg({packed}, ''::bytea) FROM surveys_rating"
    queries = [(f"{select} WHERE wave_id = %s AND criterion_id = %s", [w, c]) for w in wave_ids for c in criterion_ids]
    placeholders = ", ".join(["%s"] * len(wave_ids))
    queries.append(
        (f"{select} WHERE wave_id IN ({placeholders}) AND NOT criterion_id = ANY(%s)", [*wave_ids, criterion_ids])
    )
    pieces = []
    for sql, params in queries:
        cursor.execute(sql, params)
        blob = cursor.fetchone()[0]
        if blob is not None:
            pieces.append(np.frombuffer(blob, dtype=">i4").reshape(-1, 5).astype(np.int32))
            del blob
    out = np.empty((sum(len(p) for p in pieces), 5), dtype=np.int64)
    at = 0
    while pieces:
        piece = pieces.pop(0)
        out[at : at + len(piece)] = piece
        at += len(piece)
    return out


def _index(ids: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Positions of `keys` in the sorted array `ids`."""
    return np.searchsorted(ids, keys)


def study_data_load(*, study: Study, wave_ids: list[int] | None = None) -> LoadedStudy:
    """Builds the StudyData of a study, restricted to `wave_ids` when given."""
    waves = list(Wave.objects.filter(study=study).order_by("order", "id").values_list("id", "name"))
    if wave_ids is not None:
        waves = [w for w in waves if w[0] in set(wave_ids)]
    groups = list(Group.objects.filter(study=study).order_by("order", "code").values_list("id", "code", "label_en"))
    sites = list(Site.objects.filter(study=study).order_by("order", "code").values_list("id", "code"))
    criteria = list(
        Criterion.objects.filter(study=study).order_by("order", "name").values_list("id", "name", "kind", "label_en")
    )
    participant_ids = np.fromiter(
        Participant.objects.filter(study=study).order_by("id").values_list("id", flat=True),
        dtype=np.int64,
    )
    n_p = len(participant_ids)

    memberships = np.zeros((n_p, len(groups)), dtype=bool)
    pairs = np.array(
        list(
            Participant.groups.through.objects.filter(participant__study=study).values_list(
                "participant_id", "group_id"
            )
        ),
        dtype=np.int64,
    ).reshape(-1, 2)
    group_ids = np.array(sorted(g[0] for g in groups), dtype=np.int64)
    group_column = {gid: i for i, (gid, _, _) in enumerate(groups)}
    if len(pairs):
        columns = np.array([group_column[g] for g in group_ids], dtype=np.int64)
        memberships[_index(participant_ids, pairs[:, 0]), columns[_index(group_ids, pairs[:, 1])]] = True

    rating_criteria = [c for c in criteria if c[2] == Criterion.Kind.RATING]
    ranking_criteria = [c for c in criteria if c[2] == Criterion.Kind.RANKING]
    rows = ratings_read(wave_ids=[w[0] for w in waves])
    cube = _rating_cube(rows, participant_ids, waves, sites, rating_criteria)
    n_ratings = len(rows)
    del rows  # the rows are in the cube now; free them before the rankings are read
    rankings = _ranking_matrices(study, participant_ids, waves, sites, ranking_criteria)

    wave_data = []
    for w, (_, name) in enumerate(waves):
        ratings = tuple(
            RatingMatrix(c[1], cube[w, k]) for k, c in enumerate(rating_criteria) if not np.isnan(cube[w, k]).all()
        )
        wave_data.append(WaveData(name, ratings, tuple(rankings[w])))
    data = StudyData(
        slug=study.slug,
        scale_min=study.scale_min,
        scale_max=study.scale_max,
        # Reports name groups as written; the code is an internal identifier only.
        group_names=tuple(g[2] or g[1] for g in groups),
        memberships=memberships,
        site_codes=tuple(s[1] for s in sites),
        waves=tuple(wave_data),
        consensus=_consensus(study, sites, rating_criteria),
    )
    return LoadedStudy(
        data=data,
        group_labels={g[2] or g[1]: g[2] or g[1] for g in groups},
        criterion_labels={c[1]: c[3] or c[1] for c in criteria},
        n_ratings=n_ratings,
    )


def _consensus(study, sites, criteria) -> tuple[tuple[str, np.ndarray], ...]:
    """The study's consensus ratings per rating criterion, one value per site (nan = none)."""
    site_pos = {sid: i for i, (sid, _) in enumerate(sites)}
    names = {c[0]: c[1] for c in criteria}
    found: dict[str, np.ndarray] = {}
    for site_id, criterion_id, value in ConsensusRating.objects.filter(site__study=study).values_list(
        "site_id", "criterion_id", "value"
    ):
        if criterion_id in names and site_id in site_pos:
            vector = found.setdefault(names[criterion_id], np.full(len(sites), np.nan))
            vector[site_pos[site_id]] = value
    return tuple((c[1], found[c[1]]) for c in criteria if c[1] in found)


def _rating_cube(rows, participant_ids, waves, sites, criteria) -> np.ndarray:
    """waves × criteria × participants × sites, nan where not rated."""
    shape = (len(waves), len(criteria), len(participant_ids), len(sites))
    cube = np.full(shape, np.nan)
    if not len(rows) or not all(shape):
        return cube
    wave_ids = np.array(sorted(w[0] for w in waves), dtype=np.int64)
    wave_pos = {wid: i for i, (wid, _) in enumerate(waves)}
    wave_map = np.array([wave_pos[w] for w in wave_ids], dtype=np.int64)
    site_ids = np.array([s[0] for s in sites], dtype=np.int64)
    site_order = np.argsort(site_ids)
    criterion_ids = np.array([c[0] for c in criteria], dtype=np.int64)
    criterion_order = np.argsort(criterion_ids)
    # Scattered a million rows at a time: the index arrays of all 7 M ratings of a city-scale
    # study at once would take more memory than the cube itself.
    for start in range(0, len(rows), _SCATTER_CHUNK):
        chunk = rows[start : start + _SCATTER_CHUNK]
        # Ratings of ranking criteria cannot exist (the service refuses them), but a filter
        # costs little and keeps the indexing below safe.
        keep = np.isin(chunk[:, 3], criterion_ids) & np.isin(chunk[:, 2], site_ids)
        if not keep.all():
            chunk = chunk[keep]
        w = wave_map[_index(wave_ids, chunk[:, 1])]
        c = criterion_order[_index(criterion_ids[criterion_order], chunk[:, 3])]
        s = site_order[_index(site_ids[site_order], chunk[:, 2])]
        p = _index(participant_ids, chunk[:, 0])
        cube[w, c, p, s] = chunk[:, 4]
    return cube


def _ranking_matrices(study, participant_ids, waves, sites, criteria) -> list[list[RankingMatrix]]:
    """One RankingMatrix per (wave, ranking criterion) that has at least one ranking.

    Each distinct order is decoded once and the ranks are scattered with numpy, not looped
    over per person."""
    result: list[list[RankingMatrix]] = [[] for _ in waves]
    if not criteria or not waves:
        return result
    site_index = {sid: i for i, (sid, _) in enumerate(sites)}
    items: dict[int, list[tuple[str, int | None]]] = {c[0]: [] for c in criteria}
    for criterion_id, code, site_id in (
        RankingSetItem.objects.filter(criterion__study=study)
        .order_by("criterion_id", "position", "id")
        .values_list("criterion_id", "image__code", "image__site_id")
    ):
        items[criterion_id].append((code, site_index.get(site_id)))
    placeholders = ", ".join(["%s"] * len(waves))
    order = '"order"::text' if connection.vendor == "postgresql" else '"order"'
    sql = f"SELECT participant_id, wave_id, criterion_id, {order} FROM surveys_ranking WHERE wave_id IN "
    sql += f"({placeholders})"
    with connection.cursor() as cursor:
        cursor.execute(sql, [w[0] for w in waves])
        rows = cursor.fetchall()
    if not rows:
        return result
    row_p, row_w, row_c, texts = zip(*rows, strict=True)
    del rows
    # A ranking criterion has few distinct orders (at most n! for n images) however many
    # people ranked, so each distinct order is decoded and mapped to set places once.
    distinct: dict[str, int] = {}
    order_of = np.fromiter((distinct.setdefault(t, len(distinct)) for t in texts), dtype=np.int64, count=len(texts))
    del texts
    decoded = [json.loads(t) if isinstance(t, str) else t for t in distinct]
    wave_pos = {wid: i for i, (wid, _) in enumerate(waves)}
    criterion_pos = {c[0]: i for i, c in enumerate(criteria)}
    n = len(order_of)
    row_w = np.fromiter(map(wave_pos.__getitem__, row_w), dtype=np.int64, count=n)
    row_k = np.fromiter((criterion_pos.get(c, -1) for c in row_c), dtype=np.int64, count=n)
    row_p = _index(participant_ids, np.asarray(row_p, dtype=np.int64))
    # places[j, i] = the set place of the i-th image of the j-th distinct (criterion, order)
    # pair, or -1 for an image outside the criterion's set (or past the order's end).
    pair, pair_of = np.unique(np.where(row_k >= 0, row_k * len(decoded) + order_of, -1), return_inverse=True)
    width = max((len(v) for v in items.values()), default=0)
    longest = max((len(o) for o in decoded), default=0)
    places = np.full((len(pair), longest), -1, dtype=np.int64)
    set_place = [{code: i for i, (code, _) in enumerate(items[c[0]])} for c in criteria]
    for j, key in enumerate(pair.tolist()):
        if key >= 0:
            where, codes = set_place[key // len(decoded)], decoded[key % len(decoded)]
            places[j, : len(codes)] = [where.get(code, -1) for code in codes]
    ranks = np.full((len(waves), len(criteria), len(participant_ids), width), np.nan)
    for position in range(longest):
        item = places[pair_of, position]
        keep = item >= 0
        ranks[row_w[keep], row_k[keep], row_p[keep], item[keep]] = position + 1
    answered = np.zeros((len(waves), len(criteria)), dtype=bool)
    answered[row_w[row_k >= 0], row_k[row_k >= 0]] = True
    for wi in range(len(waves)):
        for ki, c in enumerate(criteria):
            if answered[wi, ki]:
                n_items = len(items[c[0]])
                result[wi].append(
                    RankingMatrix(
                        criterion=c[1],
                        ranks=np.ascontiguousarray(ranks[wi, ki, :, :n_items]),
                        item_sites=tuple(site for _, site in items[c[0]]),
                        item_codes=tuple(code for code, _ in items[c[0]]),
                    )
                )
    return result


def inputs_fingerprint(data: StudyData, parameters: dict) -> str:
    """SHA-256 of everything the report depends on: the answers, their layout and the
    parameters. Equal fingerprints mean an identical report, since the math is seeded."""
    digest = hashlib.sha256()

    def add(value) -> None:
        if isinstance(value, np.ndarray):
            digest.update(str(value.shape).encode())
            digest.update(np.ascontiguousarray(value).tobytes())
        else:
            digest.update(json.dumps(value, sort_keys=True, default=str).encode())
        digest.update(b"\x00")

    add(
        {
            "version": REPORT_VERSION,
            "parameters": parameters,
            "slug": data.slug,
            "scale": [data.scale_min, data.scale_max],
            "groups": data.group_names,
            "sites": data.site_codes,
        }
    )
    add(data.memberships)
    for criterion, values in data.consensus:
        add(criterion)
        add(values)
    for wave in data.waves:
        add(wave.name)
        for rating in wave.ratings:
            add(rating.criterion)
            add(rating.values)
        for ranking in wave.rankings:
            add([ranking.criterion, ranking.item_codes, ranking.item_sites])
            add(ranking.ranks)
    return digest.hexdigest()
