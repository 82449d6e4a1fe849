"""The invariants a chaos row checks, over records already read (pure: no I/O).

``Expected`` is what ``persona replay`` says about the row's input; ``Observed`` is what the
pipeline left on the stack after the fault and the drain. ``check`` compares them:

* every decision replay makes is in the audit (``segment_decisions``) exactly once, keyed by
  (event_id, customer_id), and nothing else is;
* the final outcome (segment, recommendation, score) of every customer is replay's final one, in
  Paimon ``marketing_segments`` and in the rt topic's newest version of the customer;
* the rt topic holds every version 1..n of every customer (a version never seen is a lost
  decision); a version seen more than once is a *duplicate*: a restarted flow re-sent a decision
  its last snapshot did not cover. It is counted, not failed: the rt topic is at-least-once, and
  its consumers keep the highest version per customer;
* the dead letters of the input topics are replay's rejects, by topic, reason kind and the hash of
  the bytes (each counted once: a re-sent dead letter is a duplicate, not a new reject); a dead
  letter of an internal topic (``order_facts``, ``segment_decisions``) is a record the pipeline
  could not carry, which replay never has: it fails the row;
* no SKU without sellable stock is ever recommended, in any rt message or audit row: neither by
  the row's fixed stock nor by what the decision itself saw;
* each poison kind in the input (``PoisonCase``) ends as replay says, checked and reported on its
  own: rejected records are dead letters of the named rule on both sides, valid oddities (the same
  event_id for two customers, an order moved between customers) are decided and audited as replay
  decides them.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

SCORE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Outcome:
    """What a decision says about a customer: the part two runs over the same input must agree on."""

    segment: str
    recommendation: tuple[str, ...]
    score: float | None

    def agrees(self, other: Outcome) -> bool:
        if self.segment != other.segment or self.recommendation != other.recommendation:
            return False
        if self.score is None or other.score is None:
            return self.score is None and other.score is None
        return abs(self.score - other.score) <= SCORE_TOLERANCE


@dataclass(frozen=True)
class DeadLetterKey:
    """A dead letter's identity: input topic (unprefixed), the kind of reason, the bytes' hash."""

    topic: str
    reason_kind: str
    digest: str

    @classmethod
    def of(cls, topic: str, reason: str, raw: bytes, raw_sha256: str | None = None) -> DeadLetterKey:
        """``raw_sha256``: the dead letter's hash of the original bytes, which ``raw`` is only a
        prefix of when it was truncated to fit (a record above the size limit)."""
        return cls(topic, reason_kind(reason), (raw_sha256 or sha256_hex(raw))[:16])


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def reason_kind(reason: str) -> str:
    """The stable part of a dead-letter reason (``<record kind>: <rule>: <details>``, the rules of
    ``persona.contracts.rules``; a decoding error has its message where the rule goes): the record
    kind and the rule, without the details, which name values and the reader's clock."""
    return ":".join(part.strip() for part in reason.split(":", 2)[:2])


Expectation = Literal["rejected", "decided", "applied"]


@dataclass(frozen=True)
class PoisonCase:
    """One poison kind in a row's input and what must become of its records, on both sides.

    ``rejected``: every record is a dead letter whose reason kind contains ``rule``, in replay and in
    the pipeline alike. ``decided``: each of ``decisions`` (event_id, customer_id) is decided and
    audited once, and no record is a dead letter. ``applied`` (order changes): no record is a dead
    letter and the final decisions of ``customers`` are replay's.
    """

    kind: str
    digests: tuple[str, ...]  # sha256_hex(...)[:16] of each record's bytes
    expect: Expectation
    rule: str = ""
    decisions: tuple[tuple[str, int], ...] = ()
    customers: tuple[int, ...] = ()


@dataclass(frozen=True)
class CaseVerdict:
    kind: str
    replay: str  # what replay made of the records
    pipeline: str  # what the flows made of them
    ok: bool


@dataclass(frozen=True)
class RtMessage:
    customer_id: int
    version: int
    outcome: Outcome


