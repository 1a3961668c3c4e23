"""A URL configuration for the log-context test: one view that logs, under a conversation id."""

import logging

from django.http import HttpResponse
from django.urls import include, path


def logs_something(request, conversation_id):
    if not request.user.is_authenticated:  # as the product's views check first
        return HttpResponse(status=403)
    logging.getLogger("convodesk.tests").warning("looked at the conversation")
    return HttpResponse("ok")


urlpatterns = [
    path("probe/conversations/<int:conversation_id>/", logs_something),
    path("", include("convodesk.urls")),
]
