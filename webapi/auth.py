"""Who is calling: a session cookie (web pages), HTTP Basic or a bearer token (API clients).

A session cookie rides along on every request a browser makes, even one a foreign page starts, so a
state-changing request signed in by it must come from our own origin (CSRF). Basic and bearer callers (the CLI,
Camunda Modeler, pycamunda) put their credentials in each request themselves and need no such proof.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import policy
from engine.accounts import Principal, TooManyAttempts
from engine.runtime import Engine

from .errors import CrossSiteRefused, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def engine() -> Engine:
    return current_app.extensions["petitionflow"]


# -- same origin (CSRF) ------------------------------------------------------------------------------------
def _origin(url: str) -> str | None:
    """scheme://host:port of a URL, the port always spelled out (a browser leaves out the default one)."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname or port is None:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port}"


def check_same_origin(*, required: bool) -> None:
    """The request names our own origin (as seen through the proxy) in Origin, or in Referer when a browser
    sent no Origin. Another port of the same host is another origin. ``required``: no header is a refusal."""
    header = "Origin" if "Origin" in request.headers else "Referer"
    sent = request.headers.get(header)
    if sent is None and not required:
        return
    if sent is None or _origin(sent) != _origin(request.host_url):
        raise CrossSiteRefused(
            "请求不是从本系统的页面发出的，已拒绝（防跨站请求伪造）", {"header": header if sent else None}
        )


# -- signing in ----------------------------------------------------------------------------------------------
def sign_in(username: str, password: str) -> Principal | None:
    """Check a password, throttled per account and per client address (ProxyFix supplies the real one)."""
    try:
        return engine().accounts.authenticate(username, password, request.remote_addr)
    except TooManyAttempts as error:
        g.retry_after = error.details["retryAfter"]
        raise


def identify() -> Principal | None:
    """Resolve the caller once per request."""
    if "principal" in g:
        return g.principal
    principal: Principal | None = None
    header = request.headers.get("Authorization", "")
    accounts = engine().accounts
    if header.startswith("Basic "):
        try:
            username, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username, password = "", ""
        # No user name holds a NUL character, and PostgreSQL cannot even be asked about one.
        principal = None if "\x00" in username else sign_in(username, password)
        if principal is None:
            raise Unauthorized("用户名或密码错误")
    elif header.startswith("Bearer "):
        principal = accounts.for_token(header[7:].strip())
        if principal is None:
            raise Unauthorized("令牌无效、已过期或已撤销")
    elif session.get("sid"):
        if request.method not in SAFE_METHODS:
            check_same_origin(required=True)
        principal = accounts.for_session(session["sid"])
    g.principal = principal
    return principal


def current() -> Principal:
    principal = identify()
    if principal is None:
        raise Unauthorized("请先登录")
    return principal


def require(*roles: str) -> Callable[[F], F]:
    """The view needs a signed-in caller with one of ``roles`` (any role when none given; admin always)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            policy.check_role(current(), roles)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# -- the app's session cookie and proxy ----------------------------------------------------------------------
class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie (it carries only the session key), Secure whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def _retry_after(response: Response) -> Response:
    if "retry_after" in g:
        response.headers["Retry-After"] = str(g.retry_after)
    return response


def init_auth(app: Flask) -> None:
    """Proxy, cookie and throttling settings from the environment (docs/production.md).

    PETITIONFLOW_TRUSTED_PROXIES=N: N reverse proxies in front whose X-Forwarded-For/-Proto/-Host/-Port are
    believed (never set it without a proxy: clients could then pick their own address and scheme).
    PETITIONFLOW_SECURE_COOKIES=1: the cookie is Secure even on a request that arrived as plain http.
    """
    proxies = int(os.environ.get("PETITIONFLOW_TRUSTED_PROXIES", "").strip() or 0)
    if proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies
        )
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=os.environ.get("PETITIONFLOW_SECURE_COOKIES", "").strip().lower()
        in {"1", "true", "yes", "on"},
    )
    app.session_interface = SessionCookies()
    app.after_request(_retry_after)
