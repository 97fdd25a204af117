"""Repairing running cases: incidents, process instance modification and migration to another version.

- **Incidents** (Camunda's failedJob incidents): a fire of an instance's timers that hit a diagram error leaves
  the instance as it was and one ``incident`` row (message, element, attempts), kept until a fire of that
  instance succeeds; supervisors retry them.
- **Modification** (Camunda 7's ``POST /process-instance/{id}/modification``): ``cancel`` an active step,
  ``startBeforeActivity`` / ``startAfterActivity`` a step, applied to SpiffWorkflow's task tree: a cancelled
  step's task is cancelled with its boundary events (a call activity with its called procedure), a started step
  is a new task grafted under the latest finished task of the (sub)process that holds it, so it inherits the
  case's data and runs as if the flow had arrived there. 退回上一环节 resets the case to the previous human step
  on the current step's path with SpiffWorkflow's own ``reset_from_task_id``, keeping the data entered since.
- **Migration**: a running instance is re-bound to another version of its diagram with SpiffWorkflow's
  ``diff_workflow`` / ``migrate_workflow`` (elements matched by id, or by the plan's mapping). Open human steps
  are re-predicted on the new diagram; waiting timers keep their due time (a statutory period does not restart
  because a diagram was corrected).

Every change runs as one command of the executor (lock, load, apply, save the projections, audit, commit), so
the open tasks, timers and deadlines stay exactly those of the workflow; every change is audited with its
reason. Messages a person reads are Chinese; the error codes stay the API's.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from .errors import InvalidInput, InvalidState
from .models import Incident, Task, Timer
from .unit_of_work import UnitOfWork

ACTIVE_STATES = TaskState.READY | TaskState.WAITING | TaskState.STARTED
FAILED_TIMER = "failedTimer"
INSTRUCTION_TYPES = ("cancel", "startBeforeActivity", "startAfterActivity")
REASON_MAX = 500


def require_reason(reason: Any) -> str:
    """Every repair says why: 1 to 500 characters, kept in the case's history."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise InvalidInput("请填写修复原因（将记入案件的办理过程）", {"fields": {"reason": ["必填项"]}})
    if len(text) > REASON_MAX:
        raise InvalidInput(
            f"修复原因不能超过 {REASON_MAX} 个字", {"fields": {"reason": [f"不能超过 {REASON_MAX} 个字"]}}
        )
    return text


# -- incidents ---------------------------------------------------------------------------------------------------
def record_incident(
    session: Session, instance_id: str, business_key: str | None, error: Exception, now: datetime
) -> Incident:
    """The instance's incident with this failure: a new one, or the open one with one attempt more and the new
    message."""
    details = getattr(error, "details", None) or {}
    message = str(error)[:2000]
    incident = session.scalar(select(Incident).where(Incident.instance_id == instance_id))
    if incident is None:
        incident = Incident(
            instance_id=instance_id,
            business_key=business_key,
            kind=FAILED_TIMER,
            element_id=details.get("element"),
            message=message,
            attempts=1,
            created_at=now,
            failed_at=now,
        )
        session.add(incident)
    else:
        incident.attempts += 1
        incident.message = message
        incident.failed_at = now
        incident.element_id = details.get("element") or incident.element_id
    session.flush()
    return incident


def _ending(instance_ids: Sequence[str]) -> Any:
    table = Incident.__table__
    return delete(table).where(table.c.instance_id.in_(instance_ids))


def resolve_incident(work: UnitOfWork) -> None:
    """The instance's timers fired: its incident, if it had one, is over (written with the fire)."""
    work.write(_ending([work.row.id]))


def resolve_incidents(session: Session, instance_ids: Sequence[str]) -> None:
    """A batch of instances fired in this transaction: their incidents, if any, are over, in one statement
    rather than one per fired instance (the table is almost always empty)."""
    if instance_ids:
        session.execute(_ending(instance_ids))


# -- modification ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruction:
    """One step of a modification, as Camunda names it; ``activity_instance_id`` is an open task's id."""

    type: str
    activity_id: str | None = None
    activity_instance_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"type": self.type, "activityId": self.activity_id}
        if self.activity_instance_id:
            out["activityInstanceId"] = self.activity_instance_id
        return out


