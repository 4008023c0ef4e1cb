from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    """The local sink is a development aid; its page is linked only with DEBUG on."""
    return {"debug_sink": settings.DEBUG}
