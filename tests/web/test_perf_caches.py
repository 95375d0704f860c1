"""The caches behind the performance targets of issue 4 (benchmarks/README.md, "The web app under load"): each
must give what a fresh computation would, and never an answer from before a change, wherever the change was
made: through the app, through another engine on the same database, or by another process.

- the clinic board (`overviews.BoardCache`), kept per clinic and day under the store's change marker;
- parsed plans (`records.stored_plan`), kept by their JSON text;
- rule lookups and the plan's JSON text (orjson), compared with what they replace.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

from webkit import NOW, Web

from b12plan import services
from b12plan.domain.plan import Plan
from b12plan.rulebook import load_ruleset
from b12plan.services import overviews, records
from b12plan.store import Store
from b12plan.web import Settings, create_app
from b12plan.web.security import Signer


def _store(web: Web) -> Store:
    return Store(web.app.state.b12plan.engine, actor="test")


def _other_engine(web: Web) -> Store:
    """The same database through an engine of its own, as another app process would have."""
    return Store.open(web.settings.database_url, actor="elsewhere", create=False)


def _dashboard(web: Web, who: str = "nurse-north") -> str:
    response = web.client(who).get("/dashboard")
    assert response.status_code == 200
    return response.text


def _fresh_dashboard(web: Web, folder: Path, who: str = "nurse-north") -> str:
    """The dashboard from a newly made app (an empty cache) on the same database."""
    fresh = Web(
        app=create_app(web.settings, now=lambda: NOW), settings=web.settings, seed=web.seed, signer=web.signer
    )
    try:
        return _dashboard(fresh, who)
    finally:
        fresh.close()


def test_an_unchanged_board_is_given_again(web: Web) -> None:
    store, actor = _store(web), web.actor("nurse-north")
    cache = overviews.BoardCache()
    first = overviews.clinic_board(store, actor, on=NOW.date(), cache=cache)
    assert overviews.clinic_board(store, actor, on=NOW.date(), cache=cache) is first
    assert first == overviews.clinic_board(store, actor, on=NOW.date())  # what no cache would say
    # another day, another clinic: boards of their own
    tomorrow = overviews.clinic_board(store, actor, on=NOW.date() + dt.timedelta(days=1), cache=cache)
    assert tomorrow is not first
    assert tomorrow.on == NOW.date() + dt.timedelta(days=1)
    south = overviews.clinic_board(store, web.actor("nurse-south"), on=NOW.date(), cache=cache)
    assert south.clinic == "South"
    assert [d.patient.ref for d in south.overdue + south.due] == ["P-OTHER"]


def test_a_change_through_the_app_shows_on_the_next_dashboard(web: Web) -> None:
    before = _dashboard(web)
    assert re.search(r'id="overdue".*P-OWN.*11 days', before, re.DOTALL)
    client, headers = web.client("nurse-north"), web.headers("nurse-north")
    given = client.post("/api/patients/P-OWN/administrations", json={"site": "deltoid-left"}, headers=headers)
    assert given.status_code == 201, given.text
    after = _dashboard(web)
    assert not re.search(r'id="overdue".*P-OWN.*11 days', after, re.DOTALL)


def test_a_change_through_another_engine_shows_on_the_next_dashboard(web: Web, tmp_path: Path) -> None:
    before = _dashboard(web)
    assert "P-NEW" not in before
    with _other_engine(web) as other:
        records.add_patient(other, "P-NEW", clinic="North")
    after = _dashboard(web)
    assert "P-NEW: make a plan" in after
    with _other_engine(web) as other:
        records.give_dose(other, "P-OWN", at=NOW, site="deltoid-left", now=NOW)
    latest = _dashboard(web)
    assert not re.search(r'id="overdue".*P-OWN.*11 days', latest, re.DOTALL)
    assert latest == _fresh_dashboard(web, tmp_path)


def test_a_change_by_another_process_shows_on_the_next_dashboard(web: Web) -> None:
    assert "P-PROC" not in _dashboard(web)
    script = (
        "import sys\n"
        "from b12plan.services import records\n"
        "from b12plan.store import Store\n"
        "with Store.open(sys.argv[1], actor='other-process', create=False) as store:\n"
        "    records.add_patient(store, 'P-PROC', clinic='North')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(web.settings.database_url)], check=True, timeout=120)
    assert "P-PROC: make a plan" in _dashboard(web)


def test_two_apps_on_one_database_each_see_the_others_changes(web: Web, tmp_path: Path) -> None:
    """Two app processes sharing a store: a dose recorded through one is on the other's next dashboard."""
    settings = Settings(secret_key=web.settings.secret_key, database_url=web.settings.database_url)
    second = Web(
        app=create_app(settings, now=lambda: NOW), settings=settings, seed=web.seed, signer=Signer(settings)
    )
    try:
        assert _dashboard(second) == _dashboard(web)
        given = second.client("nurse-north").post(
            "/api/patients/P-OWN/administrations",
            json={"site": "deltoid-left"},
            headers=second.headers("nurse-north"),
        )
        assert given.status_code == 201, given.text
        assert _dashboard(web) == _dashboard(second) == _fresh_dashboard(web, tmp_path)
    finally:
        second.close()


def test_parsed_plans_are_kept_by_their_text(web: Web) -> None:
    with _store(web).transaction(write=False) as rows:
        version = rows.patient_file(rows.patient("P-OWN")).plan_versions[-1]
    plan = records.stored_plan(version)
    assert plan == Plan.model_validate_json(version.plan_json)
    assert records.stored_plan(version) is plan
    changed = json.loads(version.plan_json)
    changed["decision"] = "Another decision."
    other = records.stored_plan(type(version)(**{**vars(version), "plan_json": json.dumps(changed)}))
    assert other.decision == "Another decision."
    assert records.stored_plan(version).decision == plan.decision


def test_rule_lookups_find_what_a_search_finds() -> None:
    rules = load_ruleset("nice-ng239")
    for rule in rules.rules:
        assert rules.rule(rule.id) is rule
    roles = {getattr(r, "role", None) for r in rules.rules if r.id.startswith("FU-")}
    for role in roles - {None}:
        found = rules.followup(str(role))
        assert found is not None
        assert found is next(r for r in rules.rules if getattr(r, "role", None) == role)
    assert rules.followup("followup.no_such_step") is None


def test_the_plan_json_is_the_standard_librarys_text() -> None:
    """orjson writes a plan as json.dumps(indent=2) did (plans hold no NaN and no floats in e-notation)."""
    case = json.loads(services.example_case_text())
    for ruleset in ("nice-ng239", "us-cyanocobalamin-label"):
        plan = services.plan_document(case, today=dt.date(2026, 1, 5), ruleset=ruleset)
        expected = json.dumps(plan.to_json_dict(), indent=2, ensure_ascii=False) + "\n"
        assert services.render_plan(plan, "json") == expected
