"""Storm: many concurrent webhook deliveries against the real listener, applier and database.

20% duplicates, shuffled order, 5% forged signatures, 2% malformed or oversized
bodies, 16 concurrent senders. The event set is built so its ground truth does not
depend on arrival order inside a wave: results that contradict an earlier final
result come in a second wave, after the first one is applied ("first final result
per key wins"). Afterwards every expense is in its true state, every delivery that
got a 2xx is stored once and applied at most once, every forged or malformed one got
its 401/400/413, and nothing got a 5xx.
"""

from __future__ import annotations

import base64
import json
import random
from collections import Counter
from dataclasses import dataclass, field

import pytest
from sqlmodel import Session, select

from codatdesk.sandbox import SandboxConfig
from codatdesk.states import ExpenseStatus as S
from codatdesk.store.models import Expense, StatusChange, WebhookDelivery
from tests.conftest import wait_until
from tests.engine_harness import Harness
from tests.reliability.support import (
    REGISTRY,
    Delivery,
    Stopwatch,
    new_secret,
    report,
    seed_expenses,
    send_all,
    sign,
    sized,
    write_event,
)

pytestmark = pytest.mark.reliability

DELIVERIES = sized(1_000, 10_000)
SENDERS = 16
MAX_BODY = 16 * 1024
FINAL = {"Success": S.COMPLETE, "Failed": S.FAILED, "TimedOut": S.OUTCOME_UNKNOWN}
OPPOSITE = {"Success": "Failed", "Failed": "Success", "TimedOut": "Failed"}


@dataclass
class Message:
    msg_id: str
    body: bytes
    verdicts: tuple[str, ...]  # acceptable final inbox verdicts
    wave: int = 1


@dataclass
class Plan:
    specs: list[dict] = field(default_factory=list)
    truth: list[S] = field(default_factory=list)  # per spec
    changes: list[tuple[int, ...]] = field(default_factory=list)  # acceptable webhook status changes per spec
    messages: list[Message] = field(default_factory=list)
    final_result: dict[int, str] = field(default_factory=dict)  # spec index -> final status after wave 1


