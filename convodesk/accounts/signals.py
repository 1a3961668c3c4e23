"""A new employee gets the Manager role, so by default they see only their own conversations.

Log-ins are remembered by session, and a save that leaves an employee inactive ends their
access at once (`deactivation.end_access`), whoever made it: the admin, the API, a shell.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver

from . import deactivation
from .models import Role, User

DEFAULT_ROLE = "Manager"


@receiver(post_save, sender=User, dispatch_uid="convodesk_default_role")
def give_default_role(sender, instance: User, created: bool, raw: bool = False, **kwargs):
    if created and not raw and not instance.is_integration:
        role = Role.objects.filter(name=DEFAULT_ROLE).first()
        if role is not None:
            instance.roles.add(role)


@receiver(post_save, sender=User, dispatch_uid="convodesk_end_access_when_inactive")
def end_access_when_inactive(sender, instance: User, raw: bool = False, **kwargs):
    if not raw and not instance.is_active and instance.pk is not None:
        deactivation.end_access(instance)


@receiver(user_logged_in, dispatch_uid="convodesk_remember_session")
def remember_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None and getattr(user, "pk", None):
        deactivation.remember_session(user, session.session_key)


@receiver(user_logged_out, dispatch_uid="convodesk_forget_session")
def forget_session(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        deactivation.forget_session(session.session_key)
