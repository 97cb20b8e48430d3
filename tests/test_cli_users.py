"""`omnidesk user|role|admin` from a shell: what an administrator types and reads."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from omnidesk.auth import session as auth_session
from security_helpers import suffix, url
from cli_helpers import run


def test_add_a_user_who_then_signs_in_with_the_printed_password(env, capsys):
    code, out, _ = run(capsys, "user", "add", "fiona", "--name", "Fiona Finance", "--role", "Finance", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["user"]["roles"] == ["Finance"] and data["user"]["must_change_password"]
    login = auth_session.sign_in(url(env), "fiona", data["temporary_password"], role_suffix=suffix(env))
    assert login.state.next_step == "change_password"
    login.abandon()

    code, out, _ = run(capsys, "user", "list")
    assert code == 0 and "fiona" in out and "Finance" in out


def test_reset_password_lock_unlock_delete_restore(env, capsys):
    run(capsys, "user", "add", "sam", "--role", "Support")
    code, out, _ = run(capsys, "user", "reset-password", "sam", "--json")
    new_password = json.loads(out)["temporary_password"]
    assert code == 0 and len(new_password) == 12
    auth_session.sign_in(url(env), "sam", new_password, role_suffix=suffix(env)).abandon()

    assert run(capsys, "user", "lock", "sam")[0] == 0
    with pytest.raises(auth_session.AccountLocked, match="administrator unlocks"):
        auth_session.sign_in(url(env), "sam", new_password, role_suffix=suffix(env))
    assert run(capsys, "user", "unlock", "sam")[0] == 0
    auth_session.sign_in(url(env), "sam", new_password, role_suffix=suffix(env)).abandon()

    assert run(capsys, "user", "delete", "sam")[0] == 0
    with pytest.raises(auth_session.WrongCredentials):
        auth_session.sign_in(url(env), "sam", new_password, role_suffix=suffix(env))
    code, out, _ = run(capsys, "user", "list")
    assert "sam" not in out
    assert run(capsys, "user", "restore", "sam")[0] == 0
    auth_session.sign_in(url(env), "sam", new_password, role_suffix=suffix(env)).abandon()
    with env.read() as s:
        actions = s.scalars(text("SELECT action FROM activity_log WHERE entity_type = 'staff_user' ORDER BY id")).all()
    assert {"user_created", "password_reset", "locked", "unlocked", "user_deleted", "user_restored"} <= set(actions)


def test_bad_input_is_refused_with_a_message_and_exit_1(env, capsys):
    code, _, err = run(capsys, "user", "add", "Robert'); DROP TABLE customer;--", "--role", "Support")
    assert code == 1 and "username" in err.lower()
    code, _, err = run(capsys, "user", "add", "bob", "--role", "Wizard")
    assert code == 1 and "no role 'Wizard'" in err
    code, _, err = run(capsys, "user", "reset-password", "nobody")
    assert code == 1 and "no staff user 'nobody'" in err
    code, _, err = run(capsys, "role", "grant", "Support", "fly_to_the_moon")
    assert code == 1 and "fly_to_the_moon" in err
    with env.read() as s:
        assert s.scalar(text("SELECT count(*) FROM staff_user")) == 1


def test_roles_list_show_grant_revoke(env, capsys):
    code, out, _ = run(capsys, "role", "list", "--json")
    names = {r["name"] for r in json.loads(out)}
    assert {"Admin", "Support", "Finance", "Provisioning Specialist", "Broadcast Creator", "Broadcast Approver",
            "Read-only Auditor", "Store Clerk"} <= names
    code, out, _ = run(capsys, "role", "grant", "Night Desk", "view_customer", "view_customer_invoice", "--json")
    assert code == 0 and json.loads(out)["permissions"] == ["view_customer", "view_customer_invoice"]
    code, out, _ = run(capsys, "role", "revoke", "Night Desk", "view_customer_invoice", "--json")
    assert json.loads(out)["permissions"] == ["view_customer"]
    code, out, _ = run(capsys, "role", "show", "Night Desk")
    assert "view_customer" in out and "view_customer_invoice" not in out


def test_admin_init_prints_a_password_once(env, capsys):
    code, out, _ = run(capsys, "admin", "init", "--json")
    assert code == 0
    password = json.loads(out)["temporary_password"]
    login = auth_session.sign_in(url(env), "admin", password, role_suffix=suffix(env))
    assert login.state.next_step == "change_password" and login.state.two_factor_required
    login.abandon()
    code, _, err = run(capsys, "admin", "init")
    assert code == 1 and "already has a login" in err
