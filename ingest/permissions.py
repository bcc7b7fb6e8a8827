"""Who may do what. Roles are Django groups created by migration: "moderator", "host"."""

MODERATOR_GROUP = "moderator"
HOST_GROUP = "host"


def has_role(user, *groups: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name__in=groups).exists()


def is_moderator(user) -> bool:
    return has_role(user, MODERATOR_GROUP)


def require_staff(user, refusal: str) -> None:
    """Raise PermissionDenied(refusal) unless ``user`` is staff (platform accounts, streams)."""
    from django.core.exceptions import PermissionDenied

    if not (user.is_authenticated and user.is_staff):
        raise PermissionDenied(refusal)
