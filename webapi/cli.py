"""The ``petitionflow`` command: validate, deploy, run and inspect processes from a shell."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from engine import policy, queries, services
from engine.definitions import latest_definition, read_files
from engine.errors import PetitionflowError
from engine.forms import FormDefinition, FormField
from engine.queries import InstanceFilter, TaskFilter, list_instances, list_tasks
from engine.runtime import ACTIVE, CANCELLED, COMPLETED, SUSPENDED, Engine

from .body import BodyRefused, parse_json

# What a shell reports for a command whose reader went away (128 + SIGPIPE), like `yes | head`.
EXIT_BROKEN_PIPE = 141
STATES = (ACTIVE, SUSPENDED, COMPLETED, CANCELLED)
# The demo summary and the pages say "ended" (已结束) for what the engine stores as completed.
STATE_ALIASES = {"ended": COMPLETED}
# The JSON types a form field takes; any other field type (text, text area, date, ...) takes text.
FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "number": (int, float),
    "checkbox": (bool,),
    "checklist": (list,),
    "taglist": (list,),
    "dynamiclist": (list,),
}
VAR_HELP = (
    "a variable, repeat for each; VALUE becomes what the form field of that NAME takes: "
    "phone=13800138000 stays text in a text field, isMajor=true is a yes/no for a checkbox, peopleCount=3 "
    'a number, tags=\'["a","b"]\' a list (JSON); "3" in JSON quotes is always text; '
    "a NAME no form has is read as JSON when it is JSON, otherwise as text"
)


def parse_var(text: str) -> tuple[str, str]:
    """``name=value`` as typed; the value gets its type from the form field it fills (``typed_value``)."""
    name, sep, raw = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, raw


def _takes(field: FormField, value: Any) -> bool:
    if len(field.path) > 1:  # a field inside a group with a path: the variable is the group's object
        return isinstance(value, dict)
    if field.values is not None:  # fixed options: only one of them, of the same JSON type
        return any(type(value) is type(option) and value == option for option in field.values)
    types = FIELD_TYPES.get(field.type, (str,))
    # bool is an int in Python, never a number in a form.
    return isinstance(value, types) and (bool in types or not isinstance(value, bool))


def typed_value(raw: str, fields: Sequence[FormField]) -> Any:
    """The JSON value of ``raw`` when it is one a field of that name takes, else ``raw`` as text."""
    try:
        # The API's own reader: nesting, huge numbers and NaN that no request may carry are text here too.
        value = parse_json(raw)
    except BodyRefused:
        return raw
    if not fields:
        return value
    return value if any(_takes(field, value) for field in fields) else raw


def typed_variables(given: Iterable[tuple[str, str]], forms: Iterable[FormDefinition]) -> dict[str, Any]:
    by_name: dict[str, list[FormField]] = defaultdict(list)
    for form in forms:
        for field in form.fields:
            by_name[field.path[0]].append(field)
    return {name: typed_value(raw, by_name.get(name, ())) for name, raw in given}


def instance_state(text: str) -> str:
    state = STATE_ALIASES.get(text, text)
    if state not in STATES:
        raise argparse.ArgumentTypeError(
            f"unknown state {text!r}: one of {', '.join(STATES)} (ended is completed)"
        )
    return state


def _latest_forms(engine: Engine, keys: Iterable[str]) -> list[FormDefinition]:
    return [form.definition for form in map(engine.forms.get, keys) if form is not None]


def _engine() -> Engine:
    engine = Engine()
    engine.migrate()
    return engine


def cmd_validate(args: argparse.Namespace) -> int:
    missing = [p for p in args.paths if not p.exists()]
    for path in missing:
        print(f"{path}:0: -: no such file or directory")
    files = read_files([p for p in args.paths if p.exists()])
    problems = Engine().definitions.check(None, files)[1] if files else []
    for problem in problems:
        print(problem)
    if not files and not missing:
        print("no .bpmn or .form files found", file=sys.stderr)
        return 1
    if problems or missing:
        return 1
    diagrams = sum(1 for f in files if f.name.endswith(".bpmn"))
    print(f"ok: {diagrams} diagrams and {len(files) - diagrams} forms, no problems")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    engine = _engine()
    result = services.deploy(
        engine, policy.operator(None), read_files(args.paths), name=args.name, source="petitionflow cli"
    )
    for d in result.definitions:
        print(f"{d.key} version {d.version} ({'new' if d.new else 'unchanged'}) id={d.id}")
    new_forms = services.read(engine, queries.deployment_form_keys, result.id)
    for key, version in sorted(result.forms.items()):
        print(f"form {key} version {version} ({'new' if key in new_forms else 'unchanged'})")
    return 0


def cmd_start(args: argparse.Namespace) -> int:
    engine = _engine()
    definition = services.read(engine, latest_definition, args.key)
    # The process's forms name its variables and their types (the registration's phone is text).
    forms = _latest_forms(engine, definition.form_refs if definition else ())
    result = services.start(
        engine,
        policy.operator(args.user),
        args.key,
        business_key=args.business_key,
        variables=typed_variables(args.var, forms),
    )
    print(f"instance {result.instance_id} {result.state}")
    for task_id in result.created_tasks:
        print(f"task {task_id}")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    engine = _engine()
    f = TaskFilter(
        assignee=args.assignee,
        candidate_groups=args.group or (),
        business_key=args.business_key,
        instance_id=args.instance,
        limit=args.limit,
    )
    for t in services.read(engine, list_tasks, f):
        due = t.due_at.isoformat(timespec="minutes") if t.due_at else "-"
        print(
            f"{t.id}  {t.definition_key}/{t.element_id}  {t.name or ''}  assignee={t.assignee or '-'}  "
            f"groups={','.join(t.candidate_groups) or '-'}  due={due}  key={t.business_key or '-'}"
        )
    return 0


def cmd_claim(args: argparse.Namespace) -> int:
    engine = _engine()
    services.claim(engine, policy.operator(None), args.task_id, args.user)
    print(f"claimed by {args.user}")
    return 0


def cmd_complete(args: argparse.Namespace) -> int:
    engine = _engine()
    operator = policy.operator(args.user)
    task = services.read(engine, queries.find_task, args.task_id)
    form = services.task_form(engine, task) if task is not None else None
    variables = typed_variables(args.var, [form] if form else [])
    if task is not None and form is not None:
        # Like the web form, which opens filled with the values the task sees: what is not given stands.
        shown = services.task_variables(engine, operator, task)
        variables = {**{k: shown[k] for k in form.keys if k in shown}, **variables}
    result = services.complete(engine, operator, args.task_id, variables)
    print(f"instance {result.instance_id} {result.state}")
    for task_id in result.created_tasks:
        print(f"task {task_id}")
    return 0


def cmd_request_review(args: argparse.Namespace) -> int:
    """A 复查 or 复核 request the petitioner made, recorded as the registrar ``--user`` would on the page."""
    fields = {"request": args.request, "facts": args.facts, "reasons": args.reasons, "requestedAt": args.date}
    result = services.request_review(
        _engine(), policy.operator(args.user), args.number, args.kind, {k: v for k, v in fields.items() if v}
    )
    print(f"instance {result.instance_id} {result.state}")
    for task_id in result.created_tasks:
        print(f"task {task_id}")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    result = services.withdraw(_engine(), policy.operator(args.user), args.number, args.reason)
    print(f"instance {result.instance_id} {result.state}")
    return 0


def cmd_instances(args: argparse.Namespace) -> int:
    engine = _engine()
    f = InstanceFilter(
        definition_key=args.key, state=args.state, business_key=args.business_key, limit=args.limit
    )
    for i in services.read(engine, list_instances, f):
        print(
            f"{i.id}  {i.definition_id}  {i.state}  key={i.business_key or '-'}  "
            f"at={','.join(i.active_elements) or '-'}  started={i.started_at.isoformat(timespec='seconds')}"
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from webapi import create_app

    engine = _engine()
    # Demo users (password = user name) come only from `petitionflow demo`: never by surprise in production.
    if not engine.accounts.any_user():
        print(
            "no users yet: create an administrator with `petitionflow user NAME PASSWORD --role admin`, "
            "or load the demo office with `petitionflow demo`",
            flush=True,
        )
    if args.workers:
        from webapi import secret_key
        from webapi.wsgi import serve

        # Written once here, before the fork, so no worker can read a half-written key file.
        secret_key(engine.settings.instance_path)
        # The workers open their own connections after the fork; none may inherit one of ours.
        engine.db.dispose()
        print(
            f"serving with {args.workers} gunicorn workers; timers are fired by `petitionflow scheduler`",
            flush=True,
        )
        return serve(args.host, args.port, args.workers, args.threads)
    timers = None
    if not args.no_scheduler:
        from engine.bootstrap import build_timers

        timers = build_timers(engine)
        timers.start()
    try:
        create_app(engine).run(host=args.host, port=args.port, threaded=True)
    finally:
        if timers is not None:
            timers.stop()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Load the demo petitions: 90 days of history on a clock that stops at now (the system clock takes over)."""
    from datetime import UTC, datetime

    from engine.clock import FrozenClock
    from engine.demo import deploy_if_missing, has_petitions, load_demo

    engine = Engine(clock=FrozenClock(datetime.now(UTC)))
    engine.migrate()
    if args.if_empty and has_petitions(engine):
        print("petitions exist: no demo data loaded")
        return 0
    for path in deploy_if_missing(engine):
        print(f"deployed {path}")
    for username, password, roles in engine.accounts.seed_demo():
        print(f"demo user {username:<11} password {password:<11} roles {', '.join(roles)}")
    report = load_demo(engine, count=args.count)
    print(report.format())
    # A scenario that missed its state leaves the others loaded and usable: say which, but let `make serve`
    # go on to start the service (it runs this first) instead of stopping on a flaw of the demo data.
    if report.failures:
        print(
            f"演示数据：{len(report.failures)} 件信访事项未走到预定状态，其余 "
            f"{len(report.petitions) - len(report.failures)} 件已载入，服务照常启动：",
            file=sys.stderr,
        )
        for p in report.failures:
            reason = f"载入时出错（{p.error}）" if p.error else "在历史截止时刻前未走到该状态"
            print(f"  {p.number or '（未登记）'} {p.label}（场景 {p.scenario}）：{reason}", file=sys.stderr)
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    engine = _engine()
    engine.accounts.create(
        args.username,
        args.password,
        display_name=args.name,
        roles=args.role or [],
        groups=args.group or [],
        unit=args.unit,
    )
    print(f"user {args.username} created")
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Run only the timer scheduler (production: one process next to the web workers)."""
    import signal
    import threading

    from engine.bootstrap import build_timers

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    timers = build_timers(_engine())
    timers.start()
    print("scheduler started; waiting for leadership", flush=True)
    # Said when it happens, which for a standby is when the active scheduler stops: the fail-over shows.
    while not stop.wait(0.2):
        if timers.is_leader:
            print("scheduler active", flush=True)
            break
    stop.wait()
    timers.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="petitionflow",
        description="Petition workflows on a BPMN engine.",
        epilog="exit status: 0 done, 1 refused (unknown task or user, invalid form data, a problem in a "
        "diagram), 2 usage (unknown command or option, malformed value)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check diagrams and forms; print file:line: element: message")
    p.add_argument("paths", nargs="+", type=Path)
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("deploy", help="deploy diagrams and forms (unchanged content is not redeployed)")
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--name", default="petitionflow")
    p.set_defaults(func=cmd_deploy)

    p = sub.add_parser("start", help="start an instance of the latest version of a process")
    p.add_argument("key")
    p.add_argument("--business-key")
    p.add_argument("--var", type=parse_var, action="append", default=[], metavar="NAME=VALUE", help=VAR_HELP)
    p.add_argument("--user")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("tasks", help="list open tasks, overdue and soonest due first")
    p.add_argument("--assignee")
    p.add_argument("--group", action="append")
    p.add_argument("--business-key")
    p.add_argument("--instance")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("claim", help="claim a task for a user")
    p.add_argument("task_id")
    p.add_argument("user")
    p.set_defaults(func=cmd_claim)

    p = sub.add_parser(
        "complete",
        help="complete a task with variables",
        description="Complete a task. As on its web page, the task's form starts with the values the task "
        "sees; each --var sets one field, the others keep their values.",
    )
    p.add_argument("task_id")
    p.add_argument("--var", type=parse_var, action="append", default=[], metavar="NAME=VALUE", help=VAR_HELP)
    p.add_argument("--user")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser(
        "request-review",
        help="record a petitioner's request for review (复查) or recheck (复核) of a petition",
        description="Deliver the request to the petition's procedure; refused when no reply (or review "
        "opinion) was served or the 30-day window has passed.",
    )
    p.add_argument("number", help="the petition's item number, e.g. XF2026-000001")
    p.add_argument("--kind", choices=("review", "recheck"), default="review")
    p.add_argument("--request", required=True, help="what the petitioner asks for")
    p.add_argument("--facts")
    p.add_argument("--reasons")
    p.add_argument("--date", help="the day the request was received (default today), YYYY-MM-DD")
    p.add_argument("--user", help="the registrar recording it")
    p.set_defaults(func=cmd_request_review)

    p = sub.add_parser("withdraw", help="record that the petitioner withdrew a petition (撤回)")
    p.add_argument("number")
    p.add_argument("--reason", required=True)
    p.add_argument("--user", help="the registrar recording it")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("instances", help="list process instances")
    p.add_argument("--key")
    p.add_argument("--state", type=instance_state, help=f"one of {', '.join(STATES)}; ended is completed")
    p.add_argument("--business-key")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=cmd_instances)

    p = sub.add_parser("serve", help="run the web service (with the timer scheduler unless told otherwise)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument(
        "--no-scheduler", action="store_true", help="timers are fired by a separate scheduler process"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        help="production: N gunicorn worker processes, no scheduler (run `petitionflow scheduler`); "
        "0: the single-process development server",
    )
    p.add_argument(
        "--threads", type=int, help="threads per gunicorn worker (default PETITIONFLOW_THREADS or 4)"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "demo",
        help="load demo petitions in every procedure and state (90 days of history); a petition that misses "
        "its state is named on stderr and the command still succeeds",
    )
    p.add_argument("--count", type=int, default=50, help="how many petitions (default 50)")
    p.add_argument("--if-empty", action="store_true", help="do nothing when there are petitions already")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("user", help="create a user")
    p.add_argument("username")
    p.add_argument("password")
    p.add_argument("--name")
    p.add_argument("--role", action="append", help="registrar, handler, leader, supervisor, designer, admin")
    p.add_argument("--group", action="append", help="a candidate group of the diagrams")
    p.add_argument("--unit")
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("scheduler", help="run the timer scheduler alone (one active per database)")
    p.set_defaults(func=cmd_scheduler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is noticed where it is handled
        return status
    except BrokenPipeError:
        # `petitionflow tasks | head`: the reader has what it wanted. Point stdout at nothing so that the
        # interpreter's last flush does not fail again, and end as a shell expects, without a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except PetitionflowError as error:
        print(f"error: {error.message}", file=sys.stderr)
        problems = error.details.get("problems") if error.details else None
        for p in problems or []:
            print(f"{p['file']}:{p['line'] or 0}: {p['element'] or '-'}: {p['message']}", file=sys.stderr)
        fields = error.details.get("fields") if error.details else None
        for name, messages in (fields or {}).items():
            print(
                f"  {name}: {messages if isinstance(messages, str) else '; '.join(map(str, messages))}",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
