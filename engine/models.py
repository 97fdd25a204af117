"""The database tables.

Instance state is SpiffWorkflow's own serialization (without the spec, which is stored once per definition
version). Everything a list or a cockpit needs is kept in projection tables written in the same transaction,
so queries never deserialize a workflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite stores naive values and forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Deployment(Base):
    __tablename__ = "deployment"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str | None] = mapped_column(String(200))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    deployed_by: Mapped[str | None] = mapped_column(String(100))


class Resource(Base):
    """A file as it was deployed, kept verbatim so Modeler and the cockpit can show exactly that version."""

    __tablename__ = "resource"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))  # bpmn | form
    checksum: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)


class ProcessDefinition(Base):
    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # key:version:deployment-prefix
    key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(200))
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    checksum: Mapped[str] = mapped_column(String(64))
    spec_json: Mapped[str] = mapped_column(Text)
    form_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)

    resource: Mapped[Resource] = relationship(lazy="raise")


class FormVersion(Base):
    __tablename__ = "form_version"
    __table_args__ = (UniqueConstraint("form_key", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_key: Mapped[str] = mapped_column(String(100), index=True)
    version: Mapped[int] = mapped_column(Integer)
    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployment.id"), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    checksum: Mapped[str] = mapped_column(String(64))
    schema_json: Mapped[str] = mapped_column(Text)

    resource: Mapped[Resource] = relationship(lazy="raise")


class Instance(Base):
    __tablename__ = "instance"
    __table_args__ = (
        Index("ix_instance_state_key", "state", "definition_key"),
        Index("ix_instance_state_started", "state", "started_at", "id"),
        Index("ix_instance_next_timer", "next_timer_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("process_definition.id"), index=True)
    definition_key: Mapped[str] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    state: Mapped[str] = mapped_column(String(20))  # active | suspended | completed | cancelled
    # Optimistic lock: every write says "where version = the one I read", so no update is ever lost.
    version: Mapped[int] = mapped_column(Integer, default=1)
    state_json: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    next_timer_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    active_elements: Mapped[list[str]] = mapped_column(JSON, default=list)
    parent_instance_id: Mapped[str | None] = mapped_column(String(36), index=True)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Task(Base):
    """An open human task: the projection every task list reads."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_assignee_due", "assignee", "due_at"),
        Index("ix_task_instance", "instance_id"),
        Index("ix_task_instance_deadline", "instance_id", "deadline_name"),
        # The task lists' own order (overdue and soonest due first): a LIMIT reads that many index entries
        # instead of sorting every open task of a group.
        Index("ix_task_list_order", text("(due_at IS NULL)"), "due_at", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instance.id"))
    definition_id: Mapped[str] = mapped_column(String(120))
    definition_key: Mapped[str] = mapped_column(String(100), index=True)
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    assignee: Mapped[str | None] = mapped_column(String(100))
    candidate_users: Mapped[list[str]] = mapped_column(JSON, default=list)
    candidate_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    form_ref: Mapped[str | None] = mapped_column(String(100))
    form_version: Mapped[int | None] = mapped_column(Integer)
    form_key: Mapped[str | None] = mapped_column(String(300))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # The statutory deadline governing the step (engine/stages.py) and the ladder's warning moment before
    # its due time; none for a step outside any statutory period.
    deadline_name: Mapped[str | None] = mapped_column(String(50))
    warn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    follow_up_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    priority: Mapped[int] = mapped_column(Integer, default=50)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    # The unit the task belongs to (docs/organisation.md): the unit of its unit group, else its assignee's
    # unit, else None (the petition bureau's own, county-wide steps).
    unit_code: Mapped[str | None] = mapped_column(String(100), index=True)


class TaskCandidate(Base):
    """One row per candidate user or group, so "tasks my groups may take" is an indexed join."""

    __tablename__ = "task_candidate"
    __table_args__ = (Index("ix_task_candidate_name", "kind", "name"),)

    task_id: Mapped[str] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(5), primary_key=True)  # user | group
    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class Timer(Base):
    """A waiting BPMN timer; the scheduler reads these to know when to fire."""

    __tablename__ = "timer"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the waiting task's id
    instance_id: Mapped[str] = mapped_column(ForeignKey("instance.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_instance_at", "instance_id", "id"),
        # "Was this task ever open?": a command on a completed task answers 409, one on an unknown task 404.
        Index("ix_audit_task", "task_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36))
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    data: Mapped[dict | None] = mapped_column(JSON)


class Incident(Base):
    """A fire of an instance's timers that failed (a diagram error) and has not succeeded since: what
    supervisors retry from the incident list (Camunda's failedJob incident). The row goes when a fire of the
    instance succeeds; the history keeps the first failure (timer.failed) and each retry."""

    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instance.id"), unique=True)
    business_key: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(30))  # failedTimer
    element_id: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class MigrationBatch(Base):
    """A migration run in the background (Camunda 7's migration batch): the plan, why and by whom; the
    scheduler works off its items a slice per tick. ``state``: running, then completed."""

    __tablename__ = "migration_batch"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source_definition_id: Mapped[str] = mapped_column(String(120))
    target_definition_id: Mapped[str] = mapped_column(String(120))
    mapping: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(100))
    batch_size: Mapped[int] = mapped_column(Integer)  # cases per tick
    state: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MigrationBatchItem(Base):
    """One case of a batch: pending, then migrated (written in the transaction that migrated it, so a case is
    never migrated twice) or failed with the reason in Chinese."""

    __tablename__ = "migration_batch_item"
    __table_args__ = (Index("ix_migration_batch_item_state", "batch_id", "state", "position"),)

    batch_id: Mapped[str] = mapped_column(
        ForeignKey("migration_batch.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    business_key: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10))  # pending, migrated, failed
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Deadline(Base):
    """A statutory deadline of one instance, with its legal basis, pauses, extension and outcome."""

    __tablename__ = "deadline"
    __table_args__ = (
        UniqueConstraint("instance_id", "name", "period"),
        Index("ix_deadline_open_due", "outcome", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instance.id"))
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(50))
    period: Mapped[int] = mapped_column(Integer, default=1)  # a deadline asked for again after it closed
    basis: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(10))
    length: Mapped[int] = mapped_column(Integer)
    anchor: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Due without pauses (the extension included); the effective due adds paused_seconds.
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    extended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))  # on_time | overdue
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CalendarYear(Base):
    """A year's official schedule added through the API or the command line: the copy every process reads.

    ``generation`` is one more than the highest before each save, so a process learns that the calendar changed
    from one indexed ``max(generation)`` and reads only the rows newer than the ones it has.
    """

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    region: Mapped[str] = mapped_column(String(20))
    document: Mapped[dict] = mapped_column(JSON)  # the operator file format (engine.calendar)
    generation: Mapped[int] = mapped_column(Integer, index=True)
    saved_at: Mapped[datetime] = mapped_column(UtcDateTime)
    saved_by: Mapped[str | None] = mapped_column(String(100))


