"""Log-in throttling (django-axes) in front of the model backend."""

from axes.backends import AxesStandaloneBackend


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