def parse_instructions(raw: Any) -> list[Instruction]:
    """Camunda's instruction list; each problem named by its position."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("请至少给出一条修改指令", {"fields": {"instructions": ["至少一条"]}})
    problems: dict[str, list[str]] = {}
    out = []
    for index, item in enumerate(raw):
        where = f"instructions.{index}"
        if not isinstance(item, Mapping):
            problems[where] = ["每条指令是一个对象"]
            continue
        kind = item.get("type")
        activity = item.get("activityId")
        instance = item.get("activityInstanceId")
        if any(v is not None and not isinstance(v, str) for v in (activity, instance)):
            problems[where] = ["activityId 和 activityInstanceId 须为文本"]
            continue
        if kind not in INSTRUCTION_TYPES:
            problems[f"{where}.type"] = ["指令类型只能是 cancel、startBeforeActivity 或 startAfterActivity"]
            continue
        if kind == "cancel" and bool(activity) == bool(instance):
            problems[where] = ["取消指令须且只须给出 activityId 或 activityInstanceId 之一"]
            continue
        if kind != "cancel" and not (isinstance(activity, str) and activity):
            problems[f"{where}.activityId"] = ["必填项"]
            continue
        out.append(Instruction(kind, activity or None, instance or None))
    if problems:
        raise InvalidInput(f"{len(problems)} 条修改指令有误", {"fields": problems})
    return out


def _element_name(spec: Any) -> str:
    return spec.bpmn_name or spec.bpmn_id


def _workflows(workflow: BpmnWorkflow) -> list[Any]:
    return [workflow, *workflow.subprocesses.values()]


def _active(workflow: BpmnWorkflow) -> list[Any]:
    return [
        t
        for t in workflow.get_tasks(state=ACTIVE_STATES)
        if t.task_spec.bpmn_id and not isinstance(t.task_spec, BoundaryEventJoin)
    ]


def _forget_removed_events(workflow: BpmnWorkflow) -> None:
    """SpiffWorkflow 3.2 keeps a waiting event's task in its event manager after a reset removed the task from
    the tree (its refresh_timers then fails on it): forget the tasks no (sub)process holds any more."""
    held = {task_id for each in _workflows(workflow) for task_id in each.tasks}
    manager = workflow.event_manager
    for task_id in [t for t in manager.tasks if t not in held]:
        manager.tasks.pop(task_id)


def _cancel_task(workflow: BpmnWorkflow, task: Any) -> None:
    """Cancel one active step: a task with boundary events goes with them, a call activity with its procedure."""
    if task.id in workflow.subprocesses:
        workflow.delete_subprocess(task)
    parent = task.parent
    if (
        parent is not None
        and isinstance(parent.task_spec, BoundaryEventSplit)
        and not isinstance(task.task_spec, BoundaryEvent)
    ):
        parent.cancel()
    else:
        task.cancel()


def _cancel(workflow: BpmnWorkflow, instruction: Instruction) -> None:
    active = _active(workflow)
    if instruction.activity_instance_id:
        found = [t for t in active if str(t.id) == instruction.activity_instance_id]
        what = instruction.activity_instance_id
    else:
        found = [t for t in active if t.task_spec.bpmn_id == instruction.activity_id]
        what = instruction.activity_id
    if not found:
        raise InvalidInput(
            f"案件当前不在环节「{what}」，无法取消",
            {"activityId": instruction.activity_id, "activityInstanceId": instruction.activity_instance_id},
        )
    for task in found:
        if task.has_state(ACTIVE_STATES):  # a boundary event cancelled with its task is no longer active
            _cancel_task(workflow, task)


def _holder(workflow: BpmnWorkflow, element_id: str) -> tuple[Any, Any]:
    """The (sub)process, running now, whose diagram has ``element_id``, and that element's spec."""
    for each in _workflows(workflow):
        spec = each.spec.task_specs.get(element_id)
        if spec is not None and getattr(spec, "bpmn_id", None) == element_id and not each.completed:
            return each, spec
    known = any(element_id in s.task_specs for s in (workflow.spec, *workflow.subprocess_specs.values()))
    if known:
        raise InvalidInput(
            f"环节「{element_id}」所在的子流程当前没有运行，无法从该环节开始", {"activityId": element_id}
        )
    raise InvalidInput(f"流程图中没有环节「{element_id}」", {"activityId": element_id})


