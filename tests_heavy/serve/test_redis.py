"""The Redis response store against a real ``redis-server`` the tests start (Debian's package).

The store's tests of ``tests/serve/test_store.py`` run here on Redis (the main suite runs them on SQLite),
and two gateway processes share one Redis: a response stored through one is chained through the other.
``.ci/run`` installs ``redis-server`` first; elsewhere these tests skip, saying so.
"""

from __future__ import annotations

import pytest

from kimi_toolparse.serve.standin import StandIn
from tests.serve import test_store as store_tests
from tests.serve.responses.test_sharing import answer, chain_and_compare, client, first_turn, openai
from tests.serve.test_process import serve
from tests.serve.test_store import redis_url
from testsupport.redis_server import REDIS_SERVER, redis_server

__all__ = ["redis_url"]  # the fixture the store tests ask for

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (apt-get install redis-server; .ci/run does)"
)


@pytest.mark.parametrize(
    "test",
    [
        store_tests.test_put_get_delete,
        store_tests.test_expiry,
        store_tests.test_size_cap_drops_oldest_first,
        store_tests.test_shared_between_two_openers,
        store_tests.test_many_concurrent_puts,
    ],
    ids=lambda t: t.__name__,
)
def test_the_store_tests_on_redis(test, request: pytest.FixtureRequest) -> None:  # type: ignore[no-untyped-def]
    test("redis", request)


def test_two_gateways_share_one_redis() -> None:
    pytest.importorskip("redis", reason="the Redis store needs the redis extra")
    with redis_server() as url, StandIn(answer) as upstream:
        common = ("--upstream", upstream.base_url, "--model", "kimi-k2.5", "--store", url)
        with serve(*common) as (_, a), serve(*common) as (_, b):
            first = first_turn(a)
            chain_and_compare(upstream, first, b)
            client(b).responses.delete(first.id)
            with pytest.raises(openai.NotFoundError):
                client(a).responses.retrieve(first.id)
