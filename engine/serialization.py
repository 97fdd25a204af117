"""Turning workflows into JSON and back, with the spec stored once per definition version.

SpiffWorkflow's serializer embeds the whole spec in every instance. We store the spec with the definition
version and keep parsed spec objects in a per-process cache, so saving an instance writes only its state and
loading one restores only its tasks: that is most of the cost of a command.
"""

from __future__ import annotations

import json
import threading
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.helpers.encoder import create_encoder
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.multiinstance_task import (
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
)


class InstanceStateConverter(BpmnWorkflowConverter):
    """Serializes a top-level workflow without its specs; they are handed back in on restore."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(  # type: ignore[override]
        self,
        dct: dict[str, Any],
        spec: BpmnProcessSpec | None = None,
        subprocess_specs: dict[str, BpmnProcessSpec] | None = None,
    ) -> BpmnWorkflow:
        if spec is None:  # a full serialization with embedded specs (an export)
            return super().from_dict(dct)
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _registry() -> Any:
    config = {**CAMUNDA_CONFIG, BpmnWorkflow: InstanceStateConverter}
    registry = BpmnWorkflowSerializer.configure(config)
    # Form data carries dates and decimals; without these SpiffWorkflow refuses to save them.
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    return registry


class WorkflowCodec:
    """Encodes specs and instance states; thread-safe, one per process."""

    def __init__(self) -> None:
        self.serializer = BpmnWorkflowSerializer(_registry())
        self.registry = self.serializer.registry
        self._encoder = create_encoder(self.registry)
        self._specs: dict[str, tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]] = {}
        self._lock = threading.Lock()

    # -- specs -----------------------------------------------------------------------------------------------
    def encode_spec(self, spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]) -> str:
        dct = {
            "spec": self.registry.convert(spec),
            "subprocess_specs": {k: self.registry.convert(v) for k, v in subprocess_specs.items()},
        }
        return json.dumps(dct, cls=self._encoder, sort_keys=True, ensure_ascii=False)

    def decode_spec(self, spec_json: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        dct = json.loads(spec_json)
        spec = self.registry.restore(dct["spec"])
        subprocess_specs = {k: self.registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subprocess_specs

    def cached_specs(self, definition_id: str) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]] | None:
        return self._specs.get(definition_id)

    def specs_for(
        self, definition_id: str, spec_json: str
    ) -> tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]:
        """Parsed specs of a definition version, shared by every instance of it in this process.

        Specs with Camunda multi-instance tasks are rebuilt each time: SpiffWorkflow mutates those specs while
        running, so sharing them would leak one instance's state into the next.
        """
        cached = self._specs.get(definition_id)
        if cached is not None:
            return cached
        specs = self.decode_spec(spec_json)
        if not _has_multi_instance(specs):
            with self._lock:
                self._specs[definition_id] = specs
        return specs

    # -- instances -------------------------------------------------------------------------------------------
    def encode_state(self, workflow: BpmnWorkflow) -> str:
        dct = self.registry.convert(workflow)
        dct[self.serializer.VERSION_KEY] = self.serializer.VERSION
        return json.dumps(dct, cls=self._encoder, ensure_ascii=False, separators=(",", ":"))

    def decode_state(
        self, state_json: str, spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec]
    ) -> BpmnWorkflow:
        dct = json.loads(state_json)
        self.serializer.migrate(dct)
        return self.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)


def _has_multi_instance(specs: tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]) -> bool:
    kinds = (ParallelMultiInstanceTask, SequentialMultiInstanceTask)
    spec, subprocess_specs = specs
    return any(
        isinstance(task_spec, kinds)
        for process in (spec, *subprocess_specs.values())
        for task_spec in process.task_specs.values()
    )