def _entry(spec: Any) -> Any:
    """Where a token enters a step: a task with boundary events is entered through their split."""
    return next((i for i in spec.inputs if isinstance(i, BoundaryEventSplit)), spec)


def _successors(spec: Any) -> list[Any]:
    out = []
    for output in spec.outputs:
        out += output.outputs if isinstance(output, BoundaryEventJoin) else [output]
    return out


def _start_before(holder: Any, spec: Any) -> None:
    """A new token before ``spec``: a task grafted under the latest finished task of its (sub)process."""
    finished = [t for t in holder.tasks.values() if t.state == TaskState.COMPLETED]
    if not finished:
        raise InvalidState("该子流程尚未开始，无法从其中的环节开始", {"activityId": spec.bpmn_id})
    anchor = max(finished, key=lambda t: t.last_state_change)
    task = anchor._add_child(_entry(spec), TaskState.FUTURE)
    # As SpiffWorkflow's own reset_branch does: predict what follows, then let the task become ready.
    task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
    task.task_spec._update(task)


def _start(workflow: BpmnWorkflow, instruction: Instruction) -> None:
    element = instruction.activity_id or ""
    holder, spec = _holder(workflow, element)
    if instruction.type == "startBeforeActivity":
        _start_before(holder, spec)
        return
    following = _successors(spec)
    if len(following) != 1:
        raise InvalidInput(
            f"环节「{_element_name(spec)}」之后有 {len(following)} 条去向，无法确定从哪里继续；请改用从某环节之前开始",
            {"activityId": element},
        )
    _start_before(holder, following[0])


def _end_idle_subprocesses(workflow: BpmnWorkflow) -> None:
    """A called procedure left with no active step is cancelled with its call activity, so that it does not
    end as if its work were done."""
    changed = True
    while changed:
        changed = False
        for sp_id, sp in list(workflow.subprocesses.items()):
            caller = workflow.get_task_from_id(sp_id)
            # (A procedure whose steps were all cancelled counts as completed, yet never reached its end.)
            if caller is None or not caller.has_state(ACTIVE_STATES):
                continue
            if not any(t.has_state(ACTIVE_STATES | TaskState.FUTURE) for t in sp.tasks.values()):
                _cancel_task(workflow, caller)
                changed = True


def modify(work: UnitOfWork, instructions: Sequence[Instruction], reason: str, actor: str | None) -> None:
    """Apply Camunda's instructions in order, then run the engine; refused (nothing changes) when they would
    leave the case with no active step: ending a case is 撤销, with its own rules."""
    work.require_active()
    workflow = work.workflow
    assert workflow is not None

    def apply() -> None:
        for instruction in instructions:
            if instruction.type == "cancel":
                _cancel(workflow, instruction)
                _end_idle_subprocesses(workflow)
            else:
                _start(workflow, instruction)
        _forget_removed_events(workflow)

    work.run(apply)  # due timers fire with it: when they went through, an incident of theirs is over
    resolve_incident(work)
    if not _active(workflow):
        raise InvalidInput(
            "修改后案件将没有任何进行中的环节；如需终止案件，请使用「撤销」", {"instance": work.row.id}
        )
    work.audit(
        "instance.modified",
        actor=actor,
        data={"reason": reason, "instructions": [i.to_dict() for i in instructions]},
    )


def _ancestors(workflow: BpmnWorkflow, task: Any) -> Iterable[Any]:
    """The tasks before ``task`` on its path, nearest first, through the call activity into its caller."""
    current = task.parent
    while current is not None:
        yield current
        if current.parent is None and current.workflow.parent_task_id is not None:
            current = workflow.get_task_from_id(current.workflow.parent_task_id)
        else:
            current = current.parent


def _previous_human_step(workflow: BpmnWorkflow, task: Any) -> Any | None:
    for earlier in _ancestors(workflow, task):
        if earlier.id in workflow.subprocesses and earlier.state == TaskState.COMPLETED:
            # A called procedure finished before this step: its last human step came just before.
            inside = [
                t
                for t in workflow.subprocesses[earlier.id].tasks.values()
                if t.state == TaskState.COMPLETED and t.task_spec.manual
            ]
            if inside:
                return max(inside, key=lambda t: t.last_state_change)
        if earlier.state == TaskState.COMPLETED and earlier.task_spec.manual:
            return earlier
    return None


