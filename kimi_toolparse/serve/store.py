"""Stored responses: what ``previous_response_id`` chains to, in SQLite (default) or Redis, bounded.

A record is one JSON object (the response as ``GET /v1/responses/{id}`` returns it, and the conversation a
chained request continues) stored under an unguessable id. Both stores keep it for a time to live and
under a total size cap, dropping the oldest first; both are shared by every process that opens the same
file or server, so ``--workers N`` and several gateways chain each other's responses.

- :class:`SQLiteStore`: one file in WAL mode, created readable by its owner only. The calls run on one
  thread of their own; puts waiting together are written in one transaction (group commit), so 200
  requests ending at once wait for one ``fsync``-free commit, not 200.
- :class:`RedisStore`: ``redis://HOST:PORT/N`` (the ``redis`` extra); each put, eviction and delete is one
  Lua script, so several gateways keep the size accounting right.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson

from ..extras import missing_extra

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TTL",
    "RedisStore",
    "ResponseStore",
    "SQLiteStore",
    "default_sqlite_path",
    "new_response_id",
    "open_store",
]

#: Thirty days, as OpenAI keeps responses.
DEFAULT_TTL = 30 * 24 * 3600.0
#: One GiB of stored records in all.
DEFAULT_MAX_BYTES = 1 << 30

_T = TypeVar("_T")


def new_response_id() -> str:
    """``resp_`` and 192 random bits in hex: unguessable, so an id is the right to read a conversation."""
    return "resp_" + secrets.token_hex(24)


def default_sqlite_path(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/kimi-toolparse/responses.sqlite3`` (``~/.local/state/...`` when unset)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kimi-toolparse" / "responses.sqlite3"


class ResponseStore(Protocol):
    """Where responses are kept. Every method is a coroutine; a missing or expired id reads as None."""

    #: Shown in the start-up log line: the file or the server.
    where: str

    async def put(self, response_id: str, record: dict[str, Any]) -> None: ...

    async def get(self, response_id: str) -> dict[str, Any] | None: ...

    async def delete(self, response_id: str) -> bool: ...

    async def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_created ON responses (created);
CREATE INDEX IF NOT EXISTS responses_expires ON responses (expires);
CREATE TABLE IF NOT EXISTS total (one INTEGER PRIMARY KEY CHECK (one = 1), bytes INTEGER NOT NULL);
INSERT OR IGNORE INTO total VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS responses_in AFTER INSERT ON responses
    BEGIN UPDATE total SET bytes = bytes + NEW.size; END;
CREATE TRIGGER IF NOT EXISTS responses_out AFTER DELETE ON responses
    BEGIN UPDATE total SET bytes = bytes - OLD.size; END;
"""


class SQLiteStore:
    """Responses in one SQLite file (WAL), shared by every process that opens it."""

    def __init__(
        self, path: str | os.PathLike[str], *, ttl: float = DEFAULT_TTL, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if ttl <= 0 or max_bytes <= 0:
            raise ValueError("the store's time to live and size cap must be positive")
        self.path = Path(path)
        self.where = str(self.path)
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kimi-store")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._flushing = False
        self._flusher: asyncio.Future[None] | None = None
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kimi-store-wal")
        self._checkpointing: Any = None
        self._last_checkpoint = 0.0
        # Fail now, with the reason, if the file cannot be made (not at the first request).
        self._executor.submit(self._connect).result()

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # Created here, owner-only, before SQLite opens it (its -wal and -shm files copy the mode).
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # A replaced record fires the delete trigger too, so the byte count stays right.
            conn.execute("PRAGMA recursive_triggers = ON")
            # Checkpoints run beside the writes (see _checkpoint), not inside a put.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _checkpoint(self) -> None:
        """Copy the WAL into the database on a connection of its own: a passive checkpoint never blocks
        the writers, so the puts waiting meanwhile are not delayed by it."""
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as conn:
            conn.execute("PRAGMA busy_timeout = 1000")
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: fn(self._connect()))

    async def put(self, response_id: str, record: dict[str, Any]) -> None:
        body = orjson.dumps(record)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((response_id, body, future))
        if not self._flushing:
            self._flushing = True
            self._flusher = asyncio.ensure_future(self._flush())
        await future

    async def _flush(self) -> None:
        """Write every waiting put in one transaction, until none is waiting."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                rows = [(rid, body) for rid, body, _ in batch]
                try:
                    await self._run(lambda conn, rows=rows: self._write(conn, rows))  # type: ignore[misc]
                except Exception as e:  # handed to every waiting request
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                    continue
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)
        finally:
            self._flushing = False
        now = time.monotonic()
        if now - self._last_checkpoint > 1.0 and (self._checkpointing is None or self._checkpointing.done()):
            self._last_checkpoint = now
            self._checkpointing = self._checkpointer.submit(self._checkpoint)

    def _write(self, conn: sqlite3.Connection, rows: list[tuple[str, bytes]]) -> None:
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?)",
                [(rid, now, now + self.ttl, len(body), body) for rid, body in rows],
            )
            conn.execute("DELETE FROM responses WHERE expires <= ?", (now,))
            (total,) = conn.execute("SELECT bytes FROM total").fetchone()
            excess = total - self.max_bytes
            if excess > 0:
                # Oldest first until the rest fits; the record just written always stays.
                newest = rows[-1][0]
                drop = []
                for rid, size in conn.execute("SELECT id, size FROM responses ORDER BY created, rowid"):
                    if excess <= 0 or rid == newest:
                        break
                    drop.append((rid,))
                    excess -= size
                conn.executemany("DELETE FROM responses WHERE id = ?", drop)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    async def get(self, response_id: str) -> dict[str, Any] | None:
        def read(conn: sqlite3.Connection) -> bytes | None:
            row = conn.execute(
                "SELECT body FROM responses WHERE id = ? AND expires > ?", (response_id, time.time())
            ).fetchone()
            return None if row is None else bytes(row[0])

        body = await self._run(read)
        return None if body is None else _load(body)

    async def delete(self, response_id: str) -> bool:
        def remove(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM responses WHERE id = ? AND expires > ?", (response_id, time.time())
            )
            return cur.rowcount > 0

        return await self._run(remove)

    async def close(self) -> None:
        def shut(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self._run(shut)
        self._executor.shutdown(wait=True)
        self._checkpointer.shutdown(wait=True)


def _load(body: bytes) -> dict[str, Any] | None:
    with contextlib.suppress(orjson.JSONDecodeError):
        data = orjson.loads(body)
        if isinstance(data, dict):
            return data
    return None


# KEYS: 1 index (zset id -> created), 2 sizes (hash id -> bytes), 3 total (bytes), ARGV[1] the record-key
# prefix, ARGV[2] the cutoff (created before it has expired), ARGV[3] the size cap; then, for a put, ARGV[4]
# the id, ARGV[5] now, ARGV[6] the body, ARGV[7] the ttl in ms.
_DROP = """
local function drop(id)
  local size = tonumber(redis.call('HGET', KEYS[2], id) or '0')
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', ARGV[1] .. id)
  redis.call('DECRBY', KEYS[3], size)
