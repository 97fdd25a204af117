"""Deploying diagrams and forms: validation, immutable versions, duplicate filtering.

A definition version never changes once stored. Deploying content whose parsed spec is identical to the
latest version of its key is a no-op; anything else becomes version n+1, and running instances keep the
version they started on.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .errors import DeploymentInvalid, InvalidState, NotFound
from .formlinks import form_file_key
from .forms import FormDefinitionError, parse_form
from .models import Deployment, FormVersion, Instance, OrgUnit, ProcessDefinition, Resource
from .parsing import ENGINE_REFUSED, BpmnFile, DefinitionChecker, Problem
from .serialization import WorkflowCodec

UNSUPPORTED_FILE = "只能部署 .bpmn 流程图和 .form 表单文件"


@dataclass(frozen=True)
class DeployFile:
    name: str
    content: bytes

    @property
    def kind(self) -> str | None:
        suffix = Path(self.name).suffix.lower()
        return {".bpmn": "bpmn", ".xml": "bpmn", ".form": "form"}.get(suffix)


@dataclass
class DeployedDefinition:
    id: str
    key: str
    version: int
    name: str | None
    resource: str
    deployment_id: str
    new: bool


@dataclass
class DeploymentResult:
    id: str
    name: str
    source: str | None
    tenant_id: str | None
    deployed_at: datetime
    created: bool
    definitions: list[DeployedDefinition] = field(default_factory=list)
    forms: dict[str, int] = field(default_factory=dict)  # form key -> version


def read_files(paths: Iterable[Path]) -> list[DeployFile]:
    """The .bpmn and .form files named, directories expanded (sorted, so versions are reproducible)."""
    files: list[DeployFile] = []
    for path in paths:
        if path.is_dir():
            members = sorted(p for p in path.rglob("*") if p.suffix in {".bpmn", ".form"})
        else:
            members = [path]
        files.extend(DeployFile(str(p), p.read_bytes()) for p in members)
    return files


def _checksum(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def latest_definition(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
    ).first()


class DefinitionStore:
    """Validation and deployment of definitions, over a session the caller's transaction owns."""

    def __init__(self, codec: WorkflowCodec, functions: Iterable[str], *, allow_scripts: bool) -> None:
        self.codec = codec
        self.functions = frozenset(functions)
        self.allow_scripts = allow_scripts

    def _deployed_forms(self, session: Session) -> set[str]:
        return set(session.scalars(select(FormVersion.form_key).distinct()))

    def _deployed_form_files(self, session: Session) -> dict[str, str]:
        """The file name each deployed form was deployed under -> its key (the newest such file wins)."""
        rows = session.execute(
            select(Resource.name, FormVersion.form_key)
            .join(Resource, Resource.id == FormVersion.resource_id)
            .order_by(FormVersion.id)
        )
        return {name: key for name, key in rows}

    def _deployed_processes(self, session: Session, exclude: set[str]) -> dict[str, BpmnFile]:
        """The latest deployed file of every process key, so new diagrams may call them."""
        latest = (
            select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
            .group_by(ProcessDefinition.key)
            .subquery()
        )
        rows = session.execute(
            select(ProcessDefinition.key, Resource.name, Resource.content)
            .join(latest, (latest.c.key == ProcessDefinition.key) & (latest.c.v == ProcessDefinition.version))
            .join(Resource, Resource.id == ProcessDefinition.resource_id)
        )
        return {key: BpmnFile(name, content.encode()) for key, name, content in rows if key not in exclude}

    def check(self, session: Session | None, files: Sequence[DeployFile]) -> tuple[list, list[Problem]]:
        """Parse and validate; returns (parsed processes, parsed forms) and every problem found."""
        problems: list[Problem] = []
        forms = []
        for f in files:
            if f.kind is None:
                problems.append(Problem(f.name, None, None, UNSUPPORTED_FILE))
            elif f.kind == "form":
                try:
                    form = parse_form(f.content, source=f.name, default_id=form_file_key(f.name))
                except FormDefinitionError as error:
                    problems.append(Problem(f.name, getattr(error, "line", None), None, str(error)))
                    continue
                if len(form.id) > 100:
                    problems.append(Problem(f.name, None, None, "表单编号（id 或文件名）不能超过 100 个字符"))
                elif form.id in {other.id for _, other in forms}:
                    twin = next(g.name for g, other in forms if other.id == form.id)
                    problems.append(
                        Problem(
                            f.name,
                            None,
                            None,
                            f"表单编号“{form.id}”与 {twin} 相同：一次部署中表单编号不能重复",
                        )
                    )
                else:
                    forms.append((f, form))
        form_keys = {form.id for _, form in forms}
        bpmn = [BpmnFile(f.name, f.content) for f in files if f.kind == "bpmn"]
        names = {Path(f.name).name for f in bpmn}
        deployed = self._deployed_processes(session, set()) if session is not None else {}
        checker = DefinitionChecker(
            self.functions,
            known_forms=form_keys | (self._deployed_forms(session) if session is not None else set()),
            form_files={Path(f.name).name: form.id for f, form in forms},
            deployed_form_files=self._deployed_form_files(session) if session is not None else {},
            # A process being redeployed must resolve against its new file, not its old one.
            known_processes={k: v for k, v in deployed.items() if v.name not in names},
            allow_scripts=self.allow_scripts,
            known_units=set(session.scalars(select(OrgUnit.code))) if session is not None else None,
        )
        processes = checker.parse(bpmn)
        problems.extend(checker.problems)
        for process in processes:
            # Encoding is part of the check: a spec the serializer cannot write must be refused here, with
            # the process named, not fail the deploy afterwards.
            try:
                process.spec_json = self.codec.encode_spec(process.spec, process.subprocess_specs)
            except Exception as error:  # any failure to encode is the diagram's problem
                file = next(b for b in bpmn if b.name == process.file)
                problems.append(
                    Problem(
                        process.file,
                        file.line_of(process.key),
                        process.key,
                        f"{ENGINE_REFUSED}（{type(error).__name__}: {error}）",
                    )
                )
        for f in bpmn:
            if f.tree is not None and not problems and not any(p.file == f.name for p in processes):
                problems.append(
                    Problem(
                        f.name,
                        1,
                        None,
                        "文件中没有可执行的流程：请在 Camunda Modeler 中勾选“可执行”（isExecutable=“true”）",
                    )
                )
        return [processes, forms], sorted(problems, key=lambda p: (p.file, p.line or 0))

    def deploy(
        self,
        session: Session,
        files: Sequence[DeployFile],
        *,
        name: str = "petitionflow",
        source: str | None = None,
        tenant_id: str | None = None,
        actor: str | None = None,
        duplicate_filtering: bool = True,
    ) -> DeploymentResult:
        if not files:
            raise DeploymentInvalid("nothing to deploy: no files given", {"problems": []})
        (processes, forms), problems = self.check(session, files)
        if problems:
            raise DeploymentInvalid(
                f"{len(problems)} problem(s) in the deployment; nothing was deployed",
                {"problems": [p.to_dict() for p in problems]},
            )
        now = datetime.now(UTC)
        deployment = Deployment(
            id=str(uuid.uuid4()),
            name=name,
            source=source,
            tenant_id=tenant_id,
            deployed_at=now,
            deployed_by=actor,
        )
        resources: dict[str, Resource] = {}
        by_name = {f.name: f for f in files}

        def resource(file_name: str, kind: str) -> Resource:
            if file_name not in resources:
                content = by_name[file_name].content
                resources[file_name] = Resource(
                    name=Path(file_name).name,
                    kind=kind,
                    checksum=_checksum(content),
                    content=content.decode("utf-8"),
                )
            return resources[file_name]

        result = DeploymentResult(deployment.id, name, source, tenant_id, now, created=False)
        new_forms: list[FormVersion] = []
        for file, form in forms:
            schema_json = json.dumps(form.schema, sort_keys=True, ensure_ascii=False)
            checksum = _checksum(schema_json)
            latest = session.scalars(
                select(FormVersion)
                .where(FormVersion.form_key == form.id)
                .order_by(FormVersion.version.desc())
            ).first()
            if duplicate_filtering and latest is not None and latest.checksum == checksum:
                result.forms[form.id] = latest.version
                continue
            version = (latest.version if latest else 0) + 1
            new_forms.append(
                FormVersion(
                    form_key=form.id,
                    version=version,
                    checksum=checksum,
                    schema_json=schema_json,
                    deployment_id=deployment.id,
                    resource=resource(file.name, "form"),
                )
            )
            result.forms[form.id] = version
        new_definitions: list[ProcessDefinition] = []
        for process in processes:
            spec_json = process.spec_json
            checksum = _checksum(spec_json)
            latest = latest_definition(session, process.key)
            if duplicate_filtering and latest is not None and latest.checksum == checksum:
                result.definitions.append(
                    DeployedDefinition(
                        latest.id,
                        latest.key,
                        latest.version,
                        latest.name,
                        Path(process.file).name,
                        latest.deployment_id,
                        new=False,
                    )
                )
                continue
            version = (latest.version if latest else 0) + 1
            definition = ProcessDefinition(
                id=f"{process.key}:{version}:{deployment.id[:8]}",
                key=process.key,
                version=version,
                name=process.name,
                deployment_id=deployment.id,
                checksum=checksum,
                spec_json=spec_json,
                form_refs=sorted(process.form_refs),
                created_at=now,
                resource=resource(process.file, "bpmn"),
            )
            new_definitions.append(definition)
            result.definitions.append(
                DeployedDefinition(
                    definition.id,
                    definition.key,
                    version,
                    definition.name,
                    Path(process.file).name,
                    deployment.id,
                    new=True,
                )
            )
        if not new_definitions and not new_forms:
            return result
        session.add(deployment)
        for row in resources.values():
            row.deployment_id = deployment.id
        session.add_all([*new_forms, *new_definitions])
        session.flush()
        result.created = True
        return result


