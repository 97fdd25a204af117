"""Web pages for registrars, handlers, supervisors and designers.

The views here only render shells (Jinja templates in ``templates/pages``); the pages' own scripts
(``static/js``) call the REST API with ``fetch`` over the session cookie, so every rule the API enforces
holds for the pages too. What the API does not offer and a page needs is served here as small JSON
"page views" under ``/ui``: the latest schema of a deployed form, the number of cases waiting at each
diagram element, and bpmnlint's findings on an uploaded diagram.

The bpmn.io browser bundles are served from ``node_modules`` (installed by ``make setup``) through a
whitelist, never copied into the repository and never loaded from a CDN: every asset comes from this
service, which the Content-Security-Policy on every page enforces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from engine import bpmnlint, queries, services
from engine.errors import InvalidInput, NotFound

from .auth import current, engine, identify, require

ROOT = Path(__file__).resolve().parent.parent
bp = Blueprint("pages", __name__)

# The only files served from node_modules: name -> (folder inside node_modules, files inside it).
VENDOR: dict[str, tuple[str, frozenset[str]]] = {
    "bpmn-js": (
        "bpmn-js/dist",
        frozenset({"bpmn-navigated-viewer.production.min.js", "assets/diagram-js.css", "assets/bpmn-js.css"}),
    ),
    "form-js": ("@bpmn-io/form-js/dist", frozenset({"form-viewer.umd.js", "assets/form-js.css"})),
    # The Chinese words of the calendar form-js bundles (flatpickr 4.6.13, its own dependency).
    "flatpickr": ("flatpickr/dist", frozenset({"l10n/zh.js"})),
}

# (label, endpoint, roles that see it; admin sees everything)
NAV: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("我的待办", "pages.tasks", ("registrar", "handler", "leader", "supervisor")),
    ("信访登记", "pages.register", ("registrar",)),
    ("信访事项", "pages.petitions", ("registrar", "handler", "supervisor", "leader")),
    ("监控中心", "pages.cockpit", ("supervisor",)),
    ("流程监控", "pages.processes", ("supervisor", "designer")),
    ("预警督办", "pages.escalations", ("supervisor", "leader")),
    ("异常处理", "pages.incidents", ("supervisor",)),
    ("流程迁移", "pages.migrations", ("supervisor",)),
    ("统计分析", "pages.metrics", ("supervisor", "leader")),
    ("流程设计", "pages.designer", ("designer",)),
    ("组织机构", "pages.organisation", ("admin",)),
    ("短信发件箱", "pages.outbox", ("admin",)),
)
# Where each role starts after signing in, first match wins.
LANDING = (
    ("supervisor", "pages.cockpit"),
    ("registrar", "pages.register"),
    ("designer", "pages.designer"),
    ("handler", "pages.tasks"),
    ("leader", "pages.tasks"),
)
ROLE_NAMES = {
    "registrar": "登记员",
    "handler": "承办人",
    "leader": "领导",
    "supervisor": "督查督办",
    "designer": "流程设计",
    "admin": "管理员",
}


def node_modules() -> Path:
    return Path(current_app.config.get("NODE_MODULES") or ROOT / "node_modules")


# -- page shells --------------------------------------------------------------------------------------------
def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (no scheme, no host, no ``//``), so the login cannot redirect elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _landing(principal: Any) -> str:
    if "admin" in principal.roles:
        return url_for("pages.cockpit")
    for role, endpoint in LANDING:
        if role in principal.roles:
            return url_for(endpoint)
    return url_for("pages.tasks")


def _context(principal: Any, page: str, **extra: Any) -> dict[str, Any]:
    now = engine().now()
    tz = engine().calendar.tz
    return {
        "page": page,
        "user": principal,
        "role_names": [ROLE_NAMES.get(r, r) for r in sorted(principal.roles)],
        "nav": [(label, endpoint) for label, endpoint, roles in NAV if principal.has(*roles)],
        "pf_context": {
            "page": page,
            "user": {
                "username": principal.username,
                "displayName": principal.display_name,
                "roles": sorted(principal.roles),
                "groups": list(principal.groups),
                "unit": principal.unit,
                "positions": [{"unit": u, "position": p} for u, p in sorted(principal.positions)],
            },
            # The engine's clock (deadlines are counted on it), and today's date in the calendar's zone.
            "now": now.isoformat(),
            "today": now.astimezone(tz).date().isoformat(),
            **extra,
        },
    }


def _page(template: str, page: str, *roles: str, **extra: Any) -> Any:
    principal = identify()
    if principal is None:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    if roles and not principal.has(*roles):
        context = _context(principal, "forbidden")
        context["needed"] = [ROLE_NAMES.get(r, r) for r in roles]
        return render_template("pages/forbidden.html", **context), 403
    return render_template(template, **_context(principal, page, **extra))


@bp.after_app_request
def _no_password_prompt(response: Response) -> Response:
    """The API answers 401 with ``WWW-Authenticate: Basic`` (right for scripts), which makes a browser pop up its
    own password dialog over a page's fetch. The pages mark their calls with ``X-Requested-With`` and get the
    401 without the challenge, so they can show their own sign-in page instead."""
    if response.status_code == 401 and request.headers.get("X-Requested-With") == "XMLHttpRequest":
        response.headers.pop("WWW-Authenticate", None)
    return response


@bp.get("/")
def home() -> Any:
    principal = identify()
    if principal is None:
        return redirect(url_for("pages.login"))
    return redirect(_landing(principal))


@bp.get("/login")
def login() -> Any:
    principal = identify()
    target = _safe_next(request.args.get("next"))
    if principal is not None:
        return redirect(target or _landing(principal))
    return render_template("pages/login.html", page="login", next=target or "")


@bp.get("/tasks")
def tasks() -> Any:
    return _page("pages/tasks.html", "tasks")


@bp.get("/tasks/<task_id>")
def task(task_id: str) -> Any:
    return _page("pages/task.html", "task", taskId=task_id)


@bp.get("/register")
def register() -> Any:
    return _page("pages/register.html", "register", "registrar")


@bp.get("/petitions")
def petitions() -> Any:
    return _page("pages/petitions.html", "petitions", "registrar", "handler", "supervisor", "leader")


@bp.get("/petitions/<number>")
def petition(number: str) -> Any:
    return _page("pages/petition.html", "petition", number=number)


@bp.get("/cockpit")
def cockpit() -> Any:
    return _page("pages/cockpit.html", "cockpit", "supervisor")


@bp.get("/cockpit/processes")
def processes() -> Any:
    return _page(
        "pages/processes.html", "processes", "supervisor", "designer", definitionId=request.args.get("id")
    )


@bp.get("/cockpit/escalations")
def escalations() -> Any:
    return _page("pages/escalations.html", "escalations", "supervisor", "leader")


@bp.get("/cockpit/incidents")
def incidents() -> Any:
    """Failed timer fires, retried one or several at a time."""
    return _page("pages/incidents.html", "incidents", "supervisor")


@bp.get("/cockpit/migrations")
def migrations() -> Any:
    """Running cases moved to another version of their diagram, after a dry run."""
    return _page("pages/migrations.html", "migrations", "supervisor")


@bp.get("/cockpit/metrics")
def metrics() -> Any:
    return _page("pages/metrics.html", "metrics", "supervisor", "leader")


@bp.get("/admin/organisation")
def organisation() -> Any:
    return _page("pages/organisation.html", "organisation", "admin")


@bp.get("/admin/outbox")
def outbox() -> Any:
    """Messages to petitioners waiting for (or sent by) the operator's SMS gateway."""
    return _page("pages/outbox.html", "outbox", "admin")


