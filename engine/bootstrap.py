"""The composition root: builds the engine's object graph once, and hands each part only what it needs.

The registry, the ladder and the accounts are given a database, a clock and (for the first two) the commands
they may run, never the Engine itself; the unit of work is given its codec, functions, clock and deadline
keeper through a :class:`~engine.unit_of_work.WorkEnvironment`. So no domain module imports the module that
runs commands, and no two modules import each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .accounts import Accounts
from .calendar import StatutoryCalendar, load_operator_years
from .calendar_sync import CalendarSync
from .clock import CalendarFunctions, Clock, install
from .config import Settings
from .db import Database
from .deadlines import DeadlineKeeper, load_rules
from .documents import Documents
from .escalation import EscalationLadder, LadderSettings
from .executor import CommandExecutor
from .formstore import FormStore
from .inbox import Inbox, Mailer, SmtpSettings
from .models import Task
from .notifier import Outbox, load_notifier
from .orgadmin import OrgAdmin, UserAdmin
from .organisation import Organisation, Routing
from .petitions import PetitionRegistry
from .ports import InstanceCommands, TimerHost
from .procedures import PetitionActs
from .public import PublicDesk, PublicLimits
from .ratelimit import RateLimiter
from .scripting import FunctionRegistry, SafeScriptEngine, default_functions
from .serialization import WorkflowCodec
from .unit_of_work import UnitOfWork, WorkEnvironment
from .urgency import Urgency

if TYPE_CHECKING:
    from .scheduler import TimerService

# Called inside the transaction after a task was completed, with the cleaned form data.
CompleteHook = Callable[[UnitOfWork, Task, dict[str, Any]], None]


def load_calendar(settings: Settings) -> StatutoryCalendar:
    """The statutory calendar: package data plus every year file the operator put in instance/calendar/."""
    calendar = StatutoryCalendar()
    load_operator_years(calendar, settings.instance_path / "calendar")
    return calendar


@dataclass
class Core:
    """What runs commands: the database, the statutory clock and the command executor."""

    settings: Settings
    db: Database
    clock: Clock
    calendar: StatutoryCalendar
    deadlines: DeadlineKeeper
    functions: FunctionRegistry
    codec: WorkflowCodec
    script_engine: SafeScriptEngine
    executor: CommandExecutor
    forms: FormStore
    ladder: LadderSettings
    calendar_years: CalendarSync
    complete_hooks: list[CompleteHook] = field(default_factory=list)


@dataclass
class Services:
    """The domain services built on the core."""

    petitions: PetitionRegistry
    escalations: EscalationLadder
    accounts: Accounts
    organisation: Organisation
    orgadmin: OrgAdmin
    users: UserAdmin
    documents: Documents
    public: PublicDesk
    outbox: Outbox
    acts: PetitionActs
    inbox: Inbox
    mailer: Mailer | None  # None: the operator configured no SMTP server


def build_core(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    functions: FunctionRegistry | None = None,
    clock: Clock | None = None,
    calendar: StatutoryCalendar | None = None,
) -> Core:
    settings = settings or Settings.from_env()
    db = database or Database.from_settings(settings)
    functions = functions or default_functions()
    clock = clock or Clock()
    install(clock)
    calendar = calendar or load_calendar(settings)
    ladder = LadderSettings.load(settings.instance_path / "escalation.json")
    deadlines = DeadlineKeeper(
        calendar, load_rules(settings.instance_path / "deadlines.json"), Urgency(ladder.warn_before)
    )
    periods = CalendarFunctions(calendar)
    functions.register("working_days", periods.working_days)
    functions.register("calendar_days", periods.calendar_days)
    functions.register("deadline", deadlines.deadline)
    Routing(db).register(functions)
    codec = WorkflowCodec()
    script_engine = SafeScriptEngine(functions, allow_scripts=settings.allow_scripts)
    environment = WorkEnvironment(codec=codec, functions=functions, now=clock.now, deadlines=deadlines)
    executor = CommandExecutor(db, environment, script_engine)
    return Core(
        settings,
        db,
        clock,
        calendar,
        deadlines,
        functions,
        codec,
        script_engine,
        executor,
        FormStore(db),
        ladder,
        CalendarSync(db, calendar, clock.now, settings.instance_path / "calendar"),
    )


def build_services(core: Core, commands: InstanceCommands) -> Services:
    """The registry, the ladder and the accounts, each wired to the narrow parts it uses."""
    now = core.clock.now
    petitions = PetitionRegistry(
        db=core.db,
        now=now,
        calendar=core.calendar,
        commands=commands,
        reflux_threshold=core.settings.reflux_threshold,
        forms=core.forms,
    )
    # The petition's status and metrics facts follow its procedure in the command's own transaction.
    core.executor.environment.end_hooks.append(petitions.on_instance_end)
    core.complete_hooks.append(petitions.on_task_completed)
    # The ladder and the petitioner's acts see the same clock, calendar, deadlines and commands.
    clocked = {
        "db": core.db,
        "now": now,
        "calendar": core.calendar,
        "deadlines": core.deadlines,
        "commands": commands,
    }
    escalations = EscalationLadder(**clocked, settings=core.ladder)
    acts = PetitionActs(**clocked, registry=petitions)
    accounts, orgadmin = Accounts(core.db, now), OrgAdmin(core.db, now)
    documents = Documents(
        db=core.db, now=now, settings=core.settings, calendar=core.calendar, rules=core.deadlines.rules
    )
    public = PublicDesk(
        db=core.db,
        now=now,
        calendar=core.calendar,
        registry=petitions,
        deadlines=core.deadlines,
        forms=core.forms,
        documents=documents,
        notifier=load_notifier(core.settings.notifier, core.db, now),
        limiter=RateLimiter(core.db, now),
        limits=PublicLimits.from_env(),
    )
    # The evaluation opens when the reply is served and closes with the rating, in the command's transaction.
    core.complete_hooks.append(public.on_task_completed)
    return Services(
        petitions,
        escalations,
        accounts,
        Organisation(core.db),
        orgadmin,
        UserAdmin(core.db, accounts, orgadmin),
        documents,
        public,
        Outbox(core.db, now),
        acts,
        Inbox(core.db, now),
        Mailer(core.db, now, smtp) if (smtp := SmtpSettings.from_env()) else None,
    )


def build_timers(host: TimerHost) -> TimerService:
    """The timer service of one engine, for the one kind of process that fires timers (``petitionflow
    scheduler``, or ``serve`` without workers); it is started and stopped by that process."""
    # Imported here: web workers never fire timers, so they never load APScheduler.
    from .scheduler import TimerService

    return TimerService(host)
