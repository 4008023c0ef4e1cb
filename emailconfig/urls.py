from django.urls import path

from emailconfig.views import home

app_name = "emailconfig"

urlpatterns = [
    path("", home.home, name="home"),
]
