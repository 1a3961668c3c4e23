from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST


@login_required
@require_POST
def set_language(request):
    """Remember the employee's language on their profile (it wins over the browser's)."""
    language = request.POST.get("language", "")
    if language in dict(settings.LANGUAGES):
        request.user.language = language
        request.user.save(update_fields=["language"])
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, request.user.language or language)
    return response


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' lockout response: the log-in page again, saying why and for how long (429).

    Used for the admin's log-in form too. An administrator unlocks from the admin
    ("Access attempts") or with `manage.py axes_reset_username <username>`.
    """
    from axes.helpers import get_cool_off

    minutes = max(1, round(get_cool_off(request).total_seconds() / 60))
    message = _(
        "Too many failed log-in attempts. This account is locked for %(minutes)s minutes "
        "from this address. Try again later, or ask an administrator to unlock it."
    ) % {"minutes": minutes}
    username = request.POST.get("username", "")[:150] if request.method == "POST" else ""
    form = AuthenticationForm(request, initial={"username": username})
    return render(
        request,
        "registration/login.html",
        {"form": form, "lockout": message, "next": request.POST.get("next", "")},
        status=429,
    )


class InvitationView(PasswordResetConfirmView):
    """The invitation link: the employee chooses a password and is logged in. An integration
    account or an inactive employee gets the "link no longer works" page, as a used link does."""

    template_name = "registration/invitation.html"
    post_reset_login = True
    post_reset_login_backend = "convodesk.accounts.backends.EmployeeBackend"
    success_url = reverse_lazy("conversations:list")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        if user is None or user.is_integration or not user.is_active:
            return None
        return user
