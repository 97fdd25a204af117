"""Who is calling: a session cookie (web pages), HTTP Basic or a bearer token (API clients)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request, session

from engine.accounts import Principal
from engine.errors import Forbidden
from engine.runtime import Engine

from .errors import Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


def engine() -> Engine:
    return current_app.extensions["petitionflow"]


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
        principal = None if "\x00" in username else accounts.authenticate(username, password)
        if principal is None:
            raise Unauthorized("wrong user name or password")
    elif header.startswith("Bearer "):
        principal = accounts.for_token(header[7:].strip())
        if principal is None:
            raise Unauthorized("the bearer token is unknown or revoked")
    elif session.get("user"):
        principal = accounts.get(session["user"])
    g.principal = principal
    return principal


def current() -> Principal:
    principal = identify()
    if principal is None:
        raise Unauthorized("sign in first: a session, HTTP Basic or a bearer token")
    return principal


def require(*roles: str) -> Callable[[F], F]:
    """The view needs a signed-in caller with one of ``roles`` (any role when none given; admin always)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current()
            if roles and not principal.has(*roles):
                raise Forbidden(f"this needs one of the roles: {', '.join(roles)}", {"roles": list(roles)})
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
