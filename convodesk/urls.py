from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from convodesk.accounts import views as account_views
from convodesk.api import views as api_views
from convodesk.api.v1 import api

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="conversations:list", permanent=False)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path(
        "account/welcome/<uidb64>/<token>/",
        account_views.InvitationView.as_view(),
        name="invitation",
    ),
    path("account/language/", account_views.set_language, name="set_language_profile"),
    path("admin/", admin.site.urls),
    path("settings/", include("convodesk.administration.urls")),
    path("api/v1/", api.urls),
    path("api/v1/<path:rest>", api_views.api_not_found),
    path("account/tokens/", api_views.tokens, name="api_tokens"),
    path("contact-center/", include("convodesk.conversations.urls")),
    path("contact-center/statistics/", include("convodesk.stats.urls")),
    path("crm/", include("convodesk.crm.urls")),
    path("contact-center/workspace/", include("convodesk.workspace.urls")),
    path("widget/", include("convodesk.connectors.livechat_urls")),
    path("connectors/", include("convodesk.connectors.urls")),
    # The seed product's incoming webhooks (/rest/{user_id}/{code}/{method}.json): README
    # "Moving from Bitrix24".
    path("rest/", include("convodesk.bitrix24.urls")),
    # /healthz, /readyz, /metrics: probes and Prometheus (convodesk/ops).
    path("", include("convodesk.ops.urls")),
]
