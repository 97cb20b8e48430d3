"""Saving a user (details and roles) and a role (grants and revokes) is all or nothing: when the database
refuses the second part, the first is not kept either."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from omnidesk.auth import users
from omnidesk.errors import NotFound, PermissionDenied, ValidationError
from security_helpers import make_user, user_manager as manager


def test_a_refused_role_change_keeps_the_old_name_and_email_too(db, admin):
    pat = manager(db, admin)
    make_user(db, admin, "vic", ["Support"])
    users.update_user(db, admin, "vic", full_name="Vic Old", email="vic@old.example")

    # Pat may edit Vic's details, but only an administrator hands out Admin: the whole save is refused.
    with pytest.raises(PermissionDenied, match="Only an administrator may give or take the role Admin"):
        users.save_user(pat.db, pat.actor, "vic", full_name="Vic New", email="vic@new.example",
                        roles=["Support", "Admin"])
    vic = users.get_user(db, admin, "vic")
    assert (vic.full_name, vic.email, vic.roles) == ("Vic Old", "vic@old.example", ("Support",))
    with db.read() as s:
        assert s.scalar(text("SELECT count(*) FROM activity_log WHERE action = 'user_updated' "
                             "AND summary = 'Edited vic' AND actor_name = 'pat'")) == 0

    # An unknown role is refused the same way (found only after the details were written).
    with pytest.raises(NotFound, match="no role 'Wizards'"):
        users.save_user(pat.db, pat.actor, "vic", full_name="Vic New", email="", roles=["Wizards"])
    assert users.get_user(db, admin, "vic").full_name == "Vic Old"

    # What Pat may do goes through whole: details and roles together.
    saved = users.save_user(pat.db, pat.actor, "vic", full_name="Vic New", email="", roles=["Finance"])
    assert (saved.full_name, saved.email, saved.roles) == ("Vic New", None, ("Finance",))
    pat.sign_out()


def test_a_refused_revoke_keeps_the_role_without_the_grant(db, admin):
    pat = manager(db, admin)
    users.create_role(db, admin, "Desk", permissions=["view_customer", "manage_users"])

    # Pat may give view_report, but only an administrator takes manage_users away: nothing changes.
    with pytest.raises(PermissionDenied, match="Only an administrator may add or remove"):
        users.change_permissions(pat.db, pat.actor, "Desk", grant=["view_report"], revoke=["manage_users"])
    assert users.get_role(db, admin, "Desk").permissions == ("manage_users", "view_customer")

    with pytest.raises(NotFound, match="no permission 'fly'"):
        users.change_permissions(db, admin, "Desk", grant=["view_report"], revoke=["fly"])
    assert users.get_role(db, admin, "Desk").permissions == ("manage_users", "view_customer")
    with pytest.raises(ValidationError, match="Cannot both give and take view_report"):
        users.change_permissions(db, admin, "Desk", grant=["view_report"], revoke=["view_report"])

    role = users.change_permissions(pat.db, pat.actor, "Desk", grant=["view_report"], revoke=["view_customer"])
    assert role.permissions == ("manage_users", "view_report")
    pat.sign_out()
