"""A server worker tunes the collector once started; nothing else does (it is process-wide)."""

from __future__ import annotations

import gc

from app.gc_tuning import YOUNG_THRESHOLD, tune_for_serving


def test_a_serving_process_freezes_start_up_and_collects_the_young_less_often():
    threshold = gc.get_threshold()
    try:
        tune_for_serving()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, threshold[1], threshold[2])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


async def test_only_an_app_built_for_its_server_process_tunes_it(monkeypatch, database_url):
    import api.app
    from tests.conftest import make_settings

    tuned: list[bool] = []
    monkeypatch.setattr(api.app, "tune_for_serving", lambda: tuned.append(True))
    settings = make_settings(database_url)
    for serving in (False, True):
        app = api.app.create_app(settings, watch_rules=False, serving_process=serving)
        async with app.router.lifespan_context(app):
            assert tuned == ([True] if serving else [])
