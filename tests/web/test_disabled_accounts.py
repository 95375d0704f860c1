"""Disabling an account (someone who left): it cannot sign in (the answer a wrong password gets), its
sessions and tokens stop working at once, it is kept for the audit log; an admin cannot disable themself
nor the last active admin. Services, `b12plan user disable|enable`, the accounts page and the API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webkit import CSRF, PASSWORD, Seed, Web, copy_database, error_of

from b12plan.errors import ForbiddenError, UnknownAccountError, UserError
from b12plan.services import accounts
from b12plan.store import Store

Cli = Callable[..., Any]


@pytest.fixture
def store(seed: Seed, tmp_path: Path) -> Iterator[Store]:
    target = tmp_path / "disabled.sqlite3"
    copy_database(seed.path, target)
    with Store.open(str(target), actor="admin") as opened:
        yield opened


def test_a_disabled_account_cannot_sign_in_until_enabled(store: Store, seed: Seed) -> None:
    admin, nurse = seed.actors["admin"], seed.actors["nurse-north"]
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) == nurse
    disabled = accounts.disable_user(store, admin, "nurse-north")
    assert disabled.disabled
    assert accounts.authenticate(store, "nurse-north", PASSWORD) is None  # as a wrong password
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) is None  # sessions and tokens end
    assert [u.disabled for u in accounts.list_users(store) if u.username == "nurse-north"] == [True]
    enabled = accounts.enable_user(store, admin, "nurse-north")
    assert not enabled.disabled
    assert accounts.authenticate(store, "nurse-north", PASSWORD) == enabled
    assert accounts.signed_in(store, nurse.user_id, nurse.stamp) is None  # enabling brings none back
    assert accounts.signed_in(store, nurse.user_id, enabled.stamp) == enabled  # a new sign-in works
    with store.transaction(write=False) as records:
        audit = [a for a in records.audit_entries() if a.entity == "user" and a.action == "update"]
    assert [(a.entity_id, a.fields, a.actor) for a in audit] == [
        (nurse.user_id, "disabled_at,sessions_from", "admin"),
        (nurse.user_id, "disabled_at", "admin"),
    ]


def test_who_may_disable_whom(store: Store, seed: Seed) -> None:
    admin = seed.actors["admin"]
    with pytest.raises(UserError, match="username: is your own account"):
        accounts.disable_user(store, admin, "admin")
    for who in ("nurse-north", "ann"):
        with pytest.raises(ForbiddenError, match="only an admin manages accounts"):
            accounts.disable_user(store, seed.actors[who], "bob")
        with pytest.raises(ForbiddenError):
            accounts.enable_user(store, seed.actors[who], "bob")
    with pytest.raises(UnknownAccountError):
        accounts.disable_user(store, admin, "nobody")


def test_the_last_active_admin_is_never_disabled(store: Store, seed: Seed) -> None:
    with pytest.raises(UserError, match="username: is the last active admin"):
        accounts.set_disabled(store, "admin", True)
    second = accounts.add_user(store, "admin2", "another long password", "admin")
    accounts.disable_user(store, second, "admin")  # another admin is still active
    with pytest.raises(UserError, match="username: is the last active admin"):
        accounts.set_disabled(store, "admin2", True)
    assert accounts.authenticate(store, "admin2", "another long password") is not None


def test_user_disable_and_enable_on_the_command_line(cli: Cli, seed: Seed, tmp_path: Path) -> None:
    db = tmp_path / "users.sqlite3"
    copy_database(seed.path, db)
    done = cli("--db", db, "user", "disable", "nurse-south")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("nurse-south is disabled")
    listed = cli("--db", db, "user", "list").stdout
    assert any("nurse-south" in line and "disabled" in line for line in listed.splitlines())
    with Store.open(str(db)) as store:
        assert accounts.authenticate(store, "nurse-south", PASSWORD) is None
    assert cli("--db", db, "user", "enable", "nurse-south").stdout == "nurse-south is enabled\n"
    last = cli("--db", db, "user", "disable", "admin")
    assert last.exit_code == 2
    assert "username: is the last active admin" in last.stderr
    assert "Traceback" not in last.stderr
    nobody = cli("--db", db, "user", "enable", "nobody")
    assert nobody.exit_code == 2
    assert "username: there is no account 'nobody'" in nobody.stderr


def test_disable_and_enable_on_the_accounts_page(web: Web) -> None:
    admin = web.client("admin")
    page = admin.get("/accounts").text
    assert 'id="disable-nurse-north"' in page
    assert 'id="disable-admin"' not in page  # not their own
    old_page = web.client("nurse-north")
    assert old_page.get("/dashboard").status_code == 200
    done = admin.post("/accounts/nurse-north/disable", data={"csrf_token": CSRF})
    assert done.status_code == 303
    assert done.headers["location"] == "/accounts?saved=disabled&for=nurse-north"
    after = admin.get(done.headers["location"]).text
    assert '<tr data-username="nurse-north" data-status="disabled">' in after
    assert 'id="enable-nurse-north"' in after
    gone = old_page.get("/dashboard")
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/login")
    login = web.client(None).post(
        "/login", data={"csrf_token": CSRF, "username": "nurse-north", "password": PASSWORD}
    )
    assert login.status_code == 401
    assert "The username or password is wrong." in login.text
    own = admin.post("/accounts/admin/disable", data={"csrf_token": CSRF})
    assert own.status_code == 422
    assert 'id="status-admin-error"' in own.text
    assert admin.post("/accounts/nurse-north/enable", data={"csrf_token": CSRF}).status_code == 303
    assert old_page.get("/dashboard").status_code == 303  # the old session stays void: sign in again
    again = web.client(None).post(
        "/login", data={"csrf_token": CSRF, "username": "nurse-north", "password": PASSWORD}
    )
    assert again.status_code == 303
    assert admin.post("/accounts/nurse-north/disable", data={}).status_code == 403  # no CSRF token


def test_disable_and_enable_through_the_api(web: Web) -> None:
    client, admin = web.client(None), web.headers("admin")
    old = web.headers("ann")
    done = client.post("/api/users/ann/disable", headers=admin)
    assert done.status_code == 200
    assert done.json() == {
        "username": "ann",
        "role": "patient",
        "clinic": None,
        "patient": "P-OWN",
        "disabled": True,
    }
    assert client.get("/api/me", headers=old).status_code == 401
    token = client.post("/api/token", data={"username": "ann", "password": PASSWORD})
    assert (token.status_code, error_of(token)["problem"]) == (401, "the username or password is wrong")
    assert client.post("/api/users/ann/enable", headers=admin).json()["disabled"] is False
    assert client.get("/api/me", headers=old).status_code == 401  # old tokens stay void
    fresh = client.post("/api/token", data={"username": "ann", "password": PASSWORD}).json()["access_token"]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    own = client.post("/api/users/admin/disable", headers=admin)
    assert (own.status_code, error_of(own)["field"]) == (422, "username")
    nobody = client.post("/api/users/nobody/disable", headers=admin)
    assert nobody.status_code == 404
    refused = client.post("/api/users/bob/disable", headers=web.headers("nurse-north"))
    assert refused.status_code == 403
