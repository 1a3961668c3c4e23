"""Log-in throttling (django-axes) in front of the model backend."""

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuses a locked (username, IP) pair before any password is checked.

    Every log-in over HTTP (the log-in page, the admin's) passes its request and is throttled.
    A call without a request (the test client's `login()`, a shell) has no client address to
    lock by, so axes would raise; it is left to the next backend instead.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


class EmployeeBackend(ModelBackend):
    """Django's model backend, for employees only: an integration account acts through API
    tokens and never opens a browser session, even if a password was set on it elsewhere
    (a shell, an old version). A session it had already is refused as well (get_user)."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not getattr(user, "is_integration", False)
