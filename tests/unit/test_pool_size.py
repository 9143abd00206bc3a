"""Each worker's pool is an equal share of what PostgreSQL allows, within bounds."""

from __future__ import annotations

from persistence.connections import MAX_POOL, RESERVED_CONNECTIONS, pool_size


def test_workers_together_never_take_more_than_the_server_allows_others_aside():
    for max_connections in (25, 100, 300):
        for workers in (1, 2, 4, 8):
            size = pool_size(max_connections, 3, workers)
            assert size * workers <= max(workers, max_connections - 3 - RESERVED_CONNECTIONS)


def test_a_large_server_gives_each_worker_the_full_pool():
    assert pool_size(1000, 3, 4) == MAX_POOL


def test_postgresqls_default_100_connections_shared_by_8_workers():
    assert pool_size(100, 3, 8) == (100 - 3 - RESERVED_CONNECTIONS) // 8


def test_a_tiny_server_still_gives_each_worker_a_connection():
    assert pool_size(5, 3, 4) == 1
