"""Checks on every BPMN diagram in workflows/ (and on the tooling sample tests/data/sample.bpmn).

* bpmnlint (the repo's .bpmnlintrc, ``bpmnlint:recommended``) reports no error and no warning;
* the diagram interchange (DI) is complete, so Camunda Modeler shows every element;
* ``<bpmn:incoming>``/``<bpmn:outgoing>`` match the sequence flows (bpmnlint and Modeler use them);
* the file opens as a Camunda 7 diagram and every process is executable with a history time to live;
* every ``camunda:formRef`` names the ``id`` of a form in forms/*.form.

bpmnlint comes from node_modules (``npm ci --ignore-scripts`` in the repo root). Diagrams without DI, or
without incoming/outgoing lists, are laid out with ``.venv/bin/python tools/layout.py FILE.bpmn``; the kinds of
BPMN element checked here are that tool's (``FLOW_NODES``, ``CONTAINERS``, ``ARTIFACTS``), and
test_layout_tool_knows_every_kind_of_element holds them against BPMN's schema.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS_DIR = REPO / "workflows"
FORMS_DIR = REPO / "forms"
SAMPLE_DIAGRAM = REPO / "tests" / "data" / "sample.bpmn"
BPMNLINT = REPO / "node_modules" / ".bin" / "bpmnlint"
BPMNLINT_CONFIG = REPO / ".bpmnlintrc"
LAYOUT_TOOL = REPO / "tools" / "layout.py"
BPMN_SCHEMA = REPO / "node_modules" / "bpmn-moddle" / "resources" / "bpmn" / "json" / "bpmn.json"
SETUP_HINT = "run the set-up: `npm ci --ignore-scripts` in the repository root"

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
MODELER_NS = "http://camunda.org/schema/modeler/1.0"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
NS = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "camunda": CAMUNDA_NS}


def load_layout_tool() -> ModuleType:
    """tools/layout.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("petitionflow_layout_tool", LAYOUT_TOOL)
    assert spec is not None and spec.loader is not None, LAYOUT_TOOL
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


LAYOUT = load_layout_tool()
# Flow nodes (BPMN 2.0 types that are drawn as shapes inside a process or sub-process).
FLOW_NODE_TAGS = frozenset(f"{{{BPMN_NS}}}{name}" for name in LAYOUT.FLOW_NODES)
CONTAINER_TAGS = frozenset(f"{{{BPMN_NS}}}{name}" for name in LAYOUT.CONTAINERS)
SEQUENCE_FLOW_TAG = f"{{{BPMN_NS}}}sequenceFlow"
# Other process content that Modeler draws and therefore needs DI.
OTHER_VISUAL_TAGS = frozenset(f"{{{BPMN_NS}}}{name}" for name in LAYOUT.ARTIFACTS)
SHAPE_TAG = f"{{{BPMNDI_NS}}}BPMNShape"
EDGE_TAG = f"{{{BPMNDI_NS}}}BPMNEdge"
PLAIN_FILE_NAME = re.compile(r"^[\w.\-]+$")  # bpmnlint treats its arguments as globs


def diagram_files() -> list[Path]:
    """The deployable diagrams: workflows/*.bpmn, sorted."""
    return sorted(WORKFLOWS_DIR.glob("*.bpmn"))


def form_ids() -> dict[str, list[Path]]:
    """Form id (what ``camunda:formRef`` points at) -> the forms/*.form files declaring it."""
    ids: dict[str, list[Path]] = defaultdict(list)
    for path in sorted(FORMS_DIR.glob("*.form")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(schema, dict) and isinstance(schema.get("id"), str):
            ids[schema["id"]].append(path)
    return dict(ids)


def parse_diagram(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))


