import asyncio
import io
import shutil
import textwrap

import pytest

from rules import DEMO_RULES_DIR, RuleFileErrors, RulesRegistry, load_program, load_program_from_sources, run_scenarios

GOOD = "rules:\n  - {id: base, then: {points: {per_unit: 1}}}\n"
BETTER = "rules:\n  - {id: base, then: {points: {per_unit: 2}}}\n"
BAD = "rules:\n  - {id: base, then: {points: {per_unit: lots}}}\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "earning.yaml").write_text(GOOD)
    return tmp_path


def test_the_registry_activates_a_valid_edit_and_calls_the_hook(folder):
    activated = []
    registry = RulesRegistry(folder, on_activate=activated.append)
    first = registry.program.version
    (folder / "earning.yaml").write_text(BETTER)
    version, errors = registry.reload()
    assert errors == [] and version != first and registry.program.version == version
    assert [p.version for p in activated] == [first, version]


def test_the_registry_keeps_the_old_version_on_a_bad_edit(folder):
    registry = RulesRegistry(folder)
    before = registry.program
    (folder / "earning.yaml").write_text(BAD)
    version, errors = registry.reload()
    assert version == before.version and registry.program is before
    assert [str(e) for e in errors] == [
        "earning.yaml:2:42: rule 'base', then.points.per_unit: expected a number, got 'lots'"
    ]
    assert errors[0].rule_id == "base"


def test_an_unchanged_folder_keeps_the_same_program(folder):
    registry = RulesRegistry(folder)
    before = registry.program
    assert registry.reload() == (before.version, []) and registry.program is before


def test_a_registry_on_an_invalid_folder_refuses_to_start(folder):
    (folder / "earning.yaml").write_text(BAD)
    with pytest.raises(RuleFileErrors):
        RulesRegistry(folder)


def test_a_past_version_reloads_from_its_stored_sources_with_the_same_hash():
    program = load_program(DEMO_RULES_DIR)
    again = load_program_from_sources(dict(program.sources))
    assert again.version == program.version and len(again.rules) == len(program.rules)
    assert not any(path.startswith("scenarios/") for path in program.sources)


async def test_watch_reloads_after_an_edit_and_awaits_an_async_hook(folder):
    seen = asyncio.Queue()

    async def hook(program):
        await seen.put(program.version)

    registry = RulesRegistry(folder, on_activate=hook, quiet_ms=50)
    first = await asyncio.wait_for(seen.get(), 1)
    stop = asyncio.Event()
    task = asyncio.create_task(registry.watch(stop_event=stop))
    await asyncio.sleep(0.3)
    (folder / "earning.yaml").write_text(BETTER)
    second = await asyncio.wait_for(seen.get(), 10)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert second != first and registry.program.version == second


def test_the_demo_scenarios_pass():
    out = io.StringIO()
    assert run_scenarios(DEMO_RULES_DIR, out) == 0, out.getvalue()


def test_a_failing_scenario_reports_a_clear_diff(tmp_path):
    shutil.copytree(DEMO_RULES_DIR, tmp_path / "rules", ignore=shutil.ignore_patterns("scenarios"))
    (tmp_path / "rules" / "scenarios").mkdir()
    (tmp_path / "rules" / "scenarios" / "s.yaml").write_text(
        textwrap.dedent("""
        scenarios:
          - name: Gold earns double
            now: 2025-03-04T10:00:00Z
            customer: {id: c, tier: Gold, order_count: 3, last_order_at: 2025-03-01}
            order: {lines: [{sku: A, unit_price: 100}]}
            expect:
              points: {base-earn: 100, tier-multiplier: 100}
    """)
    )
    out = io.StringIO()
    assert run_scenarios(tmp_path / "rules", out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0] == "FAIL scenarios/s.yaml:3 Gold earns double"
    assert (
        lines[1]
        == "    points.tier-multiplier: expected 100, got 50 (applied: 50 points: tier Gold x1.5 on 100 spend points)"
    )
    assert lines[-1].startswith("0 passed, 1 failed")


