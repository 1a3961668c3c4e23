from django.urls import path

from . import views

app_name = "stats"

urlpatterns = [
    path("", views.statistics, name="page"),
    path("export/<slug:table>.xlsx", views.export_table, name="export"),
]
