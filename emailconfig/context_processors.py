from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    """The local sink is a development aid; its pages exist only with STAGEMAIL_LOCAL_SINK."""
    return {"debug_sink": settings.STAGEMAIL_LOCAL_SINK}