def build_plan(rng: random.Random, uniques: int) -> Plan:
    plan = Plan()
    counter = iter(range(10**9))

    def msg(key: str, status: str, verdicts: tuple[str, ...], wave: int = 1, data_type: str = "directCosts") -> None:
        n = next(counter)
        msg_id = f"msg_{n:06d}_{rng.getrandbits(32):08x}"
        plan.messages.append(Message(msg_id, write_event(key, status, f"evt-{n}", data_type=data_type),
                                     verdicts, wave))

    def expense(spec: dict, truth: S, changes: tuple[int, ...]) -> int:
        plan.specs.append(spec)
        plan.truth.append(truth)
        plan.changes.append(changes)
        return len(plan.specs) - 1

    kinds = ["success"] * 6 + ["failed"] * 3 + ["timedout"] * 2 + ["to_then_success"] * 2 + ["resent"] * 2 + [
        "pending_then_final", "pending_only", "silent", "old_failed_key", "old_timedout_key", "prefinal",
        "parked", "unusable", "ignored"]
    wave1 = int(uniques * 0.92)
    while len(plan.messages) < wave1:
        kind = rng.choice(kinds)
        n = len(plan.specs)
        key = f"key-{n:06d}-{rng.getrandbits(24):06x}"
        if kind in ("success", "failed", "timedout"):
            status = {"success": "Success", "failed": "Failed", "timedout": "TimedOut"}[kind]
            i = expense({"key": key}, FINAL[status], (1,))
            plan.final_result[i] = status
            msg(key, status, ("applied",))
        elif kind == "to_then_success":
            i = expense({"key": key}, S.COMPLETE, (1, 2))  # TimedOut first: two changes; Success first: one
            plan.final_result[i] = "Success"
            msg(key, "TimedOut", ("applied", "stale"))
            msg(key, "Success", ("applied",))
        elif kind == "resent":  # the same event under two webhook ids (old and new consumer)
            status = rng.choice(["Success", "Failed"])
            i = expense({"key": key}, FINAL[status], (1,))
            plan.final_result[i] = status
            msg(key, status, ("applied", "stale"))
            msg(key, status, ("applied", "stale"))
        elif kind == "pending_then_final":
            status = rng.choice(["Success", "Failed"])
            i = expense({"key": key}, FINAL[status], (1,))
            plan.final_result[i] = status
            msg(key, "Pending", ("stale",))
            msg(key, status, ("applied",))
        elif kind == "pending_only":
            expense({"key": key}, S.IN_PROGRESS, (0,))
            msg(key, "Pending", ("stale",))
        elif kind == "silent":
            expense({"key": key}, S.IN_PROGRESS, (0,))
        elif kind == "old_failed_key":  # a late Success for the push the user already retried
            i = expense({"key": key, "old_key": key + "-old", "old_status": "Failed"}, S.FAILED, (1,))
            plan.final_result[i] = "Failed"
            msg(key + "-old", "Success", ("stale",))
            msg(key, "Failed", ("applied",))
        elif kind == "old_timedout_key":  # the old push did land after all; this expense's own push decides
            status = rng.choice(["Success", "Failed"])
            i = expense({"key": key, "old_key": key + "-old", "old_status": "TimedOut"}, FINAL[status], (1,))
            plan.final_result[i] = status
            msg(key + "-old", "Success", ("stale",))
            msg(key, status, ("applied",))
        elif kind == "prefinal":  # final before the storm: a contradicting result changes nothing
            expense({"key": key, "op_status": "Success"}, S.COMPLETE, (0,))
            msg(key, "Failed", ("stale",))
        elif kind == "parked":  # a key nobody stored (another install's push): kept, never applied
            msg(f"unknown-{key}", rng.choice(["Success", "Failed"]), ("parked",))
        elif kind == "unusable":  # validly signed, not an event we can read: 2xx so Codat stops retrying
            n2 = next(counter)
            plan.messages.append(Message(f"msg_{n2:06d}_garbage", rng.choice(
                [b'{"eventType": "directCosts.write.successful", ', b"[1, 2, 3]", b'"just a string"',
                 b'{"eventType": "directCosts.write.successful", "payload": {}}']), ("unusable",)))
        elif kind == "ignored":
            n2 = next(counter)
            plan.messages.append(Message(f"msg_{n2:06d}_ignored", json.dumps(
                {"id": f"evt-{n2}", "eventType": "company.created", "generatedDate": "2026-11-28T10:00:00Z",
                 "payload": {"id": "c"}}).encode(), ("ignored",)))
    # Wave 2: results that contradict the first final result of their key.
    finals = sorted(plan.final_result)
    for i in rng.sample(finals, min(len(finals), uniques - len(plan.messages))):
        msg(plan.specs[i]["key"], OPPOSITE[plan.final_result[i]], ("stale",), wave=2)
    return plan


