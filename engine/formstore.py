"""Deployed Camunda Forms, looked up in one place and parsed once per version.

A form version never changes after deployment (a changed file becomes version n+1), so its JSON and its
parsed rules are cached for the life of the process; only "which version is the latest" is asked of the
database each time, because a deployment in another worker may have added one.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager, nullcontext
from functools import cached_property
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .db import Database
from .forms import FormDefinition, parse_form
from .models import FormVersion, ProcessDefinition

__all__ = ["DeployedForm", "FormStore"]


class DeployedForm:
    """One deployed version of a form: the form-js JSON the browser renders and the rules the server applies.

    ``schema`` is shared by every caller of the store: read it, never change it."""

    def __init__(self, key: str, version: int, schema_json: str) -> None:
        self.key = key
        self.version = version
        self._schema_json = schema_json

    @cached_property
    def schema(self) -> dict[str, Any]:
        return json.loads(self._schema_json)

    @cached_property
    def definition(self) -> FormDefinition:
        return parse_form(self._schema_json, source=f"{self.key}:{self.version}")


class FormStore:
    """Looks deployed forms up by key and version (or the latest version of a key)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[tuple[str, int], DeployedForm] = {}

    def get(
        self, key: str, version: int | None = None, session: Session | None = None
    ) -> DeployedForm | None:
        """The form ``key`` at ``version`` (the latest when None); None when it is not deployed.

        A command passes its own session, so the lookup joins its transaction instead of opening another."""
        with self._session(session) as reading:
            if version is None:
                version = reading.scalar(
                    select(func.max(FormVersion.version)).where(FormVersion.form_key == key)
                )
                if version is None:
                    return None
            cached = self._cache.get((key, version))
            if cached is not None:
                return cached
            schema_json = reading.scalar(
                select(FormVersion.schema_json).where(
                    FormVersion.form_key == key, FormVersion.version == version
                )
            )
        if schema_json is None:
            return None
        # Two threads may both miss and build the same entry: harmless, the versions are identical.
        return self._cache.setdefault((key, version), DeployedForm(key, version, schema_json))

    def _session(self, session: Session | None) -> AbstractContextManager[Session]:
        return nullcontext(session) if session is not None else self.db.reading()


def bound_version(session: Session, extensions: Any, definition_id: str) -> int | None:
    """The version of its form a task of ``definition_id`` shows, by the link's binding (engine/formlinks.py):
    ``version`` a fixed one, ``deployment`` the one deployed with the diagram (the newest when that deployment
    had it unchanged and so did not store it again), ``latest`` the newest. None: the form is not deployed."""
    key = extensions.get("formRef")
    binding = extensions.get("formRefBinding") or "latest"
    if binding == "version" and extensions.get("formRefVersion"):
        return int(extensions["formRefVersion"])
    query = select(FormVersion.version).where(FormVersion.form_key == key)
    # Form versions never depend on a command's pending changes: flushing the instance here would only write
    # its row twice.
    with session.no_autoflush:
        if binding == "deployment":
            deployment = select(ProcessDefinition.deployment_id).where(ProcessDefinition.id == definition_id)
            found = session.scalar(query.where(FormVersion.deployment_id == deployment.scalar_subquery()))
            if found is not None:
                return found
        return session.scalar(query.order_by(FormVersion.version.desc()).limit(1))