def test_check_also_validates_scenario_files(tmp_path):
    from rules import check_folder

    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "s.yaml").write_text(
        "scenarios:\n  - name: x\n    now: 2025-01-01\n    expect: {pointz: 1}\n"
    )
    out = io.StringIO()
    assert check_folder(tmp_path, out) == 1
    assert out.getvalue().splitlines()[0].startswith("scenarios/s.yaml:4:14: ")


def test_a_reward_says_why_it_cannot_be_redeemed():
    from decimal import Decimal

    from domain.program import CustomerFacts

    program = load_program(DEMO_RULES_DIR)
    bronze, gold = CustomerFacts("c", tier="Bronze"), CustomerFacts("c", tier="Gold")
    assert program.why_not_redeemable("free-tote", bronze) == "only for tiers Silver, Gold"
    assert program.why_not_redeemable("free-tote", gold) is None
    assert program.why_not_redeemable("five-off", gold, Decimal("19.99")) == "needs an order of at least 20"
    assert program.why_not_redeemable("ten-percent", gold, Decimal(50), uses=1) == "limit reached: 1 of 1 per month"
    assert program.why_not_redeemable("gold-gift", bronze) == "only for tiers Gold"


BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 9)
)


async def _until(condition) -> None:
    for _ in range(100):
        if condition():
            return
        await asyncio.sleep(0.1)


async def test_the_watcher_survives_a_yaml_bomb_and_loads_the_next_valid_edit(folder, caplog):
    registry = RulesRegistry(folder, quiet_ms=100)
    first = registry.program.version
    stop = asyncio.Event()
    task = asyncio.create_task(registry.watch(stop_event=stop))
    await asyncio.sleep(0.3)
    (folder / "bomb.yaml").write_text(BOMB)
    await _until(lambda: registry.last_errors)
    assert [str(e) for e in registry.last_errors] == [
        "bomb.yaml:1:34: YAML aliases expand to more than 2,000,000 values here: rule files are plain data"
    ]
    assert not task.done()
    (folder / "bomb.yaml").unlink()
    (folder / "earning.yaml").write_text(BETTER)
    await _until(lambda: registry.program.version != first)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert registry.program.sources == {"earning.yaml": BETTER}


async def test_the_watcher_follows_a_folder_replaced_by_another(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "earning.yaml").write_text(GOOD)
    registry = RulesRegistry(rules, quiet_ms=100)
    stop = asyncio.Event()
    task = asyncio.create_task(registry.watch(stop_event=stop))
    await asyncio.sleep(0.3)
    (tmp_path / "rules.new").mkdir()
    (tmp_path / "rules.new" / "earning.yaml").write_text(BETTER)
    rules.rename(tmp_path / "rules.old")
    (tmp_path / "rules.new").rename(rules)
    await _until(lambda: registry.program.sources == {"earning.yaml": BETTER})
    assert registry.program.sources == {"earning.yaml": BETTER}
    best = BETTER.replace("per_unit: 2", "per_unit: 3")
    (rules / "earning.yaml").write_text(best)  # an edit after the swap is loaded too
    await _until(lambda: registry.program.sources == {"earning.yaml": best})
    stop.set()
    await asyncio.wait_for(task, 10)
    assert registry.program.sources == {"earning.yaml": best}


async def test_a_two_file_edit_activates_only_the_finished_folder(folder):
    activated = []
    registry = RulesRegistry(folder, on_activate=lambda program: activated.append(program.sources), quiet_ms=800)
    stop = asyncio.Event()
    task = asyncio.create_task(registry.watch(stop_event=stop))
    await asyncio.sleep(0.3)
    (folder / "earning.yaml").write_text(BETTER)  # valid alone, but not what was deployed
    await asyncio.sleep(0.5)
    (folder / "bonus.yaml").write_text("rules:\n  - {id: bonus, then: {points: {fixed: 5}}}\n")
    await _until(lambda: len(activated) > 1)
    await asyncio.sleep(1)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert [sorted(sources) for sources in activated] == [["earning.yaml"], ["bonus.yaml", "earning.yaml"]]