def move_back(work: UnitOfWork, task_id: str | None, reason: str, actor: str | None) -> str:
    """退回上一环节: the current human step is cancelled and the case waits again at the human step before it on
    its path (SpiffWorkflow's reset_from_task_id), with the data entered since. Returns the step's element."""
    work.require_active()
    workflow = work.workflow
    assert workflow is not None
    current = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual]
    if task_id is not None:
        current = [t for t in current if str(t.id) == task_id]
    if not current:
        raise InvalidState("案件当前没有可退回的人工环节", {"instance": work.row.id, "task": task_id})
    if len(current) > 1:
        raise InvalidInput(
            "案件有多个并行的环节，请指明退回哪一个（taskId）",
            {"tasks": {str(t.id): t.task_spec.bpmn_id for t in current}},
        )
    step = current[0]
    previous = _previous_human_step(workflow, step)
    if previous is None:
        raise InvalidState(
            f"「{_element_name(step.task_spec)}」之前没有人工环节，无法退回", {"task": str(step.id)}
        )
    data = copy.deepcopy(step.data)

    def reset() -> None:
        workflow.reset_from_task_id(previous.id)
        _forget_removed_events(workflow)
        previous.data.update(data)

    work.run(reset)
    resolve_incident(work)
    work.audit(
        "instance.moved_back",
        actor=actor,
        element=previous.task_spec.bpmn_id,
        data={
            "reason": reason,
            "name": previous.task_spec.bpmn_name,
            "from": step.task_spec.bpmn_id,
            "fromName": step.task_spec.bpmn_name,
        },
    )
    return str(previous.task_spec.bpmn_id)


# -- migration ---------------------------------------------------------------------------------------------------
@dataclass
class MigrationPlan:
    """From one definition version to another; ``mapping``: source element id -> target element id, for the
    elements whose ids differ (the rest are matched by id)."""

    source_id: str
    target_id: str
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class InstanceMove:
    """What one instance would become: its active steps mapped (from, to), or why it cannot move."""

    instance_id: str
    business_key: str | None
    activities: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The active steps the target version has no element for (the plan may map them).
    unmapped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def movable(self) -> bool:
        return not self.problems


def check_mapping(
    plan: MigrationPlan, source: tuple[Any, dict[str, Any]], target: tuple[Any, dict[str, Any]]
) -> None:
    """Every mapped element exists on its side; refused as a whole otherwise."""
    problems: dict[str, list[str]] = {}
    source_ids = _element_ids(*source)
    target_ids = _element_ids(*target)
    for old, new in plan.mapping.items():
        if old not in source_ids:
            problems[f"mapping.{old}"] = [f"原版本中没有环节「{old}」"]
        elif new not in target_ids:
            problems[f"mapping.{old}"] = [f"新版本中没有环节「{new}」"]
    if problems:
        raise InvalidInput("迁移计划的环节对应有误", {"fields": problems})


def _element_ids(spec: Any, subprocess_specs: dict[str, Any]) -> set[str]:
    return {
        t.bpmn_id
        for each in (spec, *subprocess_specs.values())
        for t in each.task_specs.values()
        if t.bpmn_id
    }


