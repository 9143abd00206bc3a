import io
import shutil
import textwrap

from rules_testkit import NOW, TIERS, errors_of, program_of

from rules import DEMO_RULES_DIR, check_folder


def test_an_unknown_tier_is_an_error_at_its_line():
    errors = errors_of(
        **{
            "tiers.yaml": TIERS,
            "promo.yaml": """
        rules:
          - id: platinum-bonus
            when: {customer: {tier: Platinum}}
            then: {points: {fixed: 5}}
    """,
        }
    )
    assert errors == ["promo.yaml:4:29: rule 'platinum-bonus': unknown tier 'Platinum' (tiers: Bronze, Gold, Silver)"]


def test_an_unknown_tier_in_a_list_points_at_the_list_item():
    errors = errors_of(
        **{
            "tiers.yaml": TIERS,
            "promo.yaml": """
        rules:
          - id: p
            when:
              customer:
                tier: [Gold, Platnum]
            then: {points: {fixed: 5}}
    """,
        }
    )
    assert errors == ["promo.yaml:6:22: rule 'p': unknown tier 'Platnum' (tiers: Bronze, Gold, Silver)"]


def test_an_unknown_key_is_an_error_at_the_key_naming_the_rule():
    (error,) = errors_of(
        **{
            "x.yaml": """
        rules:
          - id: crib
            when: {cart: {any_line: {catgory: cribs}}}
            then: {suggest: [M]}
    """
        }
    )
    assert error.startswith("x.yaml:4:30: rule 'crib', when.cart.any_line: unknown key 'catgory'")


def test_a_wrong_type_is_an_error_at_the_value():
    (error,) = errors_of(
        **{
            "x.yaml": """
        rules:
          - id: r
            priority: high
            then: {points: {fixed: 1}}
    """
        }
    )
    assert error == "x.yaml:4:15: rule 'r', priority: expected an integer, got 'high'"


def test_a_window_ending_before_it_starts_is_an_error_at_until():
    (error,) = errors_of(
        **{
            "x.yaml": """
        rules:
          - id: r
            active: {from: 2025-06-01, until: 2025-05-31}
            then: {points: {fixed: 1}}
    """
        }
    )
    assert error == "x.yaml:4:39: rule 'r': the window ends (2025-05-31) before it starts (2025-06-01)"


def test_an_impossible_date_is_an_error():
    (error,) = errors_of(
        **{
            "x.yaml": """
        rules:
          - id: r
            active: {from: 2025-02-30}
            then: {points: {fixed: 1}}
    """
        }
    )
    assert error == "x.yaml:4:20: rule 'r': '2025-02-30' is not a real date"


def test_a_duplicate_rule_id_is_an_error_at_every_copy_even_across_files():
    errors = errors_of(
        **{
            "a.yaml": "rules:\n  - id: same\n    then: {points: {fixed: 1}}\n",
            "b.yaml": (
                "rules:\n  - {id: other, then: {points: {fixed: 1}}}\n  - id: same\n    then: {points: {fixed: 2}}\n"
            ),
        }
    )
    # which copy is new only the marketer knows: b.yaml may be the file just edited, or a.yaml
    assert errors == [
        "a.yaml:2:9: rule 'same' is defined 2 times (also at b.yaml:3)",
        "b.yaml:3:9: rule 'same' is defined 2 times (also at a.yaml:2)",
    ]


def test_a_bad_indent_is_the_only_error_reported_not_false_ones_in_untouched_files(tmp_path):
    shutil.copytree(DEMO_RULES_DIR, tmp_path / "rules")
    earning = tmp_path / "rules" / "earning.yaml"
    earning.write_text(earning.read_text().replace("\n    then:", "\n   then:", 1))
    out = io.StringIO()
    assert check_folder(tmp_path / "rules", out) == 1
    [error, count] = out.getvalue().splitlines()
    assert error.startswith("earning.yaml:") and "YAML syntax" in error and count == "1 error(s)"


def test_an_unknown_reward_in_tier_benefits_is_an_error():
    errors = errors_of(
        **{
            "x.yaml": """
        tiers:
          - name: Gold
            threshold: 10
            benefits: {rewards: [gift]}
    """
        }
    )
    assert errors == ["x.yaml:5:26: tier 'Gold': unknown reward 'gift'"]


def test_a_duplicate_yaml_key_is_an_error():
    errors = errors_of(**{"x.yaml": "rules:\n  - id: r\n    id: s\n    then: {points: {fixed: 1}}\n"})
    assert errors == ["x.yaml:3:5: duplicate key 'id'"]


