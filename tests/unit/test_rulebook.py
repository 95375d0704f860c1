"""The rule books: every shipped rule set loads, every rule is sourced or labelled as our design, and a broken
rule-set text is reported as a DataError naming the rule."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from b12plan.domain.codes import Formulation
from b12plan.domain.products import Catalogue
from b12plan.domain.rules import DESIGN_SOURCE, CauseRule, RegimenRule, RuleSet
from b12plan.errors import DataError, UnknownRulesetError, UserError
from b12plan.rulebook import load_catalogue, load_data, load_ruleset, load_sites, parse_ruleset, ruleset_ids

SHIPPED = ["nice-ng239", "us-common-practice", "us-cyanocobalamin-label"]
CORE_MODULES = ["assessment", "labs", "regimen", "schedule", "safety", "planner"]


def _core_source() -> str:
    domain = resources.files("b12plan") / "domain"
    return "\n".join((domain / f"{name}.py").read_text(encoding="utf-8") for name in CORE_MODULES)


# -- the shipped rule sets ---------------------------------------------------------------------------------


def test_the_shipped_rule_sets_default_first() -> None:
    assert ruleset_ids() == SHIPPED


@pytest.mark.parametrize("rid", SHIPPED)
def test_every_shipped_rule_set_loads(rid: str) -> None:
    rules = load_ruleset(rid)
    assert rules.id == rid
    assert rules.ruleset.version
    assert rules.ruleset.title
    assert len(rules.rules) > 50
    assert load_ruleset(rid) is rules  # loaded once


@pytest.mark.parametrize("rid", SHIPPED)
def test_every_rule_has_a_source_url_or_is_a_labelled_design_rule(rid: str) -> None:
    rules = load_ruleset(rid)
    for rule in rules.rules:
        if rule.evidence == "D":
            assert rule.source == DESIGN_SOURCE, rule.id
            assert rules.source_url(rule) == "b12plan design rule"
        else:
            assert rule.source != DESIGN_SOURCE, rule.id
            assert re.match(r"https?://\S+\.\S+", rules.source_url(rule)), rule.id
        assert rule.text.strip(), rule.id


@pytest.mark.parametrize("rid", SHIPPED)
def test_every_source_is_a_url_with_a_title(rid: str) -> None:
    for key, source in load_ruleset(rid).sources.items():
        assert re.match(r"https?://\S+$", source.url), key
        assert source.title.strip(), key


def test_no_source_is_an_ai_summary_site() -> None:  # REFERENCE 4.1: never cite them for a number
    for rid in SHIPPED:
        for source in load_ruleset(rid).sources.values():
            assert not re.search(r"iatrox|droracle", source.url, re.IGNORECASE), source.url


@pytest.mark.parametrize("rid", SHIPPED)
def test_every_reasoning_step_the_core_takes_is_stated(rid: str) -> None:
    """`rules.logic(role)` raises KeyError at planning time when a rule set lacks the step."""
    roles = set(re.findall(r"(?<!find_)logic\(\"([a-z_.]+)\"\)", _core_source()))
    assert len(roles) >= 10
    rules = load_ruleset(rid)
    for role in sorted(roles):
        assert rules.logic(role).role == role


@pytest.mark.parametrize("rid", SHIPPED)
def test_every_alert_the_core_raises_is_defined(rid: str) -> None:
    """An alert code without an `alert` rule is silently dropped: every rule set defines them all."""
    codes = set(re.findall(r"Notice\(\s*\"([A-Z_0-9]+)\"", _core_source()))
    codes |= set(re.findall(r"make_alert\(rules, \"([A-Z_0-9]+)\"", _core_source()))
    assert {"NEURO_URGENT", "DESIGN_RULE", "ROUTE_NOT_LICENSED", "NO_RETEST_B12"} <= codes
    rules = load_ruleset(rid)
    assert sorted(c for c in codes if rules.alert(c) is None) == []


@pytest.mark.parametrize("rid", SHIPPED)
def test_every_cause_has_an_injection_regimen_with_and_without_nerve_signs(rid: str) -> None:
    rules = load_ruleset(rid)
    groups = {r.group for r in rules.of(CauseRule)}
    for group in groups:
        for neuro in (True, False):
            found = [
                r
                for r in rules.of(RegimenRule)
                if group in r.groups
                and r.family == "injection"
                and not r.prophylaxis
                and r.neurological in (None, neuro)
            ]
            assert found, (group, neuro)


@pytest.mark.parametrize("rid", SHIPPED)
def test_the_default_products_are_in_the_catalogue(rid: str, catalogue: Catalogue) -> None:
    meta = load_ruleset(rid).ruleset
    injection = catalogue.get(meta.default_product)
    assert injection.form == "injection"
    assert injection.formulation is meta.default_formulation
    tablet = catalogue.get(meta.default_oral_product)
    assert (tablet.form, tablet.formulation) == ("tablet", Formulation.CYANOCOBALAMIN)


def test_an_unknown_rule_set_is_a_user_error_naming_the_choices() -> None:
    with pytest.raises(UnknownRulesetError) as refused:
        load_ruleset("nice-ng240")
    assert isinstance(refused.value, UserError)
    assert refused.value.problems[0].field == "ruleset"
    for rid in SHIPPED:
        assert rid in str(refused.value)


def test_every_data_file_is_read_once_through_the_rule_book() -> None:
    """codes.toml is parsed by the FHIR adapter, but read (and cached) here like every other data file."""
    from b12plan.adapters.fhir.codes import load_codes, parse_codes

    assert load_codes() is load_codes() is load_data("codes.toml", parse_codes)
    assert load_catalogue() is load_catalogue()
    assert load_sites() is load_sites()


# -- parsing hand-written rule-set text --------------------------------------------------------------------

HEAD = """
[ruleset]
id = "test"
version = "1"
title = "Test rules"
jurisdiction = "nowhere"
country = "UK"
default_formulation = "hydroxocobalamin"
default_product = "uk-hydroxocobalamin-1mg-1ml-amp"
default_oral_product = "uk-cyanocobalamin-50mcg-tab"

