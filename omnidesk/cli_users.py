"""`omnidesk user|role|admin`: staff users and roles for administrators, from a shell.

These commands connect as the database owner (the workstation's configured URL) and act as the
built-in administrator; the same SQL functions refuse a staff login that lacks manage_users.
Temporary passwords are printed once and never stored in clear.
"""

from __future__ import annotations

import argparse
import dataclasses


def add_commands(commands: argparse._SubParsersAction) -> None:
    user = commands.add_parser("user", help="staff users: add, list, reset password or 2FA, lock, delete").add_subparsers(
        dest="user_command", metavar="action", required=True)
    ls = user.add_parser("list", help="list staff users with their roles and sign-in state")
    ls.add_argument("--search", default="", help="part of a username, name or e-mail")
    ls.add_argument("--deleted", action="store_true", help="include deleted users")
    ls.add_argument("--json", action="store_true", help="print JSON for scripts")
    ls.set_defaults(run=user_list)
    add = user.add_parser("add", help="create a staff user; prints a temporary password once")
    add.add_argument("username")
    add.add_argument("--name", default="", help="full name")
    add.add_argument("--email", default="")
    add.add_argument("--role", action="append", default=[], help="a role to give (repeat for several)")
    add.add_argument("--json", action="store_true", help="print JSON for scripts")
    add.set_defaults(run=user_add)
    for name, helptext, run in (
        ("reset-password", "give a new temporary password (printed once); their sessions end", user_reset_password),
        ("reset-2fa", "turn off their second factor so they set it up again; their sessions end", user_reset_2fa),
        ("lock", "lock the account until unlocked; their sessions end", user_lock),
        ("unlock", "unlock the account (also after 5 wrong codes)", user_unlock),
        ("delete", "delete (soft: the login is disabled, the record kept)", user_delete),
        ("restore", "restore a deleted user", user_restore),
    ):
        p = user.add_parser(name, help=helptext)
        p.add_argument("username")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(run=run)

    role = commands.add_parser("role", help="roles and their permissions: list, show, grant, revoke").add_subparsers(
        dest="role_command", metavar="action", required=True)
    rl = role.add_parser("list", help="list roles with their number of permissions and users")
    rl.add_argument("--json", action="store_true", help="print JSON for scripts")
    rl.set_defaults(run=role_list)
    show = role.add_parser("show", help="a role's permissions")
    show.add_argument("role")
    show.add_argument("--json", action="store_true", help="print JSON for scripts")
    show.set_defaults(run=role_show)
    for name, helptext, run in (("grant", "add permissions to a role (created if new)", role_grant),
                                ("revoke", "remove permissions from a role", role_revoke)):
        p = role.add_parser(name, help=helptext)
        p.add_argument("role")
        p.add_argument("permission", nargs="+", help="permission names from the catalog (omnidesk role show Admin)")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(run=run)

    admin = commands.add_parser("admin", help="the built-in administrator").add_subparsers(
        dest="admin_command", metavar="action", required=True)
    init = admin.add_parser("init", help="give the built-in administrator a login; prints the password once")
    init.add_argument("--json", action="store_true", help="print JSON for scripts")
    init.set_defaults(run=admin_init)


def _user_json(view) -> dict:
    data = dataclasses.asdict(view)
    data["status"] = view.status
    return data


def _print_user(view) -> None:
    from omnidesk import cli

    cli._table(("Field", "Value"), [
        ("Username", view.username), ("Name", view.full_name), ("E-mail", view.email or ""),
        ("Roles", ", ".join(view.roles) or "(none)"), ("Status", view.status),
        ("Two-factor", "on" if view.two_factor else "off"),
        ("Must change password", "yes" if view.must_change_password else "no"),
        ("Last signed in", cli._when(view.last_signed_in) if view.last_signed_in else "never"),
    ])


def user_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, actor):
        views = users.list_users(db, actor, search=args.search, include_deleted=args.deleted)
    if args.json:
        cli._print_json([_user_json(v) for v in views])
        return 0
    cli._table(("Username", "Name", "Roles", "Status", "2FA", "Last signed in"),
               [(v.username, v.full_name, ", ".join(v.roles), v.status, "on" if v.two_factor else "off",
                 cli._when(v.last_signed_in) if v.last_signed_in else "never") for v in views])
    return 0


