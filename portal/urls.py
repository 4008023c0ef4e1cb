from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path

from emailconfig.api.v1 import answers_in_json, api, not_found
from emailconfig.middleware import second_factor_not_required


def _token_authenticated(patterns):
    """The API authenticates with bearer tokens, not the portal's sign-in, and answers JSON."""
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            _token_authenticated(pattern.url_patterns)
        else:
            pattern.callback = login_not_required(answers_in_json(pattern.callback))
    return patterns


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", (_token_authenticated(api.urls[0]), api.urls[1], api.urls[2])),
    re_path(r"^api/v1/(?P<path>.*)$", login_not_required(not_found)),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path(
        "accounts/logout/",
        second_factor_not_required(auth_views.LogoutView.as_view()),
        name="logout",
    ),
    path("", include("emailconfig.urls")),
]