[sources.who]
url = "http://www.who.int/vmnis/indicators/haemoglobin/en/"
title = "WHO 2011"

[[rule]]
id = "T-GOOD"
role = "anaemia"
group = "male"
unit = "g/L"
below = 130
severe_below = 80
source = "who"
evidence = "P"
text = "Anaemia in men below 130 g/L."
"""

THRESHOLD = """
[[rule]]
id = "T-BAD"
role = "dx.threshold"
test = "b12_total"
unit = "ng/L"
deficient_below = 180
unlikely_above = 350
source = "who"
evidence = "P"
text = "A threshold."
"""

REGIMEN = """
[[rule]]
id = "T-BAD"
role = "regimen"
formulation = "hydroxocobalamin"
groups = ["autoimmune"]
family = "injection"
source = "who"
evidence = "P"
text = "A regimen."

[[rule.phases]]
stage = "repletion"
route = "injection"
dose_mcg = 1000
interval_days = 2
doses = 6
design_rules = []
"""


def _parse(text: str, includes: dict[str, str] | None = None) -> RuleSet:
    files = includes or {}

    def read(name: str) -> str:
        if name not in files:
            raise FileNotFoundError(name)
        return files[name]

    return parse_ruleset(text, origin="rulesets/test.toml", read_include=read)


def test_hand_written_text_parses() -> None:
    rules = _parse(HEAD + THRESHOLD)
    assert [r.id for r in rules.rules] == ["T-GOOD", "T-BAD"]
    assert rules.source_url(rules.rule("T-BAD")) == "http://www.who.int/vmnis/indicators/haemoglobin/en/"


def test_includes_join_the_rule_set() -> None:
    rules = _parse('includes = ["part.toml"]\n' + HEAD, {"part.toml": THRESHOLD})
    assert [r.id for r in rules.rules] == ["T-BAD", "T-GOOD"]


MAINTENANCE = """
[[rule.phases]]
stage = "maintenance"
route = "injection"
dose_mcg = 1000
interval_days = 84
"""


def _threshold(old: str, new: str) -> str:
    assert old in THRESHOLD
    return THRESHOLD.replace(old, new)


BROKEN: list[tuple[str, str, list[str]]] = [
    # what is wrong, the rule's text, words the DataError must hold
    ("a number as text", _threshold("below = 180", 'below = "low"'), ["rule T-BAD"]),
    ("a missing number", _threshold("unlikely_above = 350\n", ""), ["rule T-BAD", "unlikely_above"]),
    ("an unknown field", _threshold("test =", "cutoff = 1\ntest ="), ["rule T-BAD", "cutoff"]),
    ("an unknown role", _threshold('"dx.threshold"', '"dx.guess"'), ["rule T-BAD"]),
    ("an unknown test code", _threshold('"b12_total"', '"vitamin_b12"'), ["rule T-BAD", "test"]),
    ("a design rule with a source", _threshold('evidence = "P"', 'evidence = "D"'), ["T-BAD", "evidence D"]),
    ("a sourced rule marked design", _threshold('source = "who"', 'source = "design"'), ["T-BAD"]),
    ("a source not in [sources]", _threshold('source = "who"', 'source = "bmj"'), ["T-BAD", "'bmj'"]),
    ("an evidence tag not P/Q/D", _threshold('evidence = "P"', 'evidence = "X"'), ["rule T-BAD", "evidence"]),
    ("a lower-case id", _threshold('id = "T-BAD"', 'id = "t-bad"'), ["rule t-bad", "id"]),
    ("a duplicate id", _threshold("T-BAD", "T-GOOD"), ["duplicate", "T-GOOD"]),
    ("no maintenance phase", REGIMEN, ["rule T-BAD", "maintenance"]),
    (
        "a phase with no spacing",
        REGIMEN.replace("interval_days = 2\n", "") + MAINTENANCE,
        ["rule T-BAD", "interval_days or times_per_week"],
    ),
    (
        "an unknown design rule",
        REGIMEN.replace("design_rules = []", 'design_rules = ["DESIGN-NOPE"]') + MAINTENANCE,
        ["T-BAD", "DESIGN-NOPE"],
    ),
]


def test_a_regimen_rule_parses() -> None:
    (rule,) = _parse(HEAD + REGIMEN + MAINTENANCE).of(RegimenRule)
    assert [p.stage.value for p in rule.phases] == ["repletion", "maintenance"]


@pytest.mark.parametrize(("what", "rule", "words"), BROKEN, ids=[b[0] for b in BROKEN])
def test_a_broken_rule_is_a_data_error_naming_it(what: str, rule: str, words: list[str]) -> None:
    with pytest.raises(DataError) as broken:
        _parse(HEAD + rule)
    message = str(broken.value)
    assert message.startswith("rulesets/test.toml: "), message
    for word in words:
        assert word in message, (what, message)


def test_a_broken_rule_in_an_include_is_named() -> None:
    bad = THRESHOLD.replace("deficient_below = 180", "deficient_below = [180]")
    with pytest.raises(DataError, match=r"rule T-BAD"):
        _parse('includes = ["part.toml"]\n' + HEAD, {"part.toml": bad})


def test_text_that_is_not_toml_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"^rulesets/test.toml: not valid TOML"):
        _parse(HEAD + "[[rule]\nid = ")


@pytest.mark.parametrize(
    ("files", "words"), [({}, "'missing.toml'"), ({"missing.toml": "x = = 1"}, "'missing.toml'")]
)
def test_an_include_that_cannot_be_read_is_a_data_error(files: dict[str, str], words: str) -> None:
    with pytest.raises(DataError, match=re.escape(words)):
        _parse('includes = ["missing.toml"]\n' + HEAD, files)


def test_a_data_error_is_a_bug_in_b12plan_not_the_users() -> None:
    assert issubclass(DataError, RuntimeError)
    assert not issubclass(DataError, UserError)
    assert DataError.exit_code == 3