def test_a_yaml_syntax_error_points_at_the_problem():
    (error,) = errors_of(**{"x.yaml": "rules:\n  - id: r\n   then: [\n"})
    assert error.startswith("x.yaml:") and "YAML syntax" in error


def test_python_tags_are_refused_and_never_executed():
    errors = errors_of(
        **{"x.yaml": "rules:\n  - id: !!python/object/apply:os.system [echo hi]\n    then: {points: {fixed: 1}}\n"}
    )
    tag = "tag:yaml.org,2002:python/object/apply:os.system"
    assert f"x.yaml:2:9: unsupported YAML tag {tag}: rule files are plain data" in errors


def test_an_effect_that_cannot_work_on_an_event_is_an_error():
    (error,) = errors_of(
        **{
            "x.yaml": """
        rules:
          - id: r
            on: review.published
            then: {points: {per_unit: 1}}
    """
        }
    )
    assert error == "x.yaml:5:21: rule 'r': per_unit points only apply to orders; use fixed"


def test_two_effects_in_one_rule_are_an_error():
    (error,) = errors_of(
        **{
            "x.yaml": """
        rules:
          - id: r
            then: {points: {fixed: 1}, suggest: [A]}
    """
        }
    )
    assert error == "x.yaml:4:11: rule 'r', then: give exactly one effect: points, discount, free_shipping or suggest"


def test_a_tier_multiplier_without_a_rule_applying_it_is_an_error():
    errors = errors_of(**{"x.yaml": "tiers:\n  - name: Gold\n    threshold: 1\n    benefits: {multiplier: 2}\n"})
    assert errors == [
        "x.yaml:4:28: tier 'Gold' has multiplier 2 but no rule applies tier multipliers; "
        "add a rule with then: {points: {multiply: tier}}"
    ]


def test_check_prints_every_error_and_returns_one(tmp_path):
    (tmp_path / "a.yaml").write_text(
        textwrap.dedent("""
        rules:
          - id: r
            priority: high
            when: {customer: {tier: Nope}}
            then: {points: {fixed: 1}}
    """)
    )
    out = io.StringIO()
    assert check_folder(tmp_path, out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("a.yaml:4:15: rule 'r', priority")
    assert lines[1].startswith("a.yaml:5:29: rule 'r': unknown tier 'Nope'")
    assert lines[-1] == "2 error(s)"


def test_check_passes_the_demo_folder():
    from rules import DEMO_RULES_DIR

    out = io.StringIO()
    assert check_folder(DEMO_RULES_DIR, out) == 0, out.getvalue()


def test_whole_numbers_written_with_a_decimal_point_stay_whole_points():
    from rules_testkit import NOW, customer, order, program_of

    program = program_of("rules:\n  - {id: r, then: {points: {fixed: 5.0}}}\n")
    (award,) = program.evaluate_order(customer(), order(("A", 1)), NOW).awards
    assert award.points == 5 and isinstance(award.points, int)


def test_a_byte_that_is_not_utf8_is_an_error_at_that_byte_and_the_other_files_are_still_checked(tmp_path):
    (tmp_path / "a.yaml").write_bytes(
        "rules:\n  - {id: caf\u00e9, note: \xe9t\xe9}\n".encode("utf-8").replace(b"\xc3\xa9t", b"\xe9t")
    )
    (tmp_path / "b.yaml").write_text("rules:\n  - {id: base, then: {points: {per_unit: lots}}}\n")
    out = io.StringIO()
    assert check_folder(tmp_path, out) == 1
    printed = out.getvalue().splitlines()
    assert printed[0].startswith("a.yaml:2:22: not UTF-8 text: byte 0xe9")
    assert printed[1].startswith("b.yaml:2:42: rule 'base', then.points.per_unit")


def test_a_scenario_file_that_is_not_utf8_is_an_error_not_a_traceback(tmp_path):
    from rules import run_scenarios

    (tmp_path / "r.yaml").write_text("rules:\n  - {id: base, then: {points: {per_unit: 1}}}\n")
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "s.yaml").write_bytes(b"scenarios:\n  - name: \xff\n")
    for run in (check_folder, run_scenarios):
        out = io.StringIO()
        assert run(tmp_path, out) == 1
        assert "scenarios/s.yaml:2:11: not UTF-8 text: byte 0xff" in out.getvalue()