def forged(rng: random.Random, secret: str, genuine: list[Message], n: int) -> Delivery:
    """A delivery nobody holding the secret could have sent (401)."""
    victim = rng.choice(genuine)
    kind = rng.choice(["wrong_secret", "tampered", "swapped_id", "no_signature", "stale", "future",
                       "garbage_signature", "v1a_only", "no_headers"])
    body = victim.body.replace(b"Failed", b"Success") if b"Failed" in victim.body else victim.body + b" "
    msg_id = victim.msg_id  # forgers reuse real ids: they must not count as a duplicate either
    attacker = new_secret(b"attacker-%d" % n)

    def headers() -> dict[str, str]:
        import time as _t

        now = int(_t.time())
        if kind == "wrong_secret":
            return sign(attacker, msg_id, body)
        if kind == "tampered":
            return {**sign(secret, msg_id, victim.body), "content-type": "application/json"}
        if kind == "swapped_id":
            return {**sign(secret, "msg_other", body), "webhook-id": msg_id}
        if kind == "no_signature":
            h = sign(secret, msg_id, body)
            del h["webhook-signature"]
            return h
        if kind == "stale":
            return sign(secret, msg_id, body, timestamp=now - 600)
        if kind == "future":
            return sign(secret, msg_id, body, timestamp=now + 600)
        if kind == "garbage_signature":
            return {**sign(secret, msg_id, body), "webhook-signature": "v1,!!!not-base64!!! v1"}
        if kind == "v1a_only":
            return {**sign(secret, msg_id, body), "webhook-signature": "v1a," + base64.b64encode(b"x" * 64).decode()}
        return {"content-type": "application/json"}

    sent_body = victim.body if kind in ("stale", "future") else body
    return Delivery(f"forged:{kind}", msg_id, sent_body, 401, headers)


def malformed(rng: random.Random, secret: str, n: int) -> Delivery:
    """Broken or oversized requests the listener must refuse before storing anything (400/413)."""
    kind = rng.choice(["oversized", "oversized_chunked", "not_utf8", "bad_timestamp", "long_id"])
    msg_id = f"msg_malformed_{n}"
    big = json.dumps({"eventType": "directCosts.write.successful", "pad": "x" * (MAX_BODY + 100)}).encode()
    if kind == "oversized":
        return Delivery("malformed:oversized", msg_id, big, 413, lambda: sign(secret, msg_id, big))
    if kind == "oversized_chunked":
        return Delivery("malformed:oversized_chunked", msg_id, lambda: iter([big[:8000], big[8000:]]), 413,
                        lambda: sign(secret, msg_id, big))
    if kind == "not_utf8":
        body = b'{"eventType": "\xff\xfe directCosts"}'
        return Delivery("malformed:not_utf8", msg_id, body, 400, lambda: {
            **sign(secret, msg_id, b"{}"), "webhook-signature": "v1," + base64.b64encode(b"s" * 32).decode()})
    if kind == "bad_timestamp":
        return Delivery("malformed:bad_timestamp", msg_id, b"{}", 400,
                        lambda: {**sign(secret, msg_id, b"{}"), "webhook-timestamp": "17e8"})
    long_id = "msg_" + "x" * 300
    return Delivery("malformed:long_id", long_id, b"{}", 400, lambda: sign(secret, long_id, b"{}"))


def genuine(secret: str, message: Message, name: str = "genuine") -> Delivery:
    return Delivery(name, message.msg_id, message.body, 200, lambda: sign(secret, message.msg_id, message.body))


@pytest.fixture
def rig(data_dir):
    h = Harness(data_dir, SandboxConfig(push_delay=0.05, seed=8))
    h.settings_overrides = {"listener.max_body_bytes": MAX_BODY}
    h.start_sandbox()
    yield h
    h.stop()


def wait_applied(core, timeout: float) -> None:
    def quiet() -> bool:
        with Session(core.db) as session:
            pending = session.exec(select(WebhookDelivery.id).where(WebhookDelivery.verdict == "pending")).first()
        return pending is None and core.wait_idle(0.5)

    wait_until(quiet, timeout, interval=0.05, message="every stored delivery applied")