class CalendarApplied(Base):
    """The one row saying up to which calendar generation the open deadlines were recomputed."""

    __tablename__ = "calendar_applied"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    generation: Mapped[int] = mapped_column(Integer)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)


# APScheduler's job table, declared here so that migrations create it and schema checks know it. The layout
# is APScheduler 3's own (SQLAlchemyJobStore), which reads and writes it.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class Petition(Base):
    """One petition (信访事项) as registered; its number is the business key of its process instance."""

    __tablename__ = "petition"
    __table_args__ = (
        Index("ix_petition_person_matter", "petitioner_key", "matter_key"),
        Index("ix_petition_status_unit", "status", "involved_unit"),
        Index("ix_petition_id_number", "id_number"),
        Index("ix_petition_received_at", "received_at"),
        # Searches on PostgreSQL: words of the subject and content by trigrams (pg_trgm), the beginning of a
        # name or a phone by pattern B-trees. SQLite scans (the embedded database of one office).
        *(
            Index(
                f"ix_petition_{column}_trgm",
                column,
                postgresql_using="gin",
                postgresql_ops={column: "gin_trgm_ops"},
            ).ddl_if(dialect="postgresql")
            for column in ("subject", "content")
        ),
        *(
            Index(
                f"ix_petition_{column}_prefix", column, postgresql_ops={column: "varchar_pattern_ops"}
            ).ddl_if(dialect="postgresql")
            for column in ("petitioner_name", "phone")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(30), unique=True)
    petitioner_name: Mapped[str] = mapped_column(String(100), index=True)
    id_type: Mapped[str | None] = mapped_column(String(20))
    id_number: Mapped[str | None] = mapped_column(String(40))
    phone: Mapped[str | None] = mapped_column(String(30))
    address: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(10))
    received_at: Mapped[date] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(
        String(20)
    )  # known after the acceptance review at the latest
    involved_unit: Mapped[str | None] = mapped_column(String(100))
    # The unit code responsible for the item (process variable responsibleUnit), kept as it changes.
    responsible_unit: Mapped[str | None] = mapped_column(String(100), index=True)
    place: Mapped[str | None] = mapped_column(String(100))
    people_count: Mapped[int] = mapped_column(Integer, default=1)
    representatives: Mapped[list[dict]] = mapped_column(JSON, default=list)
    agent: Mapped[str | None] = mapped_column(String(100))
    major_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_level: Mapped[bool] = mapped_column(Boolean, default=False)
    # Derived at registration from earlier petitions of the same person and matter.
    petitioner_key: Mapped[str] = mapped_column(String(64))
    matter_key: Mapped[str] = mapped_column(String(64))
    is_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    first_turned_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    same_matter_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    matter_terminated: Mapped[bool] = mapped_column(Boolean, default=False)
    reflux_count: Mapped[int] = mapped_column(Integer, default=0)
    previous_number: Mapped[str | None] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20), default="registered")
    outcome: Mapped[str | None] = mapped_column(String(40))
    # Facts the statutory metrics count, kept current as the procedure's forms are completed.
    rating: Mapped[str | None] = mapped_column(String(30))
    packaged: Mapped[bool] = mapped_column(Boolean, default=False)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    registered_by: Mapped[str | None] = mapped_column(String(100))
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Counter(Base):
    """Gap-free numbering (petition numbers per year), incremented under a row lock."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class Escalation(Base):
    """A step of the escalation ladder: warning, supervision (督办), listing (挂牌) or a patrol finding (网巡)."""

    __tablename__ = "escalation"
    __table_args__ = (Index("ix_escalation_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # What makes a step unique (one warning per deadline, one finding per case a day, one listing a period).
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    business_key: Mapped[str | None] = mapped_column(String(100), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    deadline_name: Mapped[str | None] = mapped_column(String(50))
    unit: Mapped[str | None] = mapped_column(String(100), index=True)
    reason: Mapped[str] = mapped_column(String(300))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    details: Mapped[dict | None] = mapped_column(JSON)


class User(Base):
    """A person who signs in: their roles (what they may do) and groups (which tasks are offered to them)."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(300))
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ApiToken(Base):
    """A bearer token; only its SHA-256 is stored, so a database leak does not leak working tokens."""

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Every token ends: a script's forgotten token stops working on its own (PETITIONFLOW_TOKEN_DAYS).
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in browser. The cookie carries a random key and this table its SHA-256, so that logout, a
    password change or a disabled account ends the session on every worker and host at once."""

    __tablename__ = "web_session"

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Refreshed at most once a minute, so the idle limit holds without a write on every request.
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class LoginFailure(Base):
    """One wrong password, counted per account ("user:<name>") and per client address ("addr:<ip>").

    In the database rather than in a worker's memory, so the limit holds across all workers and hosts.
    """

    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrgUnit(Base):
    """A unit of the organisation (机关、部门、乡镇街道...), in a tree by ``parent_code``."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(100), primary_key=True)  # e.g. county.zjw
    name: Mapped[str] = mapped_column(String(200))
    parent_code: Mapped[str | None] = mapped_column(String(100), index=True)
    level: Mapped[str] = mapped_column(String(20))  # province | city | county | township | village
    kind: Mapped[str] = mapped_column(String(30))  # organisation.KINDS
    # Its 上一级机关 for 复查 (domain.md §9); None at the top of the loaded tree.
    review_organ_code: Mapped[str | None] = mapped_column(String(100))