def test_a_yaml_alias_bomb_is_an_error_at_the_alias_not_a_crash(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join([*lines, "rules: *a8"]) + "\n")
    (tmp_path / "deep.yaml").write_text("rules: " + "[" * 100_000 + "]" * 100_000 + "\n")
    out = io.StringIO()
    assert check_folder(tmp_path, out) == 1
    assert out.getvalue().splitlines()[:2] == [
        "bomb.yaml:1:34: YAML aliases expand to more than 2,000,000 values here: rule files are plain data",
        "deep.yaml:1:208: YAML syntax: nested more than 200 levels deep",
    ]


def test_a_program_currency_that_is_not_a_real_code_is_an_error_in_words():
    errors = errors_of(**{"program.yaml": "program: {name: P, currency: XYZ}\n"})
    assert errors == [
        "program.yaml:1:30: program currency 'XYZ' is not an ISO 4217 currency code (for example EUR, USD, JPY)"
    ]


def test_exchange_rates_name_real_currencies_other_than_the_program_s_with_sensible_rates():
    errors = errors_of(
        **{
            "program.yaml": "program: {name: P, currency: EUR}\n",
            "rates.yaml": """
        exchange_rates:
          USD: 0.92
          EUR: 1
          ABC: 2
          JPY: 0.0000000000001
    """,
        }
    )
    assert errors == [
        "rates.yaml:4:3: 'EUR' is the program currency; it needs no rate",
        "rates.yaml:5:3: 'ABC' is not an ISO 4217 currency code",
        "rates.yaml:6:8: the rate of JPY must be at most 1,000,000,000, with at most 12 decimal places",
    ]


def test_a_negative_rate_is_refused_by_the_schema():
    errors = errors_of(**{"rates.yaml": "exchange_rates: {USD: -1, GBP: one}\n", "tiers.yaml": TIERS})
    assert [e.split(": ")[0] for e in errors] == ["rates.yaml:1:23", "rates.yaml:1:32"]


def test_points_and_days_in_rule_files_fit_what_they_are_stored_and_served_in():
    errors = errors_of(
        **{
            "tiers.yaml": "tiers:\n  - {name: Bronze, threshold: 0}\n  - {name: Gold, threshold: 3000000000}\n",
            "rules.yaml": """
        rules:
          - id: huge
            then: {points: {fixed: 3000000150, expires_in_days: 100000000000}}
    """,
        }
    )
    assert [e.split(": ")[0] for e in errors] == ["rules.yaml:4:28", "rules.yaml:4:57", "tiers.yaml:3:29"]


def test_a_rewards_validity_ending_before_it_starts_is_an_error_at_until():
    errors = errors_of(
        **{
            "rewards.yaml": """
        rewards:
          - id: late
            name: Late
            kind: free_shipping
            points_cost: 10
            valid: {from: 2026-12-24, until: 2026-12-01}
    """
        }
    )
    assert errors == ["rewards.yaml:7:38: reward 'late': the window ends (2026-12-01) before it starts (2026-12-24)"]


def test_a_negative_stock_is_an_error_at_the_value():
    errors = errors_of(
        **{
            "rewards.yaml": """
        rewards:
          - {id: none, name: None, kind: free_shipping, points_cost: 10, stock: -1}
    """
        }
    )
    assert len(errors) == 1 and errors[0].startswith("rewards.yaml:3:") and "-1" in errors[0]


def test_learned_suggestions_take_a_support_a_maximum_and_exclusions():
    program = program_of(
        """
        learned_suggestions:
          min_support: 4
          exclude: {skus: GIFT-CARD, categories: [samples]}
        """
    )
    learned = program.settings.learned
    assert learned is not None
    assert (learned.min_support, learned.max) == (4, 3)
    assert not learned.allows("GIFT-CARD", None) and not learned.allows("X", "samples")
    assert learned.allows("X", "toys")
    assert program_of("rules: []").settings.learned is None


def test_rules_can_test_whether_a_customer_was_referred():
    from domain.program import CustomerFacts, EventFacts

    program = program_of(
        """
        rules:
          - id: friend-welcome
            on: referral.completed
            when: {event: {role: friend}, customer: {referred: true}}
            then: {points: {fixed: 150}}
        """
    )
    event = EventFacts("referral.completed", {"role": "friend"})
    referred = program.evaluate_event(CustomerFacts("f", referred=True), event, NOW)
    not_referred = program.evaluate_event(CustomerFacts("f"), event, NOW)
    assert (referred.points, not_referred.points) == (150, 0)
