"""Pseudonyms and small-cell protection of group memberships: plain functions, no Django.

Group memberships are the export's quasi-identifiers: someone who knows that a neighbour is a
senior wheelchair user could find them if only two participants share that combination. The
export therefore guarantees that every combination of memberships it contains (including "no
group") is shared by at least k participants.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

PSEUDONYM_PREFIX = "R"
PSEUDONYM_HEX_CHARS = 16


def pseudonym_key() -> bytes:
    """A fresh 256-bit key for one export. It is never stored, so two exports cannot be joined."""
    return secrets.token_bytes(32)


def pseudonymise(code: str, key: bytes) -> str:
    """HMAC-SHA256 of the participant code under the export's key, as "R" + 16 hex digits.

    The result starts with a letter, so it is a valid import code and never looks like a
    spreadsheet formula."""
    digest = hmac.new(key, code.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_CHARS]


def pseudonyms_make(codes: Iterable[str]) -> dict[str, str]:
    """Pseudonyms of all codes under one new key, drawing a new key in the (2^-64-unlikely)
    event that two codes collide after truncation."""
    codes = list(codes)
    while True:
        key = pseudonym_key()
        mapping = {code: pseudonymise(code, key) for code in codes}
        if len(set(mapping.values())) == len(mapping):
            return mapping


@dataclass
class Generalisation:
    """What `memberships_generalise` did, in figures that are safe to publish.

    `removed` counts, per group, the memberships taken away; `generalised` is how many
    participants lost some but not all of their memberships, `suppressed` how many lost all
    of them. The small combinations themselves are not reported, since publishing "two
    participants were seniors, disabled and LGBTQIA2+" would disclose the very cell the
    protection hides."""

    k: int
    memberships: dict[Hashable, frozenset[str]]
    removed: dict[str, int] = field(default_factory=dict)
    generalised: int = 0
    suppressed: int = 0
    k_reachable: bool = True
    # Groups released with every one of their members (their figures describe the whole group).
    complete: tuple[str, ...] = ()
    method: str = "combinations"
    # The memberships before protection; never written to the zip.
    original: dict[Hashable, frozenset[str]] = field(default_factory=dict, repr=False)

    @property
    def kept(self) -> int:
        """How many memberships the export releases."""
        return sum(len(groups) for groups in self.memberships.values())

    @property
    def affected(self) -> int:
        return self.generalised + self.suppressed

    def combinations(self) -> dict[tuple[str, ...], int]:
        counts = Counter(tuple(sorted(groups)) for groups in self.memberships.values())
        return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def memberships_generalise(memberships: Mapping[Hashable, Iterable[str]], k: int) -> Generalisation:
    """Makes every combination of group memberships shared by at least `k` participants.

    1. Generalise: while some non-empty combination has fewer than k participants, drop from
       each such combination its rarest group (fewest participants overall, then code), which
       merges it into a larger combination. Each pass removes memberships, so this ends.
    2. Suppress complementary cells: if fewer than k participants are then left with no
       group at all, clear the memberships of more participants — from combinations that can
       spare them and stay at k or more, else one whole combination — so that the "no group"
       cell reaches k as well.

    Suppression prefers participants already generalised, then takes them in key order, so
    the same data always gives the same result.
    With fewer than k participants in all, every membership is cleared and `k_reachable` is
    False: no grouping of so few people can be safe.
    """
    k = max(int(k), 1)
    original = {p: frozenset(groups) for p, groups in memberships.items()}
    current = dict(original)
    while True:
        counts = Counter(current.values())
        small = [combo for combo, n in counts.items() if combo and n < k]
        if not small:
            break
        support = Counter(g for groups in current.values() for g in groups)
        drop = {combo: min(combo, key=lambda g: (support[g], g)) for combo in small}
        for p, groups in current.items():
            if groups in drop:
                current[p] = groups - {drop[groups]}

    result = Generalisation(k=k, memberships=current)
    _suppress_complement(result, original, k)
    return _account(result, original)


def _account(result: Generalisation, original: dict) -> Generalisation:
    """Fills in what was removed, generalised and suppressed, and which groups stayed whole."""
    result.original = original
    for p, before in original.items():
        after = result.memberships[p]
        for g in before - after:
            result.removed[g] = result.removed.get(g, 0) + 1
        if before and not after:
            result.suppressed += 1
        elif before != after:
            result.generalised += 1
    result.removed = dict(sorted(result.removed.items()))
    present = {g for groups in original.values() for g in groups}
    result.complete = tuple(sorted(g for g in present if g not in result.removed))
    return result


def memberships_by_columns(memberships: Mapping[Hashable, Iterable[str]], k: int) -> Generalisation:
    """Releases whole groups as indicator columns, as many memberships as possible.

    Groups are tried from the largest down; a group is kept when every combination of the
    kept groups' indicators (including "in none of them") is still shared by at least k
    participants, and withheld entirely otherwise. A kept group is released with all of its
    members, so a 0 in its column is true. With fewer than k participants nothing is kept."""
    k = max(int(k), 1)
    original = {p: frozenset(groups) for p, groups in memberships.items()}
    support = Counter(g for groups in original.values() for g in groups)
    kept: list[str] = []
    if len(original) >= k:
        for group in sorted(support, key=lambda g: (-support[g], g)):
            trial = set(kept) | {group}
            cells = Counter(groups & trial for groups in original.values())
            if min(cells.values()) >= k:
                kept.append(group)
    chosen = frozenset(kept)
    result = Generalisation(
        k=k,
        memberships={p: groups & chosen for p, groups in original.items()},
        k_reachable=len(original) >= k,
        method="columns",
    )
    return _account(result, original)


def memberships_protect(memberships: Mapping[Hashable, Iterable[str]], k: int) -> Generalisation:
    """The protection an export applies: of the two safe releases — whole groups as indicator
    columns (`memberships_by_columns`) and per-combination generalisation with complementary
    suppression (`memberships_generalise`) — the one that keeps more memberships; on a tie the
    whole columns, whose zeros are true."""
    memberships = {p: frozenset(groups) for p, groups in memberships.items()}
    columns = memberships_by_columns(memberships, k)
    combinations = memberships_generalise(memberships, k)
    return columns if columns.kept >= combinations.kept else combinations


def _suppress_complement(result: Generalisation, original: dict, k: int) -> None:
    current = result.memberships
    empty = frozenset()
    n_empty = sum(1 for groups in current.values() if not groups)
    if n_empty == 0 or n_empty >= k:
        return
    need = k - n_empty
    by_combo: dict[frozenset, list] = {}
    # Participants already generalised come last, where suppression takes from, so that as
    # few people as possible are touched.
    for p in sorted(current, key=lambda p: (current[p] != original[p], _sort_key(p))):
        if current[p]:
            by_combo.setdefault(current[p], []).append(p)
    if not by_combo:
        result.k_reachable = False
        return
    spare = sum(len(members) - k for members in by_combo.values())
    if spare >= need:
        # Take from the combinations with most to spare, so they all stay at k or more.
        ranked = sorted(by_combo.values(), key=lambda members: (-len(members), sorted(current[members[0]])))
        for members in ranked:
            take = min(len(members) - k, need)
            for p in members[len(members) - take :]:
                current[p] = empty
            need -= take
            if need == 0:
                return
    # Nothing to spare: empty the smallest combination entirely (it has at least k people).
    combo, members = min(by_combo.items(), key=lambda item: (len(item[1]), sorted(item[0])))
    for p in members:
        current[p] = empty


def _sort_key(value) -> tuple:
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value))
