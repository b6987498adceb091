"""Anchors: the keyed part of the audit trail, and the check of the whole trail.

The row chains in the database (trigger ``audit_log_chain``, migrations 0001 and 0016) are
plain SHA-256: each row hashes its predecessor in its chain (``audit_log.keten``; a writer
takes a chain of its own, so concurrent requests do not queue behind one lock). They order
the rows of a chain in commit order, cost nothing extra per request and show a careless
edit, but whoever can write the table (a superuser) can recompute them after an edit. An
*anchor* closes that gap: HMAC-SHA256 over a chain head's id and hash, with a secret that
is not in the database. Every chain's head is anchored; anchors are kept in
``audit_anker`` and printed one line each for safekeeping elsewhere. Every row up to an
anchored one in its chain feeds that row's hash, so changing, removing, inserting or
moving any of them (to another place or another chain) changes an anchored hash, and a
matching new anchor cannot be made without the secret; removing a chain's tail including
an anchored row leaves an anchor without its row. What this does not cover: rows after
the newest anchor of their chain (anchor often), and anchors removed from the table when
no copy of them is checked (keep the printed lines outside the database and pass them to
``verify``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, text

from core.pgcluster import Cluster
from core.settings import AUDIT_KEY_MIN_BYTES as MIN_KEY_BYTES
from core.settings import Settings

PREFIX = "okaart-anker"


class AuditKeyError(RuntimeError):
    """The secret is missing or unusable; phrased as one line for the operator."""


@dataclass(frozen=True)
class Anchor:
    """One chain head, keyed."""

    audit_id: int
    hash: bytes
    mac: bytes
    tijdstip: str = ""

    def line(self) -> str:
        """The form printed and kept outside the database."""
        stamp = f" tijdstip={self.tijdstip}" if self.tijdstip else ""
        return f"{PREFIX} id={self.audit_id} hash={self.hash.hex()} mac={self.mac.hex()}{stamp}"

    @classmethod
    def parse(cls, line: str) -> Anchor:
        """Read a line made by :meth:`line`; ValueError when it is not one."""
        head, *fields = line.split()
        values = dict(field.partition("=")[::2] for field in fields)
        if head != PREFIX or not {"id", "hash", "mac"} <= values.keys():
            raise ValueError("geen anker")
        return cls(
            int(values["id"]),
            bytes.fromhex(values["hash"]),
            bytes.fromhex(values["mac"]),
            values.get("tijdstip", ""),
        )

    @property
    def identity(self) -> tuple[int, bytes, bytes]:
        """What makes two records the same anchor (the time is only informative)."""
        return self.audit_id, self.hash, self.mac


def load_key(settings: Settings, cluster: Cluster | None) -> bytes:
    """The secret: OKAART_AUDIT_KEY, else OKAART_AUDIT_KEY_FILE, else the embedded
    cluster's key file (``cluster`` is None when DATABASE_URL names another server)."""
    if settings.audit_key is not None:
        key, source = settings.audit_key.get_secret_value().encode(), "OKAART_AUDIT_KEY"
    else:
        path = settings.audit_key_file or (cluster.audit_key_file if cluster else None)
        if path is None:
            raise AuditKeyError(
                "no audit key: set OKAART_AUDIT_KEY or OKAART_AUDIT_KEY_FILE (DATABASE_URL is not the "
                "embedded cluster, which keeps its own)"
            )
        try:
            key, source = path.read_bytes().strip(), str(path)
        except OSError as exc:
            hint = " (`okaart db start` creates it)" if settings.audit_key_file is None else ""
            raise AuditKeyError(f"the audit key cannot be read from {path}: {exc.strerror}{hint}") from exc
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(f"the audit key from {source} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def mac_of(key: bytes, audit_id: int, row_hash: bytes) -> bytes:
    """HMAC-SHA256(key, id as 8 bytes big-endian || row hash)."""
    return hmac.new(key, audit_id.to_bytes(8, "big") + row_hash, hashlib.sha256).digest()


_STAMP = "to_char(tijdstip AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


#: The head of every chain (a loose index scan over ``audit_log_keten_idx``: one probe per
#: chain, not a scan of the trail) with its newest anchor, if it has one: one query for all
#: chains.
_HEADS = f"""
    WITH RECURSIVE k AS (
        (SELECT keten FROM audit_log ORDER BY keten LIMIT 1)
        UNION ALL
        SELECT (SELECT a.keten FROM audit_log a WHERE a.keten > k.keten ORDER BY a.keten LIMIT 1)
        FROM k WHERE k.keten IS NOT NULL
    )
    SELECT k.keten, h.id, h.hash, x.mac, x.stamp FROM k
    CROSS JOIN LATERAL
        (SELECT a.id, a.hash FROM audit_log a WHERE a.keten = k.keten ORDER BY a.id DESC LIMIT 1) h
    LEFT JOIN LATERAL
        (SELECT mac, {_STAMP} AS stamp FROM audit_anker
         WHERE audit_id = h.id AND hash = h.hash ORDER BY id DESC LIMIT 1) x ON true
    ORDER BY k.keten
"""
#: The new anchors, all in one statement.
_INSERT = f"""
    INSERT INTO audit_anker (audit_id, hash, mac)
    SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:hashes AS bytea[]), CAST(:macs AS bytea[]))
    RETURNING audit_id, {_STAMP} AS stamp
"""


def anchor(conn: Connection, key: bytes) -> list[tuple[Anchor, bool]]:
    """Anchor every chain head: (the anchor, whether it is new), one per chain, in two
    statements whatever the number of chains. A head already anchored keeps its anchor (a
    timer on an idle trail adds nothing); an empty trail has none. The MACs are made here:
    the key never goes to the database."""
    heads = conn.execute(text(_HEADS)).all()
    new = {h.id: mac_of(key, h.id, bytes(h.hash)) for h in heads if h.mac is None}
    stamps: dict[int, str] = {}
    if new:
        params = {
            "ids": list(new),
            "hashes": [bytes(h.hash) for h in heads if h.id in new],
            "macs": list(new.values()),
        }
        stamps = {int(r.audit_id): r.stamp for r in conn.execute(text(_INSERT), params)}
    made: list[tuple[Anchor, bool]] = []
    for h in heads:
        if h.id in new:
            made.append((Anchor(h.id, bytes(h.hash), new[h.id], stamps[h.id]), True))
        else:
            made.append((Anchor(h.id, bytes(h.hash), bytes(h.mac), h.stamp), False))
    return made


def read_anchor_file(path: Path) -> tuple[list[Anchor], list[tuple[int | None, str]]]:
    """The anchors kept in a file, and a finding per line that is not one (blank lines and
    ``#`` comments aside)."""
    anchors: list[Anchor] = []
    problems: list[tuple[int | None, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            anchors.append(Anchor.parse(line))
        except ValueError:
            problems.append((None, f"{path.name} regel {number}: geen geldig anker"))
    return anchors, problems


@dataclass
class Verdict:
    """What :func:`verify` found: rows, anchors checked, rows after the newest anchor of their
    chain (held by the unkeyed chain only), and the problems (row id, text)."""

    rows: int
    anchors: int
    unanchored: int
    problems: list[tuple[int | None, str]]
    #: Chains the rows are spread over (migration 0016).
    chains: int = 1


def verify(conn: Connection, key: bytes, kept: Sequence[Anchor] = ()) -> Verdict:
    """Recompute every row chain and check every anchor, from the table and ``kept``.

    An anchor holds when its MAC verifies with the key and its row still exists with the
    anchored hash. Gaps in the ids (a sequence moves on 32 after a crash, and the chains
    interleave) are no finding: a chain links its rows by their hashes, not by consecutive
    ids.
    """
    rows = conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    problems: list[tuple[int | None, str]] = [
        (r.id, r.probleem) for r in conn.execute(text("SELECT id, probleem FROM audit_log_verify()"))
    ]
    stored = [
        Anchor(r.audit_id, bytes(r.hash), bytes(r.mac), r.stamp)
        for r in conn.execute(
            text(f"SELECT audit_id, hash, mac, {_STAMP} AS stamp FROM audit_anker ORDER BY id")
        )
    ]
    in_table = {a.identity for a in stored}
    checked = {a.identity: a for a in [*stored, *kept]}.values()
    for extra in kept:
        if extra.identity not in in_table:
            problems.append(
                (extra.audit_id, "bewaard anker ontbreekt in audit_anker (verwijderd of vervangen)")
            )
    hashes = {
        int(r.id): bytes(r.hash)
        for r in conn.execute(
            text("SELECT id, hash FROM audit_log WHERE id = ANY(:ids)"),
            {"ids": sorted({a.audit_id for a in checked})},
        )
    }
    held: set[int] = set()
    for a in checked:
        if not hmac.compare_digest(mac_of(key, a.audit_id, a.hash), a.mac):
            problems.append((a.audit_id, "anker klopt niet met de sleutel: vervalst, of een andere sleutel"))
        elif a.audit_id not in hashes:
            problems.append((a.audit_id, "verankerde rij ontbreekt: verwijderd"))
        elif hashes[a.audit_id] != a.hash:
            problems.append(
                (a.audit_id, "verankerde rij of een voorganger gewijzigd (hash wijkt af van het anker)")
            )
        else:
            held.add(a.audit_id)
    problems.sort(key=lambda p: (p[0] is None, p[0] or 0))
    # Per chain, the rows after its newest anchor that holds.
    tail = conn.execute(
        text(
            "WITH newest AS (SELECT keten, max(id) AS id FROM audit_log WHERE id = ANY(:ids) GROUP BY keten)"
            " SELECT count(*) FILTER (WHERE a.id > coalesce(n.id, 0)) AS unanchored,"
            " count(DISTINCT a.keten) AS chains"
            " FROM audit_log a LEFT JOIN newest n ON n.keten = a.keten"
        ),
        {"ids": sorted(held)},
    ).one()
    return Verdict(
        rows=rows, anchors=len(checked), unanchored=tail.unanchored, problems=problems, chains=tail.chains
    )
