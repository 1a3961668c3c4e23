from django.urls import path, re_path

from . import views

app_name = "crm"

SEGMENTS = "contacts|companies|leads|deals|activities"

urlpatterns = [
    path("", views.crm_home, name="home"),
    path("leads/<int:pk>/convert/", views.convert, name="convert"),
    path("conversations/<int:conversation_id>/rebind/", views.rebind, name="rebind"),
    path("matches/<int:pk>/confirm/", views.confirm_match, name="confirm_match"),
    re_path(rf"^(?P<segment>{SEGMENTS})/$", views.record_list, name="list"),
    re_path(rf"^(?P<segment>{SEGMENTS})/(?P<pk>[0-9]{{1,18}})/$", views.card, name="card"),
]
