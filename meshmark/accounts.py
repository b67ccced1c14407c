"""Sign-in pages: Django's own views, with failed sign-ins throttled and password reset
offered only where the server can send mail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import URLPattern, path
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from ingest.auth import client_address, count_in_window, peek_window

LOGIN_WINDOW_S = 15 * 60


class ThrottledLoginView(auth_views.LoginView):
    """Django's login, refusing an address (and a user name) for the rest of a 15-minute
    window after LOGIN_FAILURES_PER_WINDOW wrong passwords: 429, with Retry-After."""

    @method_decorator(never_cache)
    def post(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        keys = [f"login:ip:{client_address(request)}"]
        if request.POST.get("username"):
            keys.append(f"login:user:{request.POST['username'][:150].lower()}")
        limit = settings.LOGIN_FAILURES_PER_WINDOW
        # Peek: a key that already holds `limit` failures refuses before the password is
        # checked (checking it is what a guesser wants).
        for key in keys:
            if peek_window(key, period_s=LOGIN_WINDOW_S) >= limit:
                response = HttpResponse(
                    "Too many failed sign-ins; try again later.\n",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(LOGIN_WINDOW_S)
                return response
        response = super().post(request, *args, **kwargs)
        if response.status_code != 302:  # the form came back: a failed sign-in
            for key in keys:
                count_in_window(key, period_s=LOGIN_WINDOW_S)
        return response


_Routes = list[tuple[str, Any, str]]  # (route, a class-based view, its name)
_ALWAYS: _Routes = [
    ("logout/", auth_views.LogoutView, "logout"),
    ("password_change/", auth_views.PasswordChangeView, "password_change"),
    ("password_change/done/", auth_views.PasswordChangeDoneView, "password_change_done"),
]
_WITH_MAIL: _Routes = [
    ("password_reset/", auth_views.PasswordResetView, "password_reset"),
    ("password_reset/done/", auth_views.PasswordResetDoneView, "password_reset_done"),
    ("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView, "password_reset_confirm"),
    ("reset/done/", auth_views.PasswordResetCompleteView, "password_reset_complete"),
]


def urlpatterns() -> list[URLPattern]:
    """``accounts/``: sign in and out, change a password; reset one only with mail set up
    (``EMAIL_HOST``), as a reset link that cannot be sent only logs errors."""
    routes = _ALWAYS + (_WITH_MAIL if settings.EMAIL_HOST else [])
    return [path("login/", ThrottledLoginView.as_view(), name="login")] + [
        path(route, view.as_view(), name=name) for route, view, name in routes
    ]
