"""URL click tracking: links in a message's text rewritten to short links that the API serves (``/l/<code>``).

With ``track_url`` the URLs of the body (or only ``url_to_track`` when given)
are replaced, per message, by ``<PUBLIC_URL>/l/<code>``; a click on it is
redirected (302) to the original URL, counted, and reported to the message's
``callback_url`` as seed 000 shows it: ``{"id", "ref_id", "to", "url_access_time"}``.
Each recipient gets codes of their own, so a click says who clicked.
"""

from __future__ import annotations

import re
import secrets
import string

from sqlalchemy.orm import Session

from dialer.store.sms_models import SmsLink

URL = re.compile(r"https?://[^\s<>\"']+", re.I)
_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 8


def new_code() -> str:
    """A random short-link code (62^8 values)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(CODE_LENGTH))


def short_url(base_url: str, code: str) -> str:
    """The short link of ``code``."""
    return f"{base_url.rstrip('/')}/l/{code}"


def urls_in(text: str) -> list[str]:
    """The URLs of a text, in order (trailing punctuation left out)."""
    return [u.rstrip(".,;:!?)") for u in URL.findall(text)]


def rewrite(session: Session, message_id: str, body: str, base_url: str, url_to_track: str | None) -> str:
    """The body with its tracked URLs replaced by short links (rows added to ``session``)."""
    targets = [url_to_track] if url_to_track else urls_in(body)
    out = body
    for url in dict.fromkeys(t for t in targets if t and t in body):
        code = new_code()
        session.add(SmsLink(code=code, message_id=message_id, url=url))
        out = out.replace(url, short_url(base_url, code))
    return out
