"""A new employee gets the Manager role, so by default they see only their own conversations."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Role, User

DEFAULT_ROLE = "Manager"


@receiver(post_save, sender=User, dispatch_uid="convodesk_default_role")
def give_default_role(sender, instance: User, created: bool, raw: bool = False, **kwargs):
    if created and not raw and not instance.is_integration:
        role = Role.objects.filter(name=DEFAULT_ROLE).first()
        if role is not None:
            instance.roles.add(role)