def require_bpmnlint() -> Path:
    """node_modules/.bin/bpmnlint; fails (never skips) when the Node tooling is not installed."""
    if not BPMNLINT.exists():
        pytest.fail(f"{BPMNLINT.relative_to(REPO)} is missing: {SETUP_HINT}", pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("`node` is not on PATH; bpmnlint needs Node 20", pytrace=False)
    return BPMNLINT


def run_bpmnlint(path: Path) -> subprocess.CompletedProcess[str]:
    """bpmnlint with the repo's config, warnings counted as failures."""
    bpmnlint = require_bpmnlint()
    # A path that matches nothing makes bpmnlint exit 0 silently: make sure this one is real and literal.
    assert path.is_file(), f"{path} does not exist"
    assert PLAIN_FILE_NAME.match(path.name), f"{path.name}: use letters, digits, '_', '-', '.' only"
    env = {key: value for key, value in os.environ.items() if key != "FORCE_COLOR"}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [str(bpmnlint), "--config", str(BPMNLINT_CONFIG), "--max-warnings=0", str(path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _process_content(container: etree._Element):
    """Everything inside a process or sub-process, sub-process contents included."""
    for child in container:
        yield child
        if child.tag in CONTAINER_TAGS:
            yield from _process_content(child)


def _lanes(process: etree._Element):
    return process.iterfind(".//bpmn:laneSet//bpmn:lane", NS)


def elements_needing_di(tree: etree._ElementTree) -> list[etree._Element]:
    """Flow nodes (boundary events too), sequence flows, lanes, participants, message flows, artifacts."""
    root = tree.getroot()
    needed = []
    for process in root.iterfind("bpmn:process", NS):
        needed.extend(
            element
            for element in _process_content(process)
            if element.tag in FLOW_NODE_TAGS | OTHER_VISUAL_TAGS or element.tag == SEQUENCE_FLOW_TAG
        )
        needed.extend(_lanes(process))
    for collaboration in root.iterfind("bpmn:collaboration", NS):
        needed.extend(collaboration.iterfind("bpmn:participant", NS))
        needed.extend(collaboration.iterfind("bpmn:messageFlow", NS))
        needed.extend(collaboration.iterfind("bpmn:textAnnotation", NS))
        needed.extend(collaboration.iterfind("bpmn:association", NS))
        needed.extend(collaboration.iterfind("bpmn:group", NS))
    return needed


def di_problems(tree: etree._ElementTree) -> list[str]:
    """What keeps Camunda Modeler from drawing every element; empty when the DI is complete.

    Each element needing DI has exactly one BPMNShape/BPMNEdge; edges have >= 2 waypoints, shapes have bounds;
    the DI sits on the right plane: the process's (or its collaboration's) plane, or, for the contents of a
    collapsed sub-process (shape without isExpanded="true"), the sub-process's own drill-down plane.
    """
    root = tree.getroot()
    problems: list[str] = []
    ids = {element.get("id") for element in root.iter() if element.get("id")}

    di_by_ref: dict[str, list[tuple[etree._Element, str | None]]] = defaultdict(list)
    planes = root.findall("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    if not planes:
        problems.append(
            "no bpmndi:BPMNDiagram/bpmndi:BPMNPlane (lay it out: .venv/bin/python tools/layout.py FILE)"
        )
    for plane in planes:
        for di in plane:
            if di.tag not in (SHAPE_TAG, EDGE_TAG):
                continue
            ref = di.get("bpmnElement")
            if ref not in ids:
                problems.append(f"{di.get('id')}: bpmnElement={ref!r} names no element")
                continue
            di_by_ref[ref].append((di, plane.get("bpmnElement")))

    def is_expanded(sub_process: etree._Element) -> bool:
        found = di_by_ref.get(sub_process.get("id"), [])
        return bool(found) and found[0][0].get("isExpanded") == "true"

    collaboration_of = {
        participant.get("processRef"): collaboration.get("id")
        for collaboration in root.iterfind("bpmn:collaboration", NS)
        for participant in collaboration.iterfind("bpmn:participant", NS)
    }

    def allowed_planes(element: etree._Element) -> set[str | None]:
        parent = element.getparent()
        while parent is not None:
            if parent.tag in CONTAINER_TAGS and not is_expanded(parent):
                return {parent.get("id")}
            if parent.tag == f"{{{BPMN_NS}}}process":
                return {parent.get("id"), collaboration_of.get(parent.get("id"))}
            if parent.tag == f"{{{BPMN_NS}}}collaboration":
                return {parent.get("id")}
            parent = parent.getparent()
        return set()

    for element in elements_needing_di(tree):
        element_id = element.get("id")
        kind = etree.QName(element).localname
        found = di_by_ref.get(element_id, [])
        if len(found) != 1:
            problems.append(f"{kind} {element_id}: {len(found)} BPMNShape/BPMNEdge elements, want exactly 1")
            continue
        di, plane_ref = found[0]
        if plane_ref not in allowed_planes(element):
            want = " or ".join(sorted(ref for ref in allowed_planes(element) if ref))
            problems.append(f"{kind} {element_id}: DI is on the plane of {plane_ref}, want {want}")
        is_edge = kind in ("sequenceFlow", "messageFlow", "association")
        if is_edge:
            waypoints = di.findall("di:waypoint", NS)
            if di.tag != EDGE_TAG or len(waypoints) < 2:
                problems.append(
                    f"{kind} {element_id}: needs a BPMNEdge with >= 2 di:waypoint, has {len(waypoints)}"
                )
        elif di.tag != SHAPE_TAG or di.find("dc:Bounds", NS) is None:
            problems.append(f"{kind} {element_id}: needs a BPMNShape with dc:Bounds")
    return problems


def flow_ref_problems(tree: etree._ElementTree) -> list[str]:
    """Flow nodes whose <bpmn:incoming>/<bpmn:outgoing> differ from the sequence flows at that node."""
    problems = []
    for process in tree.getroot().iterfind("bpmn:process", NS):
        content = list(_process_content(process))
        flows = [element for element in content if element.tag == SEQUENCE_FLOW_TAG]
        for node in (element for element in content if element.tag in FLOW_NODE_TAGS):
            node_id = node.get("id")
            for child, end in (("incoming", "targetRef"), ("outgoing", "sourceRef")):
                listed = sorted((ref.text or "").strip() for ref in node.iterfind(f"bpmn:{child}", NS))
                actual = sorted(flow.get("id") for flow in flows if flow.get(end) == node_id)
                if listed != actual:
                    problems.append(
                        f"{node_id}: <bpmn:{child}> lists {listed}, sequence flows say {actual} "
                        "(fix with .venv/bin/python tools/layout.py FILE, or save it from Camunda Modeler)"
                    )
    return problems


def platform_problems(tree: etree._ElementTree) -> list[str]:
    """What keeps the file from opening and deploying as a Camunda 7 diagram."""
    root = tree.getroot()
    problems = []
    if root.tag != f"{{{BPMN_NS}}}definitions":
        return [f"root element is {root.tag}, want bpmn:definitions"]
    platform = root.get(f"{{{MODELER_NS}}}executionPlatform")
    if platform != "Camunda Platform":
        problems.append(f'modeler:executionPlatform is {platform!r}, want "Camunda Platform"')
    version = root.get(f"{{{MODELER_NS}}}executionPlatformVersion")
    if not re.fullmatch(r"7\.\d+\.\d+", version or ""):
        problems.append(f"modeler:executionPlatformVersion is {version!r}, want a 7.x.y version")
    zeebe = sorted(
        {
            f"{prefix}: on <{etree.QName(element).localname}>"
            for element in root.iter()
            for prefix, uri in element.nsmap.items()
            if uri == ZEEBE_NS
        }
    )
    if zeebe:
        problems.append(f"declares the zeebe namespace ({', '.join(zeebe)}): Modeler opens it as Camunda 8")
    processes = root.findall("bpmn:process", NS)
    if not processes:
        problems.append("no bpmn:process")
    for process in processes:
        process_id = process.get("id")
        if process.get("isExecutable") != "true":
            executable = process.get("isExecutable")
            problems.append(f'process {process_id}: isExecutable is {executable!r}, want "true"')
        if not (process.get(f"{{{CAMUNDA_NS}}}historyTimeToLive") or "").strip():
            problems.append(f"process {process_id}: camunda:historyTimeToLive missing")
    return problems


def form_ref_problems(tree: etree._ElementTree, known_forms: dict[str, list[Path]]) -> list[str]:
    """camunda:formRef values on user tasks / start events that name no form (or more than one form file)."""
    problems = []
    for element in tree.getroot().iterfind(".//bpmn:userTask", NS):
        problems.extend(_form_ref_problem(element, known_forms))
    for element in tree.getroot().iterfind(".//bpmn:startEvent", NS):
        problems.extend(_form_ref_problem(element, known_forms))
    return problems


def _form_ref_problem(element: etree._Element, known_forms: dict[str, list[Path]]) -> list[str]:
    form_ref = element.get(f"{{{CAMUNDA_NS}}}formRef")
    if form_ref is None:
        return []
    files = known_forms.get(form_ref, [])
    kind = etree.QName(element).localname
    if not files:
        return [f'{kind} {element.get("id")}: camunda:formRef="{form_ref}" names no form id in forms/*.form']
    if len(files) > 1:
        names = ", ".join(path.name for path in files)
        return [f'{kind} {element.get("id")}: form id "{form_ref}" is declared by several files: {names}']
    return []


def _fail_on(problems: list[str], path: Path) -> None:
    if problems:
        pytest.fail(f"{path.relative_to(REPO)}:\n  " + "\n  ".join(problems), pytrace=False)


DIAGRAMS = diagram_files()
DIAGRAM_PARAMS = [pytest.param(path, id=path.name) for path in DIAGRAMS]


# --- every workflows/*.bpmn -------------------------------------------------------------------------------


def test_there_are_diagrams_to_check():
    assert DIAGRAMS, f"no *.bpmn files in {WORKFLOWS_DIR.relative_to(REPO)}/"


@pytest.mark.slow
@pytest.mark.parametrize("path", DIAGRAM_PARAMS)
def test_bpmnlint_clean(path: Path):
    result = run_bpmnlint(path)
    assert result.returncode == 0, f"bpmnlint failed on {path.name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", DIAGRAM_PARAMS)
def test_di_complete(path: Path):
    _fail_on(di_problems(parse_diagram(path)), path)


@pytest.mark.parametrize("path", DIAGRAM_PARAMS)
def test_incoming_outgoing_match_sequence_flows(path: Path):
    _fail_on(flow_ref_problems(parse_diagram(path)), path)


@pytest.mark.parametrize("path", DIAGRAM_PARAMS)
def test_camunda7_platform(path: Path):
    _fail_on(platform_problems(parse_diagram(path)), path)


@pytest.mark.parametrize("path", DIAGRAM_PARAMS)
def test_form_refs_name_existing_forms(path: Path):
    _fail_on(form_ref_problems(parse_diagram(path), form_ids()), path)


# --- the checks themselves, on tests/data/sample.bpmn ------------------------------------------------------

BROKEN_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Definitions_broken"
    targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="broken" isExecutable="true">
    <bpmn:startEvent id="Start" />
    <bpmn:task id="Lonely" name="lonely" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.mark.slow
def test_bpmnlint_runs_and_can_fail(tmp_path: Path):
    broken = tmp_path / "broken.bpmn"
    broken.write_text(BROKEN_DIAGRAM, encoding="utf-8")
    result = run_bpmnlint(broken)
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"bpmnlint passed a broken diagram:\n{output}"
    for rule in ("no-disconnected", "label-required", "end-event-required", "no-bpmndi"):
        assert rule in output, f"bpmnlint did not report {rule}:\n{output}"


@pytest.mark.slow
def test_sample_passes_bpmnlint():
    result = run_bpmnlint(SAMPLE_DIAGRAM)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"


def test_sample_passes_structure_checks():
    tree = parse_diagram(SAMPLE_DIAGRAM)
    assert elements_needing_di(tree), "the sample should have elements"
    _fail_on(di_problems(tree) + flow_ref_problems(tree) + platform_problems(tree), SAMPLE_DIAGRAM)
    assert form_ref_problems(tree, {"sample": [FORMS_DIR / "sample.form"]}) == []


def test_form_ref_check_reports_a_missing_form():
    problems = form_ref_problems(parse_diagram(SAMPLE_DIAGRAM), {})
    assert problems == ['userTask Task_Register: camunda:formRef="sample" names no form id in forms/*.form']


def sample_without(xpath: str) -> etree._ElementTree:
    tree = copy.deepcopy(parse_diagram(SAMPLE_DIAGRAM))
    found = tree.getroot().xpath(xpath, namespaces=NS)
    assert found, xpath
    for element in found:
        element.getparent().remove(element)
    return tree


def test_di_check_reports_missing_shape_and_edge():
    tree = sample_without(
        "//bpmndi:BPMNShape[@bpmnElement='Timer_Overdue'] | //bpmndi:BPMNEdge[@bpmnElement='Flow_Reply_1']"
    )
    problems = di_problems(tree)
    assert any(p.startswith("boundaryEvent Timer_Overdue:") for p in problems), problems
    assert any(p.startswith("sequenceFlow Flow_Reply_1:") for p in problems), problems


def test_di_check_reports_short_edge():
    tree = sample_without("//bpmndi:BPMNEdge[@bpmnElement='Flow_1']/di:waypoint[position() > 1]")
    assert di_problems(tree) == ["sequenceFlow Flow_1: needs a BPMNEdge with >= 2 di:waypoint, has 1"]


def test_di_check_wants_collapsed_subprocess_contents_on_their_own_plane():
    tree = copy.deepcopy(parse_diagram(SAMPLE_DIAGRAM))
    (shape,) = tree.getroot().xpath("//bpmndi:BPMNShape[@bpmnElement='SubProcess_Reply']", namespaces=NS)
    del shape.attrib["isExpanded"]  # collapsed, but its contents are still drawn on the process plane
    problems = di_problems(tree)
    assert len(problems) == 5, problems  # 3 flow nodes + 2 flows inside SubProcess_Reply
    assert all("want SubProcess_Reply" in p for p in problems), problems


def test_platform_check_reports_zeebe_and_missing_ttl():
    tree = copy.deepcopy(parse_diagram(SAMPLE_DIAGRAM))
    root = tree.getroot()
    (process,) = root.findall("bpmn:process", NS)
    del process.attrib[f"{{{CAMUNDA_NS}}}historyTimeToLive"]
    etree.SubElement(process, f"{{{ZEEBE_NS}}}properties", nsmap={"zeebe": ZEEBE_NS})
    problems = platform_problems(tree)
    assert any("zeebe" in p for p in problems), problems
    assert any("historyTimeToLive" in p for p in problems), problems


def test_flow_ref_check_reports_missing_incoming():
    tree = sample_without("//bpmn:userTask[@id='Task_Supervise']/bpmn:incoming")
    problems = flow_ref_problems(tree)
    assert problems[0].startswith("Task_Supervise: <bpmn:incoming> lists [], sequence flows say"), problems


def _schema_types(*bases: str) -> set[str]:
    """The concrete types of BPMN's schema (bpmn-moddle's, which Modeler and bpmnlint read) below any of
    ``bases``, as element names (``userTask``)."""
    if not BPMN_SCHEMA.is_file():
        pytest.fail(f"{BPMN_SCHEMA.relative_to(REPO)} is missing: {SETUP_HINT}", pytrace=False)
    types = {entry["name"]: entry for entry in json.loads(BPMN_SCHEMA.read_text(encoding="utf-8"))["types"]}

    def below(name: str) -> bool:
        supers = types[name].get("superClass", [])
        return any(base in bases or (base in types and below(base)) for base in supers)

    return {
        name[0].lower() + name[1:]
        for name, entry in types.items()
        if not entry.get("isAbstract") and below(name)
    }


def test_layout_tool_knows_every_kind_of_element():
    """The kinds these checks and tools/layout.py share are BPMN's: every flow node a process can hold, and
    every other element of it that Modeler draws."""
    choreography = {"callChoreography", "choreographyTask", "subChoreography", "implicitThrowEvent"}
    assert _schema_types("FlowNode") - choreography == LAYOUT.FLOW_NODES
    assert _schema_types("SubProcess") | {"subProcess"} == LAYOUT.CONTAINERS
    drawn = (
        _schema_types("FlowElement", "Artifact") - _schema_types("FlowNode") - {"sequenceFlow", "dataObject"}
    )
    assert drawn == LAYOUT.ARTIFACTS
