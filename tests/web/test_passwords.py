"""Passwords after an account is made: a user changes their own (the current one required), an admin sets
anyone's, `b12plan user passwd` sets one from the command line; every change is audited and ends the
sessions and tokens made with the old password, on the pages and the API alike."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webkit import CSRF, PASSWORD, Seed, Web, copy_database, error_of, unlabelled_controls

from b12plan.errors import ForbiddenError, NotSignedInError, UnknownAccountError, UserError
from b12plan.services import accounts
from b12plan.store import Store

Cli = Callable[..., Any]
NEW = "a brand new long password"


@pytest.fixture
def store(seed: Seed, tmp_path: Path) -> Iterator[Store]:
    target = tmp_path / "passwords.sqlite3"
    copy_database(seed.path, target)
    with Store.open(str(target), actor="admin") as opened:
        yield opened


# -- the services ------------------------------------------------------------------------------------------


def test_a_user_changes_their_own_password(store: Store, seed: Seed) -> None:
    nurse = seed.actors["nurse-north"]
    changed = accounts.change_password(store, nurse, PASSWORD, NEW)
    assert changed.stamp != nurse.stamp
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) is None  # old sessions and tokens end
    assert accounts.signed_in(store, nurse.user_id, changed.stamp) == changed
    assert accounts.authenticate(store, "nurse-north", PASSWORD) is None
    assert accounts.authenticate(store, "nurse-north", NEW) == changed
    with pytest.raises(NotSignedInError):  # the actor of an ended session can change nothing
        accounts.change_password(store, nurse, NEW, "yet another long password")


@pytest.mark.parametrize(
    ("current", "new", "problems"),
    [
        ("not my password", NEW, ["current_password: is not your current password"]),
        (PASSWORD, "short", ["new_password: use at least 12 characters"]),
        (
            "x" * 2000,
            "short",
            ["current_password: is not your current password", "new_password: use at least 12 characters"],
        ),
        (PASSWORD, PASSWORD, ["new_password: is your current password: choose another"]),
        (PASSWORD, "y" * 1025, ["new_password: use at most 1024 characters"]),
    ],
)
def test_a_refused_change_names_its_fields_and_changes_nothing(
    store: Store, seed: Seed, current: str, new: str, problems: list[str]
) -> None:
    nurse = seed.actors["nurse-north"]
    with pytest.raises(UserError) as caught:
        accounts.change_password(store, nurse, current, new)
    assert caught.value.lines == problems
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) == nurse


def test_an_admin_resets_anyones_password_and_no_one_else_may(store: Store, seed: Seed) -> None:
    admin, nurse, ann = seed.actors["admin"], seed.actors["nurse-north"], seed.actors["ann"]
    reset = accounts.reset_password(store, admin, "ann", NEW)
    assert reset.username == "ann"
    assert accounts.signed_in(store, ann.user_id, ann.stamp) is None
    assert accounts.authenticate(store, "ann", NEW) == reset
    for who in (nurse, ann):
        with pytest.raises(ForbiddenError, match="only an admin manages accounts"):
            accounts.reset_password(store, who, "nurse-south", NEW)
        with pytest.raises(ForbiddenError):
            accounts.list_users_as(store, who)
        with pytest.raises(ForbiddenError):
            accounts.add_user_as(store, who, "sneaky", NEW, "admin")
    with pytest.raises(UnknownAccountError, match="username: there is no account 'nobody'"):
        accounts.reset_password(store, admin, "nobody", NEW)
    with pytest.raises(UserError, match="password: use at least 12 characters"):
        accounts.reset_password(store, admin, "bob", "short")
    assert accounts.signed_in(store, seed.actors["bob"].user_id, seed.actors["bob"].stamp) is not None


def test_an_admin_adds_and_lists_accounts(store: Store, seed: Seed) -> None:
    added = accounts.add_user_as(store, seed.actors["admin"], "nurse-east", NEW, "clinician", clinic="East")
    assert (added.role.value, added.clinic) == ("clinician", "East")
    names = [u.username for u in accounts.list_users_as(store, seed.actors["admin"])]
    assert "nurse-east" in names


def test_password_changes_are_audited_without_secrets(store: Store, seed: Seed) -> None:
    accounts.change_password(store, seed.actors["bob"], PASSWORD, NEW)
    accounts.reset_password(store, seed.actors["admin"], "nurse-south", NEW)
    accounts.set_password(store, "ann", NEW)
    with store.transaction(write=False) as records:
        audit = [a for a in records.audit_entries() if a.entity == "user" and a.action == "update"]
    ids = [seed.actors[n].user_id for n in ("bob", "nurse-south", "ann")]
    assert [(a.entity_id, a.fields, a.actor) for a in audit] == [(i, "password_hash", "admin") for i in ids]
    assert all(NEW not in repr(a) for a in audit)


# -- the command line --------------------------------------------------------------------------------------


def test_user_passwd_reads_the_new_password_twice(cli: Cli, seed: Seed, tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite3"
    copy_database(seed.path, db)
    done = cli("--db", db, "--user", "root", "user", "passwd", "nurse-north", input=f"{NEW}\n{NEW}\n")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("new password for nurse-north:")
    with Store.open(str(db)) as store:
        assert accounts.authenticate(store, "nurse-north", NEW) is not None
        with store.transaction(write=False) as records:
            assert records.audit_entries()[-1].actor == "root"
    for given, message in [
        (f"{NEW}\nsomething else entirely\n", "password: the two passwords differ"),
        ("short\nshort\n", "password: use at least 12 characters"),
        (f"{NEW}\n", "password: give it twice, on two lines of stdin"),
    ]:
        refused = cli("--db", db, "user", "passwd", "nurse-north", input=given)
        assert refused.exit_code == 2
        assert message in refused.stderr
        assert "Traceback" not in refused.stderr + refused.stdout
    nobody = cli("--db", db, "user", "passwd", "nobody", input=f"{NEW}\n{NEW}\n")
    assert nobody.exit_code == 2
    assert "username: there is no account 'nobody'" in nobody.stderr


# -- old sessions and tokens end ---------------------------------------------------------------------------


def test_a_new_password_ends_the_old_page_session_and_api_token(web: Web) -> None:
    old_page = web.client("nurse-north")
    old_token = web.headers("nurse-north")
    assert old_page.get("/dashboard").status_code == 200
    assert web.client(None).get("/api/me", headers=old_token).status_code == 200
    admin = web.client("admin")
    reset = admin.post(
        "/accounts/nurse-north/password",
        data={"csrf_token": CSRF, "password": NEW, "repeat_password": NEW},
    )
    assert reset.status_code == 303
    assert reset.headers["location"] == "/accounts?saved=reset&for=nurse-north"
    gone = old_page.get("/dashboard")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/login")
    refused = web.client(None).get("/api/me", headers=old_token)
    assert refused.status_code == 401
    assert error_of(refused)["field"] == "authorization"


# -- the pages ---------------------------------------------------------------------------------------------


def test_every_signed_in_user_has_an_account_page_linked_from_the_header(shared_web: Web) -> None:
    for who in ("admin", "nurse-north", "ann"):
        page = shared_web.client(who).get("/account")
        assert page.status_code == 200
        assert 'id="nav-account"' in page.text
        assert ('id="nav-accounts"' in page.text) is (who == "admin")
        for name in ("current_password", "new_password", "repeat_password"):
            assert f'<label for="{name}">' in page.text
            assert f'id="{name}" name="{name}"' in page.text
        assert 'autocomplete="current-password"' in page.text
        assert unlabelled_controls(page.text) == []


def test_changing_your_password_keeps_this_session_and_ends_the_others(web: Web) -> None:
    mine = web.client("ann")
    old_token = web.headers("ann")
    form = {"csrf_token": CSRF, "current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW}
    done = mine.post("/account/password", data=form)
    assert done.status_code == 303
    assert done.headers["location"] == "/account?saved=password"
    after = mine.get("/account?saved=password")
    assert after.status_code == 200  # this session goes on, with the new stamp
    assert 'id="saved-notice"' in after.text
    assert web.client(None).get("/api/me", headers=old_token).status_code == 401


@pytest.mark.parametrize(
    ("form", "field", "problem"),
    [
        (
            {"current_password": "wrong one!", "new_password": NEW, "repeat_password": NEW},
            "current_password",
            "is not your current password",
        ),
        (
            {"current_password": PASSWORD, "new_password": "short", "repeat_password": "short"},
            "new_password",
            "use at least 12",
        ),
        (
            {"current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW + "!"},
            "repeat_password",
            "the two passwords differ",
        ),
    ],
)
def test_a_refused_change_comes_back_with_the_problem_beside_its_field(
    web: Web, form: dict[str, str], field: str, problem: str
) -> None:
    refused = web.client("nurse-north").post("/account/password", data={"csrf_token": CSRF, **form})
    assert refused.status_code == 422
    assert f'<p class="field-error" id="{field}-error">' in refused.text
    assert problem in refused.text
    assert re.search(rf'aria-describedby="[^"]*\b{field}-error" aria-invalid="true"', refused.text)
    assert PASSWORD not in refused.text
    assert NEW not in refused.text
    assert web.client("nurse-north").get("/dashboard").status_code == 200  # nothing changed


def test_wrong_current_passwords_are_rate_limited(web: Web) -> None:
    client = web.client("nurse-north")
    form = {
        "csrf_token": CSRF,
        "current_password": "guess guess guess",
        "new_password": NEW,
        "repeat_password": NEW,
    }
    statuses = [client.post("/account/password", data=form).status_code for _ in range(6)]
    assert statuses == [422] * 5 + [429]


def test_the_change_password_form_needs_its_csrf_token(web: Web) -> None:
    form = {"current_password": PASSWORD, "new_password": NEW, "repeat_password": NEW}
    refused = web.client("nurse-north").post("/account/password", data=form)
    assert refused.status_code == 403
    assert web.client("nurse-north").get("/dashboard").status_code == 200


def test_the_admin_accounts_page_lists_adds_and_resets(web: Web) -> None:
    admin = web.client("admin")
    page = admin.get("/accounts")
    assert page.status_code == 200
    assert unlabelled_controls(page.text) == []
    rows = ["admin", "ann", "bob", "nurse-north", "nurse-south"]
    assert [r for r in rows if f'<tr data-username="{r}"' in page.text] == rows
    assert "<td>patient</td><td></td><td>P-OWN</td>" in page.text
    assert 'id="password-ann"' in page.text
    assert 'id="repeat_password-ann"' in page.text
    form = {"csrf_token": CSRF, "username": "nurse-east", "role": "clinician", "clinic": "East"}
    added = admin.post("/accounts", data={**form, "password": NEW, "repeat_password": NEW})
    assert added.status_code == 303
    assert added.headers["location"] == "/accounts?saved=account"
    assert '<tr data-username="nurse-east"' in admin.get("/accounts").text
    refused = admin.post(
        "/accounts",
        data={**form, "username": "nurse-west", "clinic": "", "password": NEW, "repeat_password": NEW},
    )
    assert refused.status_code == 422
    assert '<p class="field-error" id="clinic-error">' in refused.text
    assert 'value="nurse-west"' in refused.text  # as typed
    short = admin.post(
        "/accounts/ann/password", data={"csrf_token": CSRF, "password": "short", "repeat_password": "short"}
    )
    assert short.status_code == 422
    assert 'id="password-ann-error"' in short.text
    assert '<details id="reset-ann" open>' in short.text
    missing = admin.post(
        "/accounts/nobody/password", data={"csrf_token": CSRF, "password": NEW, "repeat_password": NEW}
    )
    assert missing.status_code == 404


def test_an_admin_resetting_their_own_password_stays_signed_in(web: Web) -> None:
    admin = web.client("admin")
    done = admin.post(
        "/accounts/admin/password", data={"csrf_token": CSRF, "password": NEW, "repeat_password": NEW}
    )
    assert done.status_code == 303
    assert admin.get("/accounts").status_code == 200


def test_only_admins_see_the_accounts(shared_web: Web) -> None:
    for who in ("nurse-north", "ann"):
        assert shared_web.client(who).get("/accounts").status_code == 403
        assert 'id="nav-accounts"' not in shared_web.client(who).get("/account").text


# -- the API -----------------------------------------------------------------------------------------------


def test_change_your_own_password_through_the_api(web: Web) -> None:
    client = web.client(None)
    old = web.headers("bob")
    wrong = client.post(
        "/api/me/password", headers=old, json={"current_password": "nope", "new_password": NEW}
    )
    assert wrong.status_code == 422
    assert error_of(wrong) == {"field": "current_password", "problem": "is not your current password"}
    short = client.post(
        "/api/me/password", headers=old, json={"current_password": PASSWORD, "new_password": "x"}
    )
    assert error_of(short)["field"] == "new_password"
    done = client.post(
        "/api/me/password", headers=old, json={"current_password": PASSWORD, "new_password": NEW}
    )
    assert done.status_code == 200
    fresh = {"Authorization": f"Bearer {done.json()['access_token']}"}
    assert client.get("/api/me", headers=fresh).json()["username"] == "bob"
    assert client.get("/api/me", headers=old).status_code == 401
    assert client.post("/api/token", data={"username": "bob", "password": NEW}).status_code == 200
    missing = client.post("/api/me/password", headers=fresh, json={"new_password": NEW})
    assert error_of(missing) == {"field": "current_password", "problem": "is required"}


def test_admins_manage_accounts_through_the_api(web: Web) -> None:
    client, admin = web.client(None), web.headers("admin")
    listed = client.get("/api/users", headers=admin)
    assert listed.status_code == 200
    ann = next(u for u in listed.json() if u["username"] == "ann")
    assert ann == {
        "username": "ann",
        "role": "patient",
        "clinic": None,
        "patient": "P-OWN",
        "disabled": False,
    }
    assert all("password" not in json_key for u in listed.json() for json_key in u)
    body = {"username": "pat-spare", "password": NEW, "role": "patient", "patient": "P-SPARE"}
    added = client.post("/api/users", headers=admin, json=body)
    assert added.status_code == 201
    assert added.json() == {
        "username": "pat-spare",
        "role": "patient",
        "clinic": None,
        "patient": "P-SPARE",
        "disabled": False,
    }
    again = client.post("/api/users", headers=admin, json=body)
    assert (again.status_code, error_of(again)["field"]) == (422, "username")
    role = client.post("/api/users", headers=admin, json={**body, "username": "x1", "role": "owner"})
    assert error_of(role)["field"] == "role"
    old = web.headers("nurse-south")
    reset = client.post("/api/users/nurse-south/password", headers=admin, json={"password": NEW})
    assert reset.status_code == 200
    assert reset.json()["username"] == "nurse-south"
    assert client.get("/api/me", headers=old).status_code == 401
    nobody = client.post("/api/users/nobody/password", headers=admin, json={"password": NEW})
    assert (nobody.status_code, error_of(nobody)["field"]) == (404, "username")
    short = client.post("/api/users/ann/password", headers=admin, json={"password": "short"})
    assert (short.status_code, error_of(short)["field"]) == (422, "password")
    for who in ("nurse-north", "ann"):
        for method, path, json_body in [
            ("GET", "/api/users", None),
            ("POST", "/api/users", {**body, "username": "y1"}),
            ("POST", "/api/users/ann/password", {"password": NEW}),
        ]:
            refused = client.request(method, path, headers=web.headers(who), json=json_body)
            assert refused.status_code == 403
            assert error_of(refused)["problem"] == "only an admin manages accounts"
