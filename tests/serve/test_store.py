"""The response store: SQLite (a real file) and Redis (a real server the test starts), through one API.

The main suite runs every test on SQLite; ``tests_heavy/serve/test_redis.py`` runs the same tests on Redis
(it needs Debian's ``redis-server``, which ``.ci/run`` installs)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kimi_toolparse.serve.store import (
    RedisStore,
    ResponseStore,
    SQLiteStore,
    default_sqlite_path,
    new_response_id,
    open_store,
)
from testsupport.redis_server import REDIS_SERVER, redis_server


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    pytest.importorskip("redis", reason="the Redis store needs the redis extra")
    with redis_server() as url:
        yield url


_PREFIXES = iter(range(10**6))


@contextlib.contextmanager
def make_store(kind: str, request: pytest.FixtureRequest, **kw: Any) -> Iterator[ResponseStore]:
    """A fresh store of the kind: a new SQLite file, or a new key prefix on the module's Redis server."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield SQLiteStore(Path(tmp) / "r.sqlite3", **kw)
    else:
        url = request.getfixturevalue("redis_url")
        yield RedisStore(url, prefix=f"test{next(_PREFIXES)}:", **kw)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def record(n: int, size: int = 10) -> dict[str, Any]:
    return {"response": {"id": f"r{n}", "output": []}, "conversation": ["x" * size]}


#: The kinds the main suite runs (Redis: tests_heavy/serve/test_redis.py, with a redis-server).
KINDS = ["sqlite"]


@pytest.mark.parametrize("kind", KINDS)
def test_put_get_delete(kind: str, request: pytest.FixtureRequest) -> None:
    with make_store(kind, request) as store:

        async def go() -> None:
            rid = new_response_id()
            assert await store.get(rid) is None
            await store.put(rid, record(1))
            assert await store.get(rid) == record(1)
            assert await store.delete(rid) is True
            assert await store.get(rid) is None
            assert await store.delete(rid) is False
            await store.close()

        run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_expiry(kind: str, request: pytest.FixtureRequest) -> None:
    with make_store(kind, request, ttl=0.3) as store:

        async def go() -> None:
            await store.put("a", record(1))
            assert await store.get("a") is not None
            await asyncio.sleep(0.45)
            assert await store.get("a") is None
            assert await store.delete("a") is False
            await store.close()

        run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_size_cap_drops_oldest_first(kind: str, request: pytest.FixtureRequest) -> None:
    one = len(b'{"response":{"id":"r0","output":[]},"conversation":["' + b"x" * 100 + b'"]}')
    with make_store(kind, request, max_bytes=3 * one) as store:

        async def go() -> None:
            for n in range(5):
                await store.put(f"id{n}", record(n, 100))
            kept = [n for n in range(5) if await store.get(f"id{n}") is not None]
            assert kept == [2, 3, 4]
            await store.close()

        run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_shared_between_two_openers(kind: str, request: pytest.FixtureRequest) -> None:
    """Two stores on the same file or server (two workers, two gateways) read each other's records."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            a, b = SQLiteStore(Path(tmp) / "s.db"), SQLiteStore(Path(tmp) / "s.db")
            _check_shared(a, b)
    else:
        url = request.getfixturevalue("redis_url")
        _check_shared(RedisStore(url, prefix="shared:"), RedisStore(url, prefix="shared:"))


def _check_shared(a: ResponseStore, b: ResponseStore) -> None:
    async def go() -> None:
        await a.put("one", record(1))
        assert await b.get("one") == record(1)
        assert await b.delete("one")
        assert await a.get("one") is None
        await a.close()
        await b.close()

    run(go())


@pytest.mark.parametrize("kind", KINDS)
def test_many_concurrent_puts(kind: str, request: pytest.FixtureRequest) -> None:
    """200 puts at once (grouped into few transactions in SQLite) are each stored and readable."""
    with make_store(kind, request) as store:

        async def go() -> None:
            ids = [new_response_id() for _ in range(200)]
            await asyncio.gather(*(store.put(rid, record(i)) for i, rid in enumerate(ids)))
            got = await asyncio.gather(*(store.get(rid) for rid in ids))
            assert got == [record(i) for i in range(200)]
            await store.close()

        run(go())


def test_sqlite_files_are_owner_only() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deep" / "r.sqlite3"
        old = os.umask(0o022)
        try:
            store = SQLiteStore(path)
            run(store.put("a", record(1)))
        finally:
            os.umask(old)
        for p in path.parent.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        run(store.close())


def test_sqlite_counts_a_replaced_record_once() -> None:
    import sqlite3

    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "r.db")
        run(store.put("same", record(1, 100)))
        run(store.put("same", record(2, 10)))
        assert run(store.get("same")) == record(2, 10)
        run(store.close())
        with contextlib.closing(sqlite3.connect(Path(tmp) / "r.db")) as conn:
            (total,) = conn.execute("SELECT bytes FROM total").fetchone()
        assert total == _size(2, 10)


def test_sqlite_survives_reopening() -> None:
    """A restarted gateway opens the same file and still finds the response."""
    with tempfile.TemporaryDirectory() as tmp:
        first = SQLiteStore(Path(tmp) / "r.db")
        run(first.put("kept", record(7)))
        run(first.close())
        second = SQLiteStore(Path(tmp) / "r.db")
        assert run(second.get("kept")) == record(7)
        run(second.close())


def test_response_ids_are_unguessable() -> None:
    ids = {new_response_id() for _ in range(1000)}
    assert len(ids) == 1000
    for rid in ids:
        assert rid.startswith("resp_")
        assert len(rid) - 5 >= 32 and int(rid[5:], 16) >= 0  # at least 128 bits, in hex


def test_default_place_and_open_store() -> None:
    assert default_sqlite_path({"XDG_STATE_HOME": "/x/state"}) == Path(
        "/x/state/kimi-toolparse/responses.sqlite3"
    )
    assert default_sqlite_path({}).parts[-4:] == (".local", "state", "kimi-toolparse", "responses.sqlite3")
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite://{tmp}/a.db")
        assert isinstance(store, SQLiteStore) and store.path == Path(tmp) / "a.db"
        run(store.close())
    with pytest.raises(ValueError, match="cannot open the response store"):
        open_store("/proc/no/such/place.db")
    with pytest.raises(ValueError, match="positive"):
        SQLiteStore("/tmp/never.db", ttl=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=25), cap=st.integers(50, 1500))
def test_sqlite_cap_keeps_the_newest_suffix(sizes: list[int], cap: int) -> None:
    """Whatever is put, what is kept is the newest records (a suffix of the puts) and fits the cap, or is
    the newest record alone."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "p.db", max_bytes=cap)

        async def go() -> list[bool]:
            for n, size in enumerate(sizes):
                await store.put(f"id{n}", record(n, size))
                time.sleep(0.0005)  # distinct creation times, as real requests have
            kept = [await store.get(f"id{n}") is not None for n in range(len(sizes))]
            await store.close()
            return kept

        kept = run(go())
    assert kept[-1]
    first = kept.index(True)
    assert all(kept[first:])
    total = sum(_size(n, s) for n, s in enumerate(sizes) if kept[n])
    assert total <= cap or sum(kept) == 1
    if first > 0:  # the one dropped last did not fit beside the kept ones
        assert total + _size(first - 1, sizes[first - 1]) > cap


def _size(n: int, size: int) -> int:
    import orjson

    return len(orjson.dumps(record(n, size)))
