from django.urls import re_path

from . import views

app_name = "bitrix24"

# Every path under /rest/ answers here, with or without ".json" and a trailing slash: the seed
# product's client follows no redirect.
urlpatterns = [
    re_path(
        r"^(?P<user_id>[^/]+)/(?P<code>[^/]+)/(?P<method>[^/]+?)/?$",
        views.endpoint,
        name="endpoint",
    ),
    re_path(r"^(?P<rest>.*)$", views.unknown, name="unknown"),
]
