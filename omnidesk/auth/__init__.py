"""Who is acting: the staff user behind every service call and the permissions they hold."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from omnidesk.errors import PermissionDenied


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, permission: str) -> bool:
        return "admin" in self.permissions or permission in self.permissions

    def require(self, permission: str, doing: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(f"{self.username} may not {doing} (needs the {permission} permission).")


def load_actor(db, username: str) -> Actor:
    """The named staff user with the union of their roles' permissions."""
    from omnidesk.db.models import Permission, Role, RolePermission, StaffUser, UserRole
    from omnidesk.errors import NotFound

    with db.read() as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == username, StaffUser.deleted_at.is_(None)))
        if user is None:
            raise NotFound(f"There is no staff user {username!r}.")
        names = s.scalars(
            select(Permission.name)
            .join(RolePermission, RolePermission.permission_id == Permission.id)
            .join(Role, Role.id == RolePermission.role_id)
            .join(UserRole, UserRole.role_id == Role.id)
            .where(UserRole.user_id == user.id)
        ).all()
        return Actor(user_id=user.id, username=user.username, permissions=frozenset(names))


def builtin_admin(db) -> Actor:
    """The built-in administrator the CLI and the demo run as until staff login exists."""
    return load_actor(db, "admin")
