"""Sessions, API tokens, CSRF, sign-in rate limiting and security headers.

- **Sessions** (pages): a signed, timestamped cookie (itsdangerous, the settings' secret) holding the user
  id, the account's stamp (`accounts.Actor.stamp`: a new password ends old sessions) and a random CSRF
  token. HttpOnly, SameSite=Lax, Secure unless `B12PLAN_COOKIE_SECURE=0` (then not `__Host-` prefixed).
  It lasts `session_hours` from sign-in; signing out replaces it with an empty one.
- **API tokens**: the same signing with another salt, lasting `token_minutes`; sent as `Authorization:
  Bearer`. The API takes no cookies, so it needs no CSRF token.
- **CSRF**: every form posts the session's token (`csrf_token` field, or the `X-CSRF-Token` header);
  `check_csrf` compares it in constant time. Signing in makes a new token (no session fixation).
- **Sign-in rate limit**: in-process, per server process. `login_attempts` failed sign-ins per client
  address and username within `login_window_minutes`, and ten times that per address, then 429 with
  `Retry-After` until the oldest failure leaves the window. A success clears that username's count. With
  several processes each keeps its own count (an attacker gets at most one allowance per process); argon2's
  cost per guess is the second brake.
- **Headers** on every response: a Content-Security-Policy with no inline script or style, frame-ancestors
  none and X-Frame-Options DENY, nosniff, Referrer-Policy no-referrer (calendar links carry a signature),
  a Permissions-Policy, Cross-Origin-Opener-Policy, and Cache-Control no-store on everything but /static.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from b12plan.web.settings import Settings

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "LoginLimiter",
    "SecurityHeaders",
    "Session",
    "Signer",
    "check_csrf",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


@dataclass
class Session:
    """A page session: who (`user_id`, `stamp`) or nobody yet, and its CSRF token. `changed` marks one
    that must be (re)sent as a cookie."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    user_id: int | None = None
    stamp: str = ""
    changed: bool = True

    def sign_in(self, user_id: int, stamp: str) -> None:
        self.user_id, self.stamp = user_id, stamp
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> None:
        self.user_id, self.stamp = None, ""
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True


class Signer:
    """Signs and reads session cookies and API tokens with the settings' secret."""

    def __init__(self, settings: Settings) -> None:
        self._sessions = URLSafeTimedSerializer(settings.secret_key, salt="b12plan-session")
        self._tokens = URLSafeTimedSerializer(settings.secret_key, salt="b12plan-api-token")
        self.session_seconds = int(settings.session_hours * 3600)
        self.token_seconds = settings.token_minutes * 60
        self.secure = settings.cookie_secure
        self.cookie_name = "__Host-b12plan" if settings.cookie_secure else "b12plan"

    def dump_session(self, session: Session) -> str:
        return self._sessions.dumps({"c": session.csrf, "u": session.user_id, "s": session.stamp})

    def load_session(self, cookie: str | None) -> Session | None:
        if not cookie:
            return None
        try:
            data: Any = self._sessions.loads(cookie, max_age=self.session_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user = data.get("u")
        return Session(
            csrf=data["c"],
            user_id=user if isinstance(user, int) else None,
            stamp=str(data.get("s") or ""),
            changed=False,
        )

    def cookie_header(self, session: Session) -> str:
        flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
        return f"{self.cookie_name}={self.dump_session(session)}; Max-Age={self.session_seconds}{flags}"

    def token(self, user_id: int, stamp: str) -> str:
        return self._tokens.dumps({"u": user_id, "s": stamp})

    def read_token(self, token: str) -> tuple[int, str] | None:
        try:
            data: Any = self._tokens.loads(token, max_age=self.token_seconds)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("u"), int):
            return None
        return data["u"], str(data.get("s") or "")


def check_csrf(session: Session | None, sent: str | None) -> bool:
    """Whether the token a form sent is its session's."""
    sent_bytes = (sent or "").encode()  # bytes: compare_digest refuses non-ASCII str
    return session is not None and bool(sent) and hmac.compare_digest(session.csrf.encode(), sent_bytes)


class LoginLimiter:
    """Failed sign-ins per (address, username) and per address in a sliding window (module docstring)."""

    def __init__(self, attempts: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.attempts, self.window_s, self.clock = attempts, window_s, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, address: str, username: str) -> list[tuple[str, str]]:
        return [(address, username.strip().lower()), (address, "")]

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def retry_after(self, address: str, username: str) -> int | None:
        """Seconds to wait before trying again, or None when a sign-in may be tried now."""
        now = self.clock()
        with self._lock:
            for key in self._keys(address, username):
                limit = self.attempts * (10 if key[1] == "" else 1)
                times = self._recent(key, now)
                if len(times) >= limit:
                    return max(1, int(self.window_s - (now - times[0])) + 1)
        return None

    def failed(self, address: str, username: str) -> None:
        now = self.clock()
        with self._lock:
            for key in self._keys(address, username):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._failures.pop(self._keys(address, username)[0], None)


class SecurityHeaders:
    """ASGI middleware: the headers in the module docstring on every HTTP response. A response that sets
    its own Content-Security-Policy (the printable plan, chart images) keeps it."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    headers.setdefault(name, value)
                headers.setdefault("content-security-policy", CONTENT_SECURITY_POLICY)
                if not static:
                    headers.setdefault("cache-control", "no-store")
                if self.hsts:
                    headers.setdefault("strict-transport-security", "max-age=31536000; includeSubDomains")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SessionCookies:
    """ASGI middleware: reads the session cookie into `request.state.session` (None when there is none or
    it is not valid) and sends it back when a page changed it (`Session.changed`)."""

    def __init__(self, app: ASGIApp, *, signer: Signer) -> None:
        self.app = app
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = None
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                for part in value.decode("latin-1").split(";"):
                    key, _, text = part.strip().partition("=")
                    if key == self.signer.cookie_name:
                        cookie = text
        state = scope.setdefault("state", {})
        state["session"] = self.signer.load_session(cookie)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = state.get("session")
                if isinstance(session, Session) and session.changed:
                    MutableHeaders(scope=message).append("set-cookie", self.signer.cookie_header(session))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
