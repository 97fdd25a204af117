"""The petitioner's pages under /public (no account, mobile first): submit online, look an item up with its
number and query code, read the reply, rate the handling. The pages only render shells; their scripts call
/api/public like any client, so the limits and the same-origin rule hold for them as for anyone."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

bp = Blueprint("public", __name__, url_prefix="/public")


def _page(template: str, page: str) -> Any:
    response = render_template(f"public/{template}", page=page, pf_context={"page": page})
    # The query code appears on these pages: never kept in a shared cache.
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/")
def home() -> Any:
    return _page("home.html", "public_home")


@bp.get("/submit")
def submit() -> Any:
    return _page("submit.html", "public_submit")


@bp.get("/lookup")
def lookup() -> Any:
    return _page("lookup.html", "public_lookup")
