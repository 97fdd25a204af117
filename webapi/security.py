"""Headers every response carries, pages and API alike, so no answer of the service can be turned against its users.

A page may run only the service's own scripts (``script-src 'self'``: the pages have no inline script, their
data travels in a ``<script type="application/json">`` block, which never runs). bpmn-js and form-js set inline
``style`` attributes while drawing, hence ``'unsafe-inline'`` for styles only, and data: URIs for their icons.
Everything that is not a page (JSON, stored diagrams, bundles) gets a policy under which nothing can run or load
even if a browser is tricked into opening it as a document: a designer's file is data, never a page.
"""

from __future__ import annotations

from flask import Flask, Response

PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DATA_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"


def security_headers(response: Response) -> Response:
    """Set what a view did not set itself (a view may choose a stricter policy, never none)."""
    policy = PAGE_POLICY if response.mimetype == "text/html" else DATA_POLICY
    response.headers.setdefault("Content-Security-Policy", policy)
    # Without nosniff a browser may guess HTML or script from a file's content whatever its declared type.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # frame-ancestors above for current browsers, X-Frame-Options for the older ones some offices still run.
    response.headers.setdefault("X-Frame-Options", "DENY")
    # Page addresses carry petition numbers and task ids: never sent to another site.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def install_security_headers(app: Flask) -> None:
    app.after_request(security_headers)
