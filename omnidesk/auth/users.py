"""Staff users and roles: the administrator's use cases (GUI workspace, `omnidesk user|role`, tests).

Each function checks the actor's permission for a clear message, but the database decides: the
SECURITY DEFINER functions and table grants of migration 0004 refuse the same things to anyone
who connects with `psql`. Temporary passwords are returned once and never stored in clear.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from omnidesk import activity
from omnidesk.auth import Actor
from omnidesk.auth.passwords import scram_verifier, temporary_password
from omnidesk.auth.session import call, database_error
from omnidesk.db.models import Permission, Role, RolePermission, StaffUser, UserRole
from omnidesk.errors import NotFound, ValidationError


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    full_name: str
    email: str | None
    roles: tuple[str, ...]
    active: bool
    deleted_at: dt.datetime | None
    has_login: bool
    two_factor: bool
    locked_until: dt.datetime | None
    must_change_password: bool
    last_signed_in: dt.datetime | None

    @property
    def status(self) -> str:
        if self.deleted_at is not None:
            return "deleted"
        if self.locked_until is not None:
            return "locked"
        if not self.has_login:
            return "no login"
        return "active"


@dataclass(frozen=True)
class RoleView:
    id: int
    name: str
    description: str
    builtin: bool
    permissions: tuple[str, ...]
    users: int


def _refuse_unless(actor: Actor, doing: str) -> None:
    actor.require("manage_users", doing)


def list_users(db, actor: Actor, *, search: str = "", include_deleted: bool = False) -> list[UserView]:
    _refuse_unless(actor, "see staff users")
    security = {row[0]: row for row in call(db, "SELECT * FROM omnidesk_user_security()", scalar=False)}
    with db.read() as s:
        query = select(StaffUser).order_by(StaffUser.username)
        if not include_deleted:
            query = query.where(StaffUser.deleted_at.is_(None))
        if search.strip():
            like = f"%{search.strip().lower()}%"
            query = query.where(func.lower(StaffUser.username).like(like) | func.lower(StaffUser.full_name).like(like)
                                | func.lower(func.coalesce(StaffUser.email, "")).like(like))
        users = [(u.id, u.username, u.full_name, u.email, u.is_active, u.deleted_at, u.login_role is not None)
                 for u in s.scalars(query)]
        roles: dict[int, list[str]] = {}
        for uid, name in s.execute(
            select(UserRole.user_id, Role.name).join(Role, Role.id == UserRole.role_id).order_by(Role.name)
        ):
            roles.setdefault(uid, []).append(name)
    views = []
    for uid, username, full_name, email, active, deleted_at, has_login in users:
        _, two_factor, locked_until, must_change, last_signed_in, _failed = security.get(uid, (uid, False, None, False, None, 0))
        views.append(UserView(uid, username, full_name, email, tuple(roles.get(uid, ())), active, deleted_at, has_login,
                              bool(two_factor), locked_until, bool(must_change), last_signed_in))
    return views


def get_user(db, actor: Actor, username: str) -> UserView:
    for view in list_users(db, actor, include_deleted=True):
        if view.username == username.lower():
            return view
    raise NotFound(f"There is no staff user {username!r}.")


def create_user(db, actor: Actor, *, username: str, full_name: str = "", email: str = "",
                roles: list[str] | tuple[str, ...] = ()) -> tuple[UserView, str]:
    """A new staff user with a login role and a temporary password (returned once; changed at first sign-in)."""
    _refuse_unless(actor, "create staff users")
    username = (username or "").strip().lower()
    if email and "@" not in email:
        raise ValidationError({"email": f"{email!r} is not an e-mail address."})
    password = temporary_password()
    call(db, "SELECT omnidesk_create_user(:u, :n, :e, :v, :r)",
         {"u": username, "n": full_name.strip(), "e": email.strip(), "v": scram_verifier(password), "r": list(roles)})
    return get_user(db, actor, username), password


def update_user(db, actor: Actor, username: str, *, full_name: str | None = None, email: str | None = None) -> UserView:
    _refuse_unless(actor, "edit staff users")
    call(db, "SELECT omnidesk_update_user(:u, :n, :e)", {"u": username, "n": full_name, "e": email})
    return get_user(db, actor, username)


def save_user(db, actor: Actor, username: str, *, full_name: str | None = None, email: str | None = None,
              roles: list[str] | tuple[str, ...]) -> UserView:
    """The user dialog's Save: name, e-mail and exactly `roles`, in one transaction.

    All or nothing: when the database refuses a role change (only an administrator gives Admin, nobody
    changes their own roles), the new name and e-mail are not kept either.
    """
    _refuse_unless(actor, "edit staff users")
    if email and "@" not in email:
        raise ValidationError({"email": f"{email!r} is not an e-mail address."})
    with _guarded(db) as s:
        s.execute(text("SELECT omnidesk_update_user(:u, :n, :e)"), {"u": username, "n": full_name, "e": email})
        _set_roles(s, username, roles)
    return get_user(db, actor, username)


def reset_password(db, actor: Actor, username: str) -> str:
    """A new 12-character temporary password for `username` (shown once); their sessions end."""
    _refuse_unless(actor, "reset passwords")
    password = temporary_password()
    call(db, "SELECT omnidesk_reset_password(:u, :v)", {"u": username, "v": scram_verifier(password)})
    return password


def reset_two_factor(db, actor: Actor, username: str) -> None:
    _refuse_unless(actor, "reset two-factor authentication")
    call(db, "SELECT omnidesk_reset_two_factor(:u)", {"u": username})


def set_locked(db, actor: Actor, username: str, locked: bool) -> None:
    _refuse_unless(actor, "lock or unlock staff users")
    call(db, "SELECT omnidesk_set_user_locked(:u, :l)", {"u": username, "l": locked})


def set_deleted(db, actor: Actor, username: str, deleted: bool) -> None:
    _refuse_unless(actor, "delete or restore staff users")
    call(db, "SELECT omnidesk_set_user_deleted(:u, :d)", {"u": username, "d": deleted})


def set_user_roles(db, actor: Actor, username: str, roles: list[str] | tuple[str, ...]) -> UserView:
    """Make `username` hold exactly `roles` (names, case-insensitive)."""
    _refuse_unless(actor, "change the roles of staff users")
    with _guarded(db) as s:
        _set_roles(s, username, roles)
    return get_user(db, actor, username)


def _set_roles(s, username: str, roles) -> None:
    user = s.scalar(select(StaffUser).where(func.lower(StaffUser.username) == username.lower()))
    if user is None:
        raise NotFound(f"There is no staff user {username!r}.")
    wanted = _role_ids(s, roles)
    current = set(s.scalars(select(UserRole.role_id).where(UserRole.user_id == user.id)).all())
    if current - wanted:
        s.execute(delete(UserRole).where(UserRole.user_id == user.id, UserRole.role_id.in_(current - wanted)))
    for rid in sorted(wanted - current):
        s.execute(insert(UserRole).values(user_id=user.id, role_id=rid))


def _role_ids(session, names) -> set[int]:
    return {_role(session, name).id for name in names}


# --- roles ---


def list_roles(db, actor: Actor) -> list[RoleView]:
    with db.read() as s:
        perms: dict[int, list[str]] = {}
        for rid, name in s.execute(
            select(RolePermission.role_id, Permission.name).join(Permission, Permission.id == RolePermission.permission_id)
            .order_by(Permission.name)
        ):
            perms.setdefault(rid, []).append(name)
        counts = dict(s.execute(select(UserRole.role_id, func.count()).group_by(UserRole.role_id)).all())
        return [
            RoleView(r.id, r.name, r.description, r.is_builtin, tuple(perms.get(r.id, ())), counts.get(r.id, 0))
            for r in s.scalars(select(Role).order_by(Role.name))
        ]


def get_role(db, actor: Actor, name: str) -> RoleView:
    for role in list_roles(db, actor):
        if role.name.lower() == name.strip().lower():
            return role
    raise NotFound(f"There is no role {name!r}.")


def permission_catalog(db) -> list[tuple[str, str, str]]:
    """(name, description, scope) of every permission, for the role editor."""
    with db.read() as s:
        return [tuple(r) for r in s.execute(select(Permission.name, Permission.description, Permission.scope).order_by(Permission.name))]


def create_role(db, actor: Actor, name: str, description: str = "", permissions: list[str] | tuple[str, ...] = ()) -> RoleView:
    _refuse_unless(actor, "create roles")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A role needs a name."})
    with _guarded(db) as s:
        if s.scalar(select(Role.id).where(func.lower(Role.name) == name.lower())) is not None:
            raise ValidationError({"name": f"There is already a role called {name!r}."})
        role = Role(name=name, description=description.strip(), is_builtin=False)
        s.add(role)
        s.flush()
        for pid in _permission_ids(s, permissions):
            s.execute(insert(RolePermission).values(role_id=role.id, permission_id=pid))
        _audit(s, actor, role.id, "role_created", f"Created role {name}")
    return get_role(db, actor, name)


def grant_permissions(db, actor: Actor, role: str, permissions: list[str] | tuple[str, ...]) -> RoleView:
    return change_permissions(db, actor, role, grant=permissions)


def revoke_permissions(db, actor: Actor, role: str, permissions: list[str] | tuple[str, ...]) -> RoleView:
    return change_permissions(db, actor, role, revoke=permissions)


def change_permissions(db, actor: Actor, role: str, *, grant: list[str] | tuple[str, ...] = (),
                       revoke: list[str] | tuple[str, ...] = ()) -> RoleView:
    """Give `role` the permissions in `grant` and take those in `revoke`, in one transaction (the role
    editor's Save): when the database refuses either part, the role keeps exactly what it had."""
    _refuse_unless(actor, "change roles")
    both = set(n.strip() for n in grant) & set(n.strip() for n in revoke)
    if both:
        raise ValidationError({"permissions": f"Cannot both give and take {', '.join(sorted(both))}."})
    with _guarded(db) as s:
        r = _role(s, role)
        if grant:
            _grant(s, actor, r, grant)
        if revoke:
            _revoke(s, actor, r, revoke)
    return get_role(db, actor, role)


def _grant(s, actor: Actor, r: Role, permissions) -> None:
    have = set(s.scalars(select(RolePermission.permission_id).where(RolePermission.role_id == r.id)).all())
    new = sorted(_permission_ids(s, permissions) - have)
    if new:
        s.execute(insert(RolePermission), [{"role_id": r.id, "permission_id": pid} for pid in new])
        _audit(s, actor, r.id, "role_permissions_granted", f"Gave role {r.name}: {', '.join(sorted(permissions))}")


def _revoke(s, actor: Actor, r: Role, permissions) -> None:
    ids = _permission_ids(s, permissions)
    s.execute(delete(RolePermission).where(RolePermission.role_id == r.id, RolePermission.permission_id.in_(ids)))
    _audit(s, actor, r.id, "role_permissions_revoked", f"Took from role {r.name}: {', '.join(sorted(permissions))}")


def delete_role(db, actor: Actor, role: str) -> None:
    _refuse_unless(actor, "delete roles")
    with _guarded(db) as s:
        r = _role(s, role)
        if r.is_builtin:
            raise ValidationError({"name": f"The built-in role {r.name} cannot be deleted."})
        s.execute(delete(Role).where(Role.id == r.id))
        _audit(s, actor, r.id, "role_deleted", f"Deleted role {r.name}")


def _role(session, name: str) -> Role:
    role = session.scalar(select(Role).where(func.lower(Role.name) == name.strip().lower()))
    if role is None:
        raise NotFound(f"There is no role {name!r}.")
    return role


def _permission_ids(session, names) -> set[int]:
    names = [n.strip() for n in names]
    found = dict(session.execute(select(Permission.name, Permission.id).where(Permission.name.in_(names))).all())
    unknown = [n for n in names if n not in found]
    if unknown:
        raise NotFound(f"There is no permission {', '.join(repr(n) for n in unknown)} in the catalog.")
    return set(found.values())


def _audit(session, actor: Actor, role_id: int, action: str, summary: str) -> None:
    # For a staff login the database stamps the actor itself (activity_log_stamp_actor).
    activity.record(session, actor, action=action, summary=summary, entity_type="role", entity_id=role_id)


@contextlib.contextmanager
def _guarded(db):
    """db.transaction() whose database refusals (grants, triggers) become ServiceErrors."""
    try:
        with db.transaction() as session:
            yield session
    except DBAPIError as exc:
        mapped = database_error(exc)
        if mapped is None:
            raise
        raise mapped from exc


def init_admin(db) -> tuple[str, str]:
    """Give the built-in administrator a login with a temporary password: (login role, password)."""
    password = temporary_password()
    login = call(db, "SELECT omnidesk_init_builtin_admin(:v)", {"v": scram_verifier(password)})
    return login, password


def builtin_admin_has_login(db) -> bool:
    """Whether the built-in administrator was given a login yet (read as the database owner)."""
    with db.read() as s:
        login = s.scalar(select(StaffUser.login_role).where(StaffUser.is_builtin, StaffUser.username == "admin"))
    return login is not None