class _Rebinding:
    """The diff of one workflow against the target diagrams, with the plan's mapping laid over it."""

    def __init__(
        self,
        registry: Any,
        workflow: BpmnWorkflow,
        target: tuple[Any, dict[str, Any]],
        mapping: dict[str, str],
    ) -> None:
        self.workflow = workflow
        self.target_spec, self.target_deps = target
        self.top, self.subprocesses = diff_workflow(registry, workflow, self.target_spec, self.target_deps)
        self.mapping = mapping

    def _diff_of(self, task: Any) -> tuple[Any, Any]:
        """The workflow diff of the (sub)process holding ``task`` and that (sub)process's target spec."""
        if task.workflow is self.workflow:
            return self.top, self.target_spec
        sp_id = next(k for k, v in self.workflow.subprocesses.items() if v is task.workflow)
        name = task.workflow.spec.name
        return self.subprocesses.get(sp_id), self.target_deps.get(name)

    def _apply_mapping(self) -> None:
        for task in self.workflow.get_tasks():
            mapped = self.mapping.get(task.task_spec.bpmn_id or "")
            diff, spec = self._diff_of(task)
            if mapped is None or diff is None or spec is None or mapped not in spec.task_specs:
                continue
            diff.alignment[task] = spec.task_specs[mapped]
            if task in diff.removed:
                diff.removed.remove(task)

    def report(self, move: InstanceMove) -> None:
        self._apply_mapping()
        for task in _active(self.workflow):
            source = task.task_spec
            diff, spec = self._diff_of(task)
            if diff is None or spec is None:
                move.problems.append(
                    f"子流程「{task.workflow.spec.description or task.workflow.spec.name}」在新版本中不存在"
                )
                continue
            aligned = diff.alignment.get(task)
            if (
                aligned is not None
                and aligned.bpmn_id != source.bpmn_id
                and source.bpmn_id not in self.mapping
            ):
                # Elements are matched by id; SpiffWorkflow's guess from the flows around them is not a plan.
                aligned = None
            if aligned is None:
                move.unmapped.append({"id": source.bpmn_id, "name": source.bpmn_name})
                move.problems.append(
                    f"环节「{_element_name(source)}」在新版本中不存在，且迁移计划没有为它指定对应环节"
                )
                continue
            move.activities.append(
                {
                    "from": source.bpmn_id,
                    "fromName": source.bpmn_name,
                    "to": aligned.bpmn_id,
                    "toName": aligned.bpmn_name,
                    "state": TaskState.get_name(task.state),
                }
            )

    def apply(self) -> None:
        """Re-bind the task tree: specs aligned, open human steps re-predicted on the new diagram with their
        data kept, waiting events (timers) untouched so their due times stand."""
        kept = {t.id: copy.deepcopy(t.data) for t in self.workflow.get_tasks(state=TaskState.READY)}
        for sp_id, sp in list(self.workflow.subprocesses.items()):
            diff = self.subprocesses.get(sp_id)
            migrate_workflow(diff, sp, self.target_deps[sp.spec.name], reset_mask=TaskState.READY)
        migrate_workflow(self.top, self.workflow, self.target_spec, reset_mask=TaskState.READY)
        self.workflow.subprocess_specs = self.target_deps
        _forget_removed_events(self.workflow)
        for task in self.workflow.get_tasks(state=TaskState.READY):
            if task.id in kept:
                task.data.update(kept[task.id])


def plan_move(
    registry: Any,
    workflow: BpmnWorkflow,
    target: tuple[Any, dict[str, Any]],
    mapping: dict[str, str],
    move: InstanceMove,
) -> _Rebinding:
    """Fill ``move`` with what the instance would become; returns the rebinding that executes it."""
    rebinding = _Rebinding(registry, workflow, target, mapping)
    rebinding.report(move)
    return rebinding


def migrate(
    work: UnitOfWork,
    registry: Any,
    target_definition: Any,
    target: tuple[Any, dict[str, Any]],
    plan: MigrationPlan,
    reason: str | None,
    actor: str | None,
) -> InstanceMove:
    """Move one instance to the target version; refused (nothing changes) when it cannot move."""
    row = work.row
    workflow = work.workflow
    assert workflow is not None
    if row.definition_id != plan.source_id:
        raise InvalidState(
            "案件已不在迁移计划的原版本上", {"instance": row.id, "definition": row.definition_id}
        )
    move = InstanceMove(row.id, row.business_key)
    rebinding = plan_move(registry, workflow, target, plan.mapping, move)
    if not move.movable:
        raise InvalidState("；".join(move.problems), {"instance": row.id, "problems": move.problems})
    rebinding.apply()
    source_version = row.definition_id
    row.definition_id = target_definition.id
    tasks, timers = Task.__table__, Timer.__table__
    work.write(update(tasks).where(tasks.c.instance_id == row.id).values(definition_id=target_definition.id))
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        spec = task.task_spec
        if str(task.id) in work.open_before:  # an open step keeps its row (and claim), under its new name
            work.write(
                update(tasks)
                .where(tasks.c.id == str(task.id))
                .values(element_id=spec.bpmn_id, name=spec.bpmn_name)
            )
        if str(task.id) in work.timers_before:
            work.write(update(timers).where(timers.c.id == str(task.id)).values(element_id=spec.bpmn_id))
    work.audit(
        "instance.migrated",
        actor=actor,
        data={
            "reason": reason,
            "from": source_version,
            "to": target_definition.id,
            "version": target_definition.version,
            "activities": move.activities,
        },
    )
    return move