def test_storm(rig):
    watch = Stopwatch()
    rng = random.Random(20261128)
    core = rig.start_core()
    assert core.reconciler.wait_for_run(0, 30)  # the start-up run is over: it must not see the seeded rows
    secret = rig.secrets[0]
    REGISTRY.secret(secret)
    REGISTRY.secret(rig.sandbox.api_key)

    n_forged, n_malformed = round(DELIVERIES * 0.05), round(DELIVERIES * 0.02)
    n_duplicates = round(DELIVERIES * 0.20)
    plan = build_plan(rng, DELIVERIES - n_forged - n_malformed - n_duplicates)
    ids = seed_expenses(core.db, rig.sandbox.company_id, plan.specs)

    waves: dict[int, list[Delivery]] = {1: [], 2: []}
    for message in plan.messages:
        waves[message.wave].append(genuine(secret, message))
    wave1_messages = [m for m in plan.messages if m.wave == 1]
    for _ in range(n_duplicates):  # redeliveries: same id and body, fresh timestamp and signature
        wave = 1 if rng.random() < 0.85 else 2
        pool = wave1_messages if wave == 1 else plan.messages
        waves[wave].append(genuine(secret, rng.choice(pool), "duplicate"))
    for n in range(n_forged):
        waves[1 if rng.random() < 0.85 else 2].append(forged(rng, secret, plan.messages, n))
    for n in range(n_malformed):
        waves[1 if rng.random() < 0.85 else 2].append(malformed(rng, secret, n))
    for deliveries in waves.values():
        rng.shuffle(deliveries)
    everything = waves[1] + waves[2]
    assert len(everything) == DELIVERIES

    send_all(core.listener_url, waves[1], senders=SENDERS)
    wait_applied(core, 120)
    send_all(core.listener_url, waves[2], senders=SENDERS)
    wait_applied(core, 120)

    # 1. Every answer is the right one, and none is a 5xx.
    errors = [d for d in everything if d.error]
    assert not errors, f"{len(errors)} transport errors, e.g. {errors[0].name}: {errors[0].error}"
    wrong = Counter((d.name, d.expect, d.status) for d in everything if d.status != d.expect)
    assert not wrong, f"unexpected answers (kind, expected, got): {dict(wrong)}"
    assert not [code for code in core.listener.stats if code >= 500]

    # 2. Every delivery that got a 2xx is stored once, with its genuine body; nothing else is stored.
    messages = {m.msg_id: m for m in plan.messages}
    accepted = Counter(d.msg_id for d in everything if d.status == 200)
    with Session(core.db) as session:
        rows = {row.delivery_id: row for row in session.exec(select(WebhookDelivery))}
        history = session.exec(select(StatusChange).where(StatusChange.cause_kind == "webhook")).all()
        expenses = {e.id: e for e in session.exec(select(Expense))}
    assert set(rows) == set(accepted) == set(messages)
    for msg_id, row in rows.items():
        assert row.body == messages[msg_id].body, f"{msg_id}: stored body is not the genuine one"
        assert row.times_received == accepted[msg_id]
        assert row.verdict in messages[msg_id].verdicts, (msg_id, row.verdict, row.verdict_detail)

    # 3. Applied exactly once: each webhook status change names an applied delivery, once.
    seeded = set(ids)
    causes = Counter(change.cause_ref for change in history)
    assert max(causes.values(), default=0) <= 1
    for ref in causes:
        assert rows[ref].verdict == "applied"
    for row in rows.values():
        if row.verdict == "applied" and row.expense_id in seeded:
            assert causes[row.delivery_id] == 1, f"{row.delivery_id} applied without a status change"

    # 4. Every expense is in its true state, reached through the expected number of changes.
    changes_per_expense = Counter(change.expense_id for change in history)
    mismatches = []
    for index, expense_id in enumerate(ids):
        expense = expenses[expense_id]
        if S(expense.status) is not plan.truth[index] or changes_per_expense[expense_id] not in plan.changes[index]:
            mismatches.append((expense_id, plan.specs[index], expense.status, plan.truth[index],
                               changes_per_expense[expense_id]))
    assert not mismatches, f"{len(mismatches)} expenses off their ground truth, e.g. {mismatches[:3]}"
    assert core.listener.running

    kinds = Counter(d.name.split(":")[0] for d in everything)
    report("storm", deliveries=DELIVERIES, senders=SENDERS, kinds=dict(kinds), expenses=len(ids),
           seconds=round(watch.seconds, 1), result="passed")
