from django.urls import path

from . import livechat_views

app_name = "livechat"

urlpatterns = [
    path("demo/", livechat_views.demo, name="demo"),
    path("<str:key>.js", livechat_views.widget_script, name="script"),
]