end
"""

_PUT = (
    _DROP
    + """
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then drop(ARGV[4]) end
redis.call('SET', ARGV[1] .. ARGV[4], ARGV[6], 'PX', ARGV[7])
redis.call('ZADD', KEYS[1], ARGV[5], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[4], string.len(ARGV[6]))
redis.call('INCRBY', KEYS[3], string.len(ARGV[6]))
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])) do drop(id) end
while tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[3]) do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if (not oldest) or oldest == ARGV[4] then break end
  drop(oldest)
end
return 1
"""
)

_DELETE = (
    _DROP
    + """
if redis.call('EXISTS', ARGV[1] .. ARGV[4]) == 0 then
  if redis.call('ZSCORE', KEYS[1], ARGV[4]) then drop(ARGV[4]) end
  return 0
end
drop(ARGV[4])
return 1
"""
)


class RedisStore:
    """Responses in a Redis server (``redis://HOST:PORT/N``), shared by every gateway that uses it."""

    def __init__(
        self,
        url: str,
        *,
        ttl: float = DEFAULT_TTL,
        max_bytes: int = DEFAULT_MAX_BYTES,
        prefix: str = "kimi-toolparse:responses:",
    ) -> None:
        if ttl <= 0 or max_bytes <= 0:
            raise ValueError("the store's time to live and size cap must be positive")
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ValueError(str(missing_extra("--store redis://...", "redis"))) from None
        self.where = url.split("@")[-1]  # never log a password
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._prefix = prefix
        self._keys = [prefix + "~index", prefix + "~sizes", prefix + "~total"]
        # A bounded pool that makes requests wait for a connection (not fail) when all are busy.
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=64, timeout=30)
        self._redis: Any = aioredis.Redis(connection_pool=pool)
        self._put = self._redis.register_script(_PUT)
        self._delete = self._redis.register_script(_DELETE)

    def _args(self, *more: Any) -> list[Any]:
        return [self._prefix + "r:", time.time() - self.ttl, self.max_bytes, *more]

    async def put(self, response_id: str, record: dict[str, Any]) -> None:
        body = orjson.dumps(record)
        await self._put(
            keys=self._keys, args=self._args(response_id, time.time(), body, max(1, int(self.ttl * 1000)))
        )

    async def get(self, response_id: str) -> dict[str, Any] | None:
        body = await self._redis.get(self._prefix + "r:" + response_id)
        return None if body is None else _load(body)

    async def delete(self, response_id: str) -> bool:
        return bool(await self._delete(keys=self._keys, args=self._args(response_id)))

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def open_store(
    spec: str | None, *, ttl: float = DEFAULT_TTL, max_bytes: int = DEFAULT_MAX_BYTES
) -> ResponseStore:
    """The store ``--store`` names: ``redis://…`` / ``rediss://…``, a SQLite path (``sqlite:///PATH`` or a
    bare path), or None for the default SQLite file (:func:`default_sqlite_path`)."""
    if spec is not None and spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(spec, ttl=ttl, max_bytes=max_bytes)
    if spec is None:
        path: Path = default_sqlite_path()
    else:
        path = Path(spec.removeprefix("sqlite://")).expanduser()
    try:
        return SQLiteStore(path, ttl=ttl, max_bytes=max_bytes)
    except (OSError, sqlite3.Error) as e:
        raise ValueError(f"cannot open the response store {str(path)!r}: {e}") from None
