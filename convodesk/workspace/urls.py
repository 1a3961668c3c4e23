from django.urls import path

from . import views

app_name = "workspace"

urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("list/", views.list_pane, name="list"),
    path("availability/", views.availability, name="availability"),
    path("c/<int:pk>/", views.conversation_pane, name="conversation"),
    path("c/<int:pk>/<slug:name>/", views.action, name="action"),
]
