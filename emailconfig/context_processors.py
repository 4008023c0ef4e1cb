from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from emailconfig.access import Access


def portal(request: HttpRequest) -> dict[str, object]:
    """`access`: what the signed-in user may do, for showing only the controls that work.

    The local sink is a development aid; its pages exist only with STAGEMAIL_LOCAL_SINK.
    """
    return {
        "access": SimpleLazyObject(lambda: Access.of(request.user)),
        "debug_sink": settings.STAGEMAIL_LOCAL_SINK,
    }