def user_add(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, actor):
        view, password = users.create_user(db, actor, username=args.username, full_name=args.name,
                                           email=args.email, roles=args.role)
    if args.json:
        cli._print_json({"user": _user_json(view), "temporary_password": password})
        return 0
    _print_user(view)
    print(f"\nTemporary password (shown once; {view.username} must change it at first sign-in): {password}")
    return 0


def _user_action(args, settings, action, done: str, *, shows_password: bool = False) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, actor):
        password = action(db, actor, args.username)
        view = users.get_user(db, actor, args.username)
    if args.json:
        data = {"user": _user_json(view)}
        if shows_password:
            data["temporary_password"] = password
        cli._print_json(data)
        return 0
    print(f"{done} {view.username}.")
    if shows_password:
        print(f"Temporary password (shown once; it must be changed at next sign-in): {password}")
    return 0


def user_reset_password(args, settings) -> int:
    from omnidesk.auth import users

    return _user_action(args, settings, users.reset_password, "Reset the password of", shows_password=True)


def user_reset_2fa(args, settings) -> int:
    from omnidesk.auth import users

    return _user_action(args, settings, users.reset_two_factor, "Reset two-factor authentication of")


def user_lock(args, settings) -> int:
    from omnidesk.auth import users

    return _user_action(args, settings, lambda db, a, u: users.set_locked(db, a, u, True), "Locked")


def user_unlock(args, settings) -> int:
    from omnidesk.auth import users

    return _user_action(args, settings, lambda db, a, u: users.set_locked(db, a, u, False), "Unlocked")


def user_delete(args, settings) -> int:
    from omnidesk.auth import users

    return _user_action(args, settings, lambda db, a, u: users.set_deleted(db, a, u, True), "Deleted")


def user_restore(args, settings) -> int:
    from omnidesk.auth import users

    return _user_action(args, settings, lambda db, a, u: users.set_deleted(db, a, u, False), "Restored")


def _print_role(role) -> None:
    print(f"{role.name}{' (built-in)' if role.builtin else ''}: {role.description}")
    print(f"{role.users} user(s); {len(role.permissions)} permission(s):")
    for name in role.permissions:
        print(f"  {name}")


def role_list(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, actor):
        roles = users.list_roles(db, actor)
    if args.json:
        cli._print_json([dataclasses.asdict(r) for r in roles])
        return 0
    cli._table(("Role", "Permissions", "Users", "Description"),
               [(r.name, len(r.permissions), r.users, r.description) for r in roles], right=(1, 2))
    return 0


def role_show(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, actor):
        role = users.get_role(db, actor, args.role)
    if args.json:
        cli._print_json(dataclasses.asdict(role))
    else:
        _print_role(role)
    return 0


def role_grant(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users
    from omnidesk.errors import NotFound

    with cli._opened(settings) as (db, actor):
        try:
            users.get_role(db, actor, args.role)
            role = users.grant_permissions(db, actor, args.role, args.permission)
        except NotFound as exc:
            if "permission" in str(exc):
                raise
            role = users.create_role(db, actor, args.role, permissions=args.permission)
    if args.json:
        cli._print_json(dataclasses.asdict(role))
    else:
        _print_role(role)
    return 0


def role_revoke(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, actor):
        role = users.revoke_permissions(db, actor, args.role, args.permission)
    if args.json:
        cli._print_json(dataclasses.asdict(role))
    else:
        _print_role(role)
    return 0


def admin_init(args, settings) -> int:
    from omnidesk import cli
    from omnidesk.auth import users

    with cli._opened(settings) as (db, _actor):
        login, password = users.init_admin(db)
    if args.json:
        cli._print_json({"username": "admin", "login_role": login, "temporary_password": password})
        return 0
    print("The administrator can now sign in:")
    print("  username: admin")
    print(f"  password: {password}   (temporary, shown once: choose a new one at first sign-in,")
    print("            then set up two-factor authentication with an authenticator app)")
    return 0
