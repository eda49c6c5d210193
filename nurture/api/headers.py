"""The security headers of the HTML pages nurture serves: nothing from another origin.

Every page loads its styles, images and (where it has any) scripts from this origin only,
posts forms only here and is never framed, so no page reaches the internet and nothing
another site serves runs beside `/ops`. The pages that differ say so where they are made:
the hosted form (`api/forms/page.py`: a nonce, framed by the clinic's sites), the email
preview (`api/studio/preview.py`: the clinic's own images), `/docs` (`api/docs.py`: its
script from this origin).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from nurture.schedule.clinic import Clinic

#: No script, no third-party anything; forms post only to us; never framed.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def clinic_origins(clinic: Clinic) -> tuple[str, ...]:
    """The https origins of the links the clinic configured (website, booking, videos): what
    its own messages may show, and nothing else from outside."""
    urls = (
        clinic.website,
        clinic.booking_url,
        clinic.phone_consultation_url,
        clinic.remote_evaluation_url,
        *clinic.videos.values(),
    )
    origins = set()
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.netloc:
            origins.add(f"https://{parts.netloc.lower()}")
    return tuple(sorted(origins))