class UnitMember(Base):
    """A person's position in a unit; a person may hold several."""

    __tablename__ = "unit_members"
    __table_args__ = (Index("ix_unit_members_unit_position", "unit_code", "position"),)

    login: Mapped[str] = mapped_column(String(100), primary_key=True)
    unit_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[str] = mapped_column(String(20), primary_key=True)  # organisation.POSITIONS
    rank: Mapped[int | None] = mapped_column(Integer)  # leaders only: organisation.RANKS


class StoredFile(Base):
    """The bytes of an uploaded file or an issued document, once per content (SHA-256): a scan attached to two
    petitions, or uploaded twice, is stored once. In the database, written in the transaction of the command
    that attaches it, so every worker on every host reads it and a rolled-back command leaves none behind."""

    __tablename__ = "stored_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Attachment(Base):
    """A file attached to a petition: at registration, with a task's form, by the petitioner, or a receipt."""

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_petition", "petition_number", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_number: Mapped[str] = mapped_column(String(30))
    origin: Mapped[str] = mapped_column(String(20))  # petition | task | petitioner | receipt
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Document(Base):
    """A written notice issued on a petition: numbered per organ and year (文号), its PDF stored once and never
    changed (the checksum is the stored file's key), and its service (送达) recorded once."""

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("organ", "year", "serial"),
        Index("ix_document_petition", "petition_number", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    petition_number: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(100))
    organ: Mapped[str] = mapped_column(String(100))
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    doc_number: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_file.sha256"))
    size: Mapped[int] = mapped_column(Integer)
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(100))
    issued_by: Mapped[str | None] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime)
    served_on: Mapped[date | None] = mapped_column(Date)
    service_method: Mapped[str | None] = mapped_column(String(20))
    receiver: Mapped[str | None] = mapped_column(String(100))
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    service_recorded_by: Mapped[str | None] = mapped_column(String(100))
    service_recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class QueryCode(Base):
    """The petitioner's query code (查询码) of one item: only a salted, slow hash of it is kept, so neither a
    database copy nor an official can read it back; the petitioner sees it once and gets it by message."""

    __tablename__ = "query_code"

    number: Mapped[str] = mapped_column(String(30), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OutboxMessage(Base):
    """A message to a petitioner waiting for the operator's gateway (SMS): written in the transaction that
    produced it, so nothing is announced that was not stored, and nothing stored is forgotten."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(10))  # sms
    recipient: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(30))
    business_key: Mapped[str | None] = mapped_column(String(30), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RateLimit(Base):
    """Attempts counted per key (a hashed client address or item number) in a fixed window, in the database
    so every worker and host shares one count."""

    __tablename__ = "rate_limit"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Evaluation(Base):
    """满意度评价 of one item: opened when the written reply is served (the item becomes eligible, which 参评率
    counts), rated once by the petitioner online or recorded by the office on their behalf."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business_key: Mapped[str] = mapped_column(String(30), unique=True)
    # The unit that first handled the item: the one evaluated (谁初次办理、谁接受评价, MYD14 Arts. 4-5).
    unit: Mapped[str] = mapped_column(String(100), index=True)
    eligible_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    rating: Mapped[str | None] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(10))  # web | office
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SavedFilter(Base):
    """A user's saved filter of a list (Camunda Tasklist's filters): its name and the list's criteria, as the
    list's own query parameters."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("username", "list_name", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100))
    list_name: Mapped[str] = mapped_column(String(20))  # tasks | petitions | instances
    name: Mapped[str] = mapped_column(String(60))
    criteria: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Notification(Base):
    """An entry of an official's inbox (站内通知): a task offered to them or to a group they belong to, a deadline
    warning or a supervision (督办) addressed to them. Written in the transaction that produced it (a command
    that opens tasks writes its rows in one statement), so nothing is announced that was not stored; e-mail,
    when the operator configures SMTP, is sent from these rows after the commit (``email_status``)."""

    __tablename__ = "notification"
    __table_args__ = (
        Index("ix_notification_addressee_id", "addressee", "id"),
        Index("ix_notification_email_status_id", "email_status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # task | warning | supervision
    addressee: Mapped[str] = mapped_column(String(150))  # a login or a group (unit:<code>:<position>)
    title: Mapped[str] = mapped_column(String(300))
    business_key: Mapped[str | None] = mapped_column(String(100))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    task_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    email_status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sent | failed | none


class NotificationRead(Base):
    """Who has read which inbox entry: an entry addressed to a group is read by each member for themselves."""

    __tablename__ = "notification_read"

    notification_id: Mapped[int] = mapped_column(
        ForeignKey("notification.id", ondelete="CASCADE"), primary_key=True
    )
    login: Mapped[str] = mapped_column(String(100), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NotificationEmail(Base):
    """The address an official chose for e-mail copies of their inbox (optional, their own choice)."""

    __tablename__ = "notification_email"

    login: Mapped[str] = mapped_column(String(100), primary_key=True)
    address: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