@bp.get("/inbox")
def inbox() -> Any:
    """The official's inbox: new tasks, warnings and supervisions addressed to them or their groups."""
    return _page("pages/inbox.html", "inbox")


@bp.get("/instances/<instance_id>")
def instance(instance_id: str) -> Any:
    return _page("pages/instance.html", "instance", instanceId=instance_id)


@bp.get("/designer")
def designer() -> Any:
    return _page("pages/designer.html", "designer", "designer")


@bp.get("/definitions/<definition_id>")
def definition(definition_id: str) -> Any:
    return _page("pages/definition.html", "definition", definitionId=definition_id)


# -- third-party browser bundles, from node_modules through a whitelist --------------------------------------
@bp.get("/static/vendor/<name>/<path:filename>")
def vendor(name: str, filename: str) -> Response:
    entry = VENDOR.get(name)
    if entry is None or filename not in entry[1]:
        abort(404)
    folder = node_modules() / entry[0]
    if not (folder / filename).is_file():
        abort(404, description=f"前端组件 {name} 未安装：请运行 `make setup`（npm ci --ignore-scripts）")
    return send_from_directory(folder, filename, max_age=24 * 3600)


# -- page views: JSON the pages need and the REST API does not offer -----------------------------------------
@bp.get("/ui/forms/<form_key>")
@require()
def form_schema(form_key: str) -> Response:
    """The latest deployed version of a Camunda Form (form-js JSON), e.g. the registration form."""
    form = engine().forms.get(form_key)
    if form is None:
        raise NotFound(f"the form '{form_key}' is not deployed", {"form": form_key})
    return current_app.response_class(
        json.dumps({"key": form.key, "version": form.version, "schema": form.schema}),
        mimetype="application/json",
    )


@bp.get("/ui/waiting")
@require("supervisor", "designer", "admin")
def waiting() -> dict[str, Any]:
    """How many cases wait at each diagram element: open tasks (and how many overdue or unclaimed) from the
    task table, pending timers from the timer table, and instances parked there (call activities, message
    waits) from the instances' active elements. ``?definitionId=`` narrows to one definition version."""
    definition_id = request.args.get("definitionId") or None
    now = engine().now()
    within = services.within(engine(), current())
    counts = services.read(engine(), queries.waiting_counts, now, definition_id, within)
    # Each element by its Chinese name and the (called) procedure it is in, never by its id.
    places = services.element_places(engine(), sorted({definition for definition, _ in counts}))
    return {
        "now": now.isoformat(),
        "elements": [
            {"definitionId": definition, "elementId": element, **places.get((definition, element), {}), **row}
            for (definition, element), row in sorted(counts.items())
        ],
    }


@bp.post("/ui/lint")
@require("designer", "admin")
def lint() -> dict[str, Any]:
    """bpmnlint (the linter of Camunda Modeler) with the repository's .bpmnlintrc on each uploaded .bpmn."""
    uploads = [u for u in request.files.getlist("files") if (u.filename or "").lower().endswith(".bpmn")]
    if len(uploads) > bpmnlint.MAX_FILES:
        raise InvalidInput(f"at most {bpmnlint.MAX_FILES} diagrams at once")
    # One byte over the limit is enough to refuse the file, without reading all of a huge one.
    diagrams = [
        (u.filename or f"diagram{i}.bpmn", u.read(bpmnlint.MAX_BYTES + 1)) for i, u in enumerate(uploads)
    ]
    return bpmnlint.lint(node_modules(), diagrams)
