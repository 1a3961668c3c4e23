"""The two refusals a reader of a conversation (or a CRM record) gets, below the services so that
the visibility rule can raise them: NotFound answers 404 and NotAllowed 403 in pages and the API."""

from django.utils.translation import gettext as _


class NotFound(Exception):
    """The conversation does not exist or the actor may not see it (the same answer for both)."""


class NotAllowed(Exception):
    """The actor sees the conversation but their role does not allow this action."""

    def __init__(self, message=None):
        self.message = message or _("You are not allowed to do this.")
        super().__init__(str(self.message))
