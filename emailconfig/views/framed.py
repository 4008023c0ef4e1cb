"""A message's HTML part, served from its own URL into a frame with an empty `sandbox`.

Its response carries a policy of its own: no scripts, forms, plugins or remote loads (a
tracking image in the mail does not fire from an admin's browser), but the inline styles and
data: images that mail is made of. A `srcdoc` frame cannot do this: it takes the embedding
page's policy too, and the portal's pages rightly refuse inline styles.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers

SHOWN_MAIL_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
    "frame-ancestors 'self'; sandbox"
)


def html_part(html: str) -> HttpResponse:
    if not html.lstrip()[:9].lower().startswith("<!doctype"):
        # A srcdoc frame is always in standards mode, and so are the pages webmail shows
        # mail in; a document of its own without a doctype would be in quirks mode.
        html = "<!DOCTYPE html>\n" + html
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SHOWN_MAIL_POLICY
    response["X-Frame-Options"] = "SAMEORIGIN"  # framed by the portal's own pages only
    response["Referrer-Policy"] = "no-referrer"
    add_never_cache_headers(response)
    return response
