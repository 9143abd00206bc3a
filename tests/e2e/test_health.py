"""/health/live says the process answers; /health/ready that it should get traffic: the
database answers, the rules are loaded, it is not shutting down. /health stays as it was."""

from __future__ import annotations

from persistence.database import close_database
from tests.conftest import make_settings, running_server


async def test_live_and_ready_answer_ok_and_health_stays_as_it_was(server):
    async with server.client(None) as probe:
        live = await probe.get("/health/live")
        ready = await probe.get("/health/ready")
        old = await probe.get("/health")

    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "rules": "ok", "accepting": "ok"}
    assert old.json() == {"status": "ok", "rulesVersion": ready.json()["rulesVersion"]}


async def test_ready_fails_while_draining_and_live_still_answers(database_url):
    async with running_server(make_settings(database_url)) as server, server.client(None) as probe:
        assert (await probe.get("/health/ready")).status_code == 200
        server.app.state.lifecycle.begin_drain()
        ready = await probe.get("/health/ready")
        live = await probe.get("/health/live")

    assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
    assert ready.json()["checks"]["accepting"] == "failing"
    assert live.status_code == 200


async def test_ready_fails_when_the_database_does_not_answer(database_url):
    async with running_server(make_settings(database_url)) as server, server.client(None) as probe:
        await close_database(server.app.state.services.db)
        ready = await probe.get("/health/ready")
        live = await probe.get("/health/live")

    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "failing"
    assert live.status_code == 200
