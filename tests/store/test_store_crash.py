"""A writer killed (SIGKILL) in the middle of a transaction: the database is intact, every write it had
acknowledged is present, and nothing of the unfinished transaction is."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

from b12plan.store import Store

# Each transaction writes two records (a symptom score and a lab result) and their two audit rows, then
# prints `ack N SYMPTOM_ID` once committed. With HOLD_AT set, transaction HOLD_AT prints `inside N` after
# its writes reached the database and waits, uncommitted, to be killed.
WRITER = textwrap.dedent(
    """
    import datetime as dt, os, sys, time
    from b12plan.store import Store

    hold_at = int(os.environ.get("HOLD_AT", "0"))
    stop_after = int(os.environ.get("STOP_AFTER", "0"))
    with Store.open(sys.argv[1], actor="writer", create=False) as store:
        n = 0
        while not stop_after or n < stop_after:
            n += 1
            with store.transaction() as records:
                patient = records.patient("P-1", lock=True)
                day = dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)
                score = records.add_symptom(patient.id, scored_on=day, symptom="fatigue", score=n % 11)
                records.add_lab(patient.id, taken_on=day, test="b12_total", value=100 + n, unit="ng/L")
                records.session.flush()
                if n == hold_at:
                    print(f"inside {n}", flush=True)
                    time.sleep(120)
            print(f"ack {n} {score.id}", flush=True)
    """
)


def _start_writer(db_url: str, hold_at: int = 0, stop_after: int = 0) -> subprocess.Popen[str]:
    env = {**os.environ, "HOLD_AT": str(hold_at), "STOP_AFTER": str(stop_after)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _read_until_killed(writer: subprocess.Popen[str], stop: str) -> list[int]:
    """Read the writer's acknowledgements until a line starts with `stop`, then kill it: ids acknowledged."""
    acked: list[int] = []
    assert writer.stdout is not None
    try:
        for line in writer.stdout:
            if line.startswith("ack"):
                acked.append(int(line.split()[2]))
            if line.startswith(stop):
                os.kill(writer.pid, signal.SIGKILL)
                break
        else:
            raise AssertionError(
                f"the writer ended by itself: {writer.stderr.read() if writer.stderr else ''}"
            )
    finally:
        writer.kill()
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL
    return acked


def _check_intact(store: Store, acked: list[int]) -> int:
    with store.engine.connect() as c:
        if store.is_sqlite:
            assert c.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert c.execute(text("PRAGMA foreign_key_check")).all() == []
        count = {
            table: int(c.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in ("symptom_scores", "lab_results", "audit_log")
        }
        stored = {int(i) for i in c.execute(text("SELECT id FROM symptom_scores")).scalars()}
    assert set(acked) <= stored, "an acknowledged write is missing"
    assert count["symptom_scores"] == count["lab_results"], "half a transaction was stored"
    assert count["audit_log"] == 1 + 2 * count["symptom_scores"], "a change without its audit row"
    return count["symptom_scores"]


@pytest.fixture
def crash_store(store: Store) -> Store:
    with store.transaction() as records:
        records.add_patient("P-1")
    return store


def test_killed_while_holding_an_open_transaction(crash_store: Store, db_url: str) -> None:
    acked = _read_until_killed(_start_writer(db_url, hold_at=25), stop="inside")
    assert len(acked) == 24
    assert _check_intact(crash_store, acked) == 24  # transaction 25 had written, not committed: gone
    with crash_store.transaction() as records:  # and the database takes writes again (no stale lock)
        records.add_symptom(
            records.patient("P-1", lock=True).id, scored_on=dt.date(2026, 6, 1), symptom="fatigue", score=1
        )


def test_killed_at_an_arbitrary_moment_of_a_busy_write_loop(crash_store: Store, db_url: str) -> None:
    writer = _start_writer(db_url, hold_at=0)
    acked = _read_until_killed(writer, stop="ack 60 ")
    stored = _check_intact(crash_store, acked)
    assert stored >= len(acked) == 60


def test_two_processes_writing_at_once_both_finish(crash_store: Store, db_url: str) -> None:
    """Writers queue (SQLite: BEGIN IMMEDIATE and the busy timeout; PostgreSQL: the patient row lock)."""
    writers = [_start_writer(db_url, stop_after=40) for _ in range(2)]
    acked: list[int] = []
    for writer in writers:
        stdout, stderr = writer.communicate(timeout=120)
        assert writer.returncode == 0, stderr
        acked += [int(line.split()[2]) for line in stdout.splitlines() if line.startswith("ack")]
    assert len(acked) == len(set(acked)) == 80
    assert _check_intact(crash_store, acked) == 80