@dataclass(frozen=True)
class AuditRow:
    event_id: str
    customer_id: int
    recommendation: tuple[str, ...]
    # The sellable quantity the decision saw per candidate SKU (None: unknown).
    seen: Mapping[str, int | None]


@dataclass(frozen=True)
class Expected:
    decisions: frozenset[tuple[str, int]]  # (event_id, customer_id) of every decision replay makes
    final: Mapping[int, Outcome]  # customer -> its last decision's outcome
    rejects: frozenset[DeadLetterKey]
    events: int  # behavior events in the input, valid or not


@dataclass(frozen=True)
class Observed:
    audit: Sequence[AuditRow]
    rt: Sequence[RtMessage]
    segments: Mapping[int, Outcome]  # Paimon marketing_segments
    dead_letters: Sequence[DeadLetterKey]  # of the input topics' DLQs, as read (repeats included)
    internal_dead_letters: int  # dead letters of order_facts / segment_decisions


@dataclass(frozen=True)
class Verdict:
    events: int
    decided: int
    lost: int
    extra: int
    duplicated: int
    dlq: int
    unsellable_promoted: int
    failures: tuple[str, ...] = field(default=())
    cases: tuple[CaseVerdict, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.failures


def sku_of(entry: str) -> str:
    """A recommendation entry (``sku:<id>``) -> the SKU id."""
    return entry.removeprefix("sku:")


def unsellable_entries(
    recommendation: Iterable[str], stock: Mapping[str, int], seen: Mapping[str, int | None] | None = None
) -> list[str]:
    """The entries of a recommendation without sellable stock: by the fixed stock, or by what the
    decision saw (``seen``, when known)."""
    bad = []
    for entry in recommendation:
        sku = sku_of(entry)
        if stock.get(sku, 0) <= 0 or (seen is not None and (seen.get(sku) or 0) <= 0):
            bad.append(entry)
    return bad


def newest_versions(rt: Iterable[RtMessage]) -> dict[int, RtMessage]:
    """Per customer, the message with its highest version (the last read of equal versions)."""
    newest: dict[int, RtMessage] = {}
    for m in rt:
        held = newest.get(m.customer_id)
        if held is None or m.version >= held.version:
            newest[m.customer_id] = m
    return newest


def _sample(items: Iterable[object], limit: int = 3) -> str:
    listed = sorted(items, key=repr)
    more = f" (+{len(listed) - limit} more)" if len(listed) > limit else ""
    return ", ".join(repr(x) for x in listed[:limit]) + more


def _rejections(letters: Iterable[DeadLetterKey], digests: Sequence[str]) -> dict[str, set[str]]:
    """digest -> the reason kinds of its dead letters, for the digests that have any."""
    out: dict[str, set[str]] = {}
    for k in letters:
        if k.digest in digests:
            out.setdefault(k.digest, set()).add(k.reason_kind)
    return out


def _said(rejected: Mapping[str, set[str]]) -> str:
    return "DLQ " + ", ".join(sorted(set().union(*rejected.values()))) if rejected else "no dead letter"


def check_case(
    case: PoisonCase,
    expected: Expected,
    observed: Observed,
    audit_keys: Mapping[tuple[str, int], int],
    finals: Mapping[str, Mapping[int, Outcome]],
) -> CaseVerdict:
    """What replay and the pipeline made of one poison kind's records, and whether that is what
    the case expects of both."""
    want = _rejections(expected.rejects, case.digests)
    got = _rejections(observed.dead_letters, case.digests)
    if case.expect == "rejected":
        every = len(want) == len(case.digests) and all(
            case.rule in kind for kinds in want.values() for kind in kinds
        )
        return CaseVerdict(case.kind, _said(want), _said(got), every and got == want)
    if case.expect == "decided":
        by_replay = [d for d in case.decisions if d in expected.decisions]
        audited = [d for d in case.decisions if audit_keys.get(d) == 1]
        ok = len(by_replay) == len(audited) == len(case.decisions) and not want and not got
        return CaseVerdict(
            case.kind,
            f"decided {len(by_replay)}/{len(case.decisions)}" + (f"; {_said(want)}" if want else ""),
            f"audited once {len(audited)}/{len(case.decisions)}" + (f"; {_said(got)}" if got else ""),
            ok,
        )
    agree = [
        c
        for c in case.customers
        if c in expected.final
        and all(c in final and expected.final[c].agrees(final[c]) for final in finals.values())
    ]
    ok = len(agree) == len(case.customers) and not want and not got
    return CaseVerdict(
        case.kind,
        "applied" + (f"; {_said(want)}" if want else ""),
        f"final decisions as replay's {len(agree)}/{len(case.customers)}"
        + (f"; {_said(got)}" if got else ""),
        ok,
    )


def check(
    expected: Expected, observed: Observed, stock: Mapping[str, int], cases: Sequence[PoisonCase] = ()
) -> Verdict:
    failures: list[str] = []

    audit_keys = Counter((r.event_id, r.customer_id) for r in observed.audit)
    repeated = [k for k, n in audit_keys.items() if n > 1]
    if repeated:
        failures.append(f"audit rows repeated: {_sample(repeated)}")
    missing = expected.decisions - audit_keys.keys()
    extra = audit_keys.keys() - expected.decisions
    if missing:
        failures.append(f"{len(missing)} decisions missing from the audit: {_sample(missing)}")
    if extra:
        failures.append(f"{len(extra)} audit rows replay never decided: {_sample(extra)}")

    seen_versions: dict[int, set[int]] = {}
    for m in observed.rt:
        seen_versions.setdefault(m.customer_id, set()).add(m.version)
    duplicated = len(observed.rt) - sum(len(v) for v in seen_versions.values())
    gaps = {c: sorted(set(range(1, max(v) + 1)) - v) for c, v in seen_versions.items()}
    versions_lost = sum(len(g) for g in gaps.values())
    if versions_lost:
        failures.append(
            f"{versions_lost} rt versions never sent: {_sample((c, g[:3]) for c, g in gaps.items() if g)}"
        )

    newest = newest_versions(observed.rt)
    finals = {"rt": {c: m.outcome for c, m in newest.items()}, "marketing_segments": observed.segments}
    for where, final in finals.items():
        absent = expected.final.keys() - final.keys()
        differ = [c for c, want in expected.final.items() if c in final and not want.agrees(final[c])]
        unknown = final.keys() - expected.final.keys()
        if absent:
            failures.append(
                f"{where}: {len(absent)} customers without their final decision: {_sample(absent)}"
            )
        if differ:
            c = differ[0]
            failures.append(
                f"{where}: {len(differ)} customers' final decision differs from replay, "
                f"e.g. {c}: {final[c]} != {expected.final[c]}"
            )
        if unknown:
            failures.append(f"{where}: {len(unknown)} customers replay never decided: {_sample(unknown)}")

    letters = set(observed.dead_letters)
    if letters != expected.rejects:
        failures.append(
            f"dead letters differ from replay's rejects: {len(expected.rejects - letters)} missing "
            f"({_sample(expected.rejects - letters)}), {len(letters - expected.rejects)} unexpected "
            f"({_sample(letters - expected.rejects)})"
        )
    if observed.internal_dead_letters:
        failures.append(f"{observed.internal_dead_letters} records dead-lettered inside the pipeline")

    unsellable = sum(1 for m in observed.rt if unsellable_entries(m.outcome.recommendation, stock))
    unsellable += sum(1 for r in observed.audit if unsellable_entries(r.recommendation, stock, r.seen))
    if unsellable:
        failures.append(f"{unsellable} decisions promoted a SKU without sellable stock")

    verdicts = tuple(check_case(c, expected, observed, audit_keys, finals) for c in cases)
    failures += [f"poison {v.kind}: replay: {v.replay}; pipeline: {v.pipeline}" for v in verdicts if not v.ok]

    return Verdict(
        events=expected.events,
        decided=len(expected.decisions & audit_keys.keys()),
        lost=len(missing) + versions_lost,
        extra=len(extra),
        duplicated=duplicated,
        dlq=len(letters),
        unsellable_promoted=unsellable,
        failures=tuple(failures),
        cases=verdicts,
    )