def undeploy(
    session: Session, *, deployment_id: str | None = None, definition_id: str | None = None
) -> list[str]:
    """Remove a process definition version (or every one of a deployment) on which no instance ever ran; returns
    the ids removed. Forms stay: a form version may serve other diagrams' tasks, and its number must never be
    reused. The deployment goes too once nothing of it is left."""
    query = select(ProcessDefinition)
    if definition_id is not None:
        query = query.where(ProcessDefinition.id == definition_id)
    if deployment_id is not None:
        query = query.where(ProcessDefinition.deployment_id == deployment_id)
    definitions = list(session.scalars(query))
    deployment = session.get(Deployment, deployment_id) if deployment_id is not None else None
    if not definitions and deployment is None:
        raise NotFound(
            f"Deployment with id '{deployment_id}' does not exist"
            if deployment_id is not None
            else f"no process definition '{definition_id}'"
        )
    ids = [d.id for d in definitions]
    used = session.scalar(select(func.count()).select_from(Instance).where(Instance.definition_id.in_(ids)))
    if used:
        raise InvalidState(
            f"Deletion of process definition without cascading failed: {used} instance(s) ran on "
            f"{', '.join(ids)}; only a version without instances can be removed",
            {"definitions": ids, "instances": used},
        )
    resources = [d.resource_id for d in definitions]
    deployments = {d.deployment_id for d in definitions} | ({deployment_id} if deployment_id else set())
    session.execute(delete(ProcessDefinition).where(ProcessDefinition.id.in_(ids)))
    session.execute(delete(Resource).where(Resource.id.in_(resources)))
    for candidate in deployments:
        if session.scalar(
            select(func.count()).select_from(Resource).where(Resource.deployment_id == candidate)
        ):
            continue
        session.execute(delete(Deployment).where(Deployment.id == candidate))
    return ids
