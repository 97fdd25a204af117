"""The shipped diagrams are drawn for people, measured from their DI (what Camunda Modeler and bpmn-js draw):

* no line passes through a shape other than its own ends (an expanded sub-process counts for the lines outside
  it);
* no two lines share a stretch (collinear segments that overlap);
* no label overlaps a shape, another label or the border of a sub-process;
* every process has a pool of lanes, one per kind of actor, each flow node in exactly one lane and drawn inside
  it; the steps whose performer is a fixed group sit in that group's lane.

tools/layout.py draws them so (``.venv/bin/python tools/layout.py FILE.bpmn``); the same measures run here on a
designer's diagram it lays out, and on broken drawings to show that each measure can fail. A diagram written by
hand, without DI and without incoming/outgoing lists, comes out complete for Modeler and bpmnlint.
"""

from __future__ import annotations

import subprocess
import sys
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree

from tests.test_diagrams import (
    CAMUNDA_NS,
    CONTAINER_TAGS,
    FLOW_NODE_TAGS,
    LAYOUT_TOOL,
    MODELER_NS,
    NS,
    SAMPLE_DIAGRAM,
    di_problems,
    flow_ref_problems,
    parse_diagram,
    platform_problems,
    run_bpmnlint,
    sample_without,
)

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / "workflows").glob("*.bpmn"))
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
DC = "{http://www.omg.org/spec/DD/20100524/DC}"
DI = "{http://www.omg.org/spec/DD/20100524/DI}"
CAMUNDA = "{http://camunda.org/schema/1.0/bpmn}"
ACTOR_LANES = {"登记", "信访部门", "领导", "责任单位", "复查复核机关", "督查"}
# Fixed candidate groups and the lane their steps belong in.
GROUP_LANES = {"registrar": "登记", "petition_office": "信访部门", "supervisor": "督查"}
NOT_OBSTACLES = {f"{BPMN}participant", f"{BPMN}lane"}

Box = tuple[float, float, float, float]


def _bounds(element: etree._Element) -> Box:
    b = element.find(f"{DC}Bounds")
    x, y = float(b.get("x")), float(b.get("y"))
    return (x, y, x + float(b.get("width")), y + float(b.get("height")))


def _ancestors(element: etree._Element) -> set[str]:
    found = set()
    parent = element.getparent()
    while parent is not None:
        if parent.get("id"):
            found.add(parent.get("id"))
        parent = parent.getparent()
    return found


def _crosses(a: tuple[float, float], b: tuple[float, float], box: Box) -> bool:
    """Does the axis-parallel segment a-b enter the box's interior (1px inside its outline)?"""
    x0, y0, x1, y1 = box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1
    if a[1] == b[1]:
        return y0 < a[1] < y1 and min(a[0], b[0]) < x1 and max(a[0], b[0]) > x0
    if a[0] == b[0]:
        return x0 < a[0] < x1 and min(a[1], b[1]) < y1 and max(a[1], b[1]) > y0
    # A slanted segment: compare its bounding box, which is stricter.
    return min(a[0], b[0]) < x1 and max(a[0], b[0]) > x0 and min(a[1], b[1]) < y1 and max(a[1], b[1]) > y0


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _inside(inner: Box, outer: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def layout_problems(tree: etree._ElementTree) -> list[str]:
    """Everything that keeps the drawing from reading well, one line per problem, naming the elements."""
    root = tree.getroot()
    by_id = {element.get("id"): element for element in root.iter() if isinstance(element.tag, str)}
    shapes: dict[str, Box] = {}
    edges: dict[str, list[tuple[float, float]]] = {}
    labels: dict[str, Box] = {}
    for shape in root.iter(f"{BPMNDI}BPMNShape"):
        shapes[shape.get("bpmnElement")] = _bounds(shape)
        label = shape.find(f"{BPMNDI}BPMNLabel")
        if label is not None and label.find(f"{DC}Bounds") is not None:
            labels[shape.get("bpmnElement")] = _bounds(label)
    for edge in root.iter(f"{BPMNDI}BPMNEdge"):
        edges[edge.get("bpmnElement")] = [
            (float(p.get("x")), float(p.get("y"))) for p in edge.iter(f"{DI}waypoint")
        ]
        label = edge.find(f"{BPMNDI}BPMNLabel")
        if label is not None and label.find(f"{DC}Bounds") is not None:
            labels[edge.get("bpmnElement")] = _bounds(label)
    # DI naming no element is tests/test_diagrams.py's concern; it is no obstacle here.
    obstacles = {
        ref: box for ref, box in shapes.items() if ref in by_id and by_id[ref].tag not in NOT_OBSTACLES
    }
    problems = []

    for flow_id, points in edges.items():
        flow = by_id[flow_id]
        own = {flow.get("sourceRef"), flow.get("targetRef")} | _ancestors(flow)
        for a, b in pairwise(points):
            for ref, box in obstacles.items():
                if ref not in own and _crosses(a, b, box):
                    problems.append(f"line {flow_id} passes through {ref} between {a} and {b}")

    segments = [(flow_id, a, b) for flow_id, points in edges.items() for a, b in pairwise(points)]
    for k, (first, a, b) in enumerate(segments):
        for second, c, d in segments[k + 1 :]:
            if first == second:
                continue
            if a[1] == b[1] == c[1] == d[1]:
                shared = min(max(a[0], b[0]), max(c[0], d[0])) - max(min(a[0], b[0]), min(c[0], d[0]))
            elif a[0] == b[0] == c[0] == d[0]:
                shared = min(max(a[1], b[1]), max(c[1], d[1])) - max(min(a[1], b[1]), min(c[1], d[1]))
            else:
                continue
            if shared > 1:
                problems.append(f"lines {first} and {second} share a stretch of {shared:g}px at {a}-{b}")

    label_items = sorted(labels.items())
    for k, (ref, box) in enumerate(label_items):
        for other, shape in obstacles.items():
            if by_id[other].tag in CONTAINER_TAGS:
                if _overlap(box, shape) and not _inside(box, shape):
                    problems.append(f"label of {ref} lies across the border of {other}")
            elif _overlap(box, shape):
                problems.append(f"label of {ref} overlaps shape {other}")
        for other, other_box in label_items[k + 1 :]:
            if _overlap(box, other_box):
                problems.append(f"labels of {ref} and {other} overlap")

    for process in root.iter(f"{BPMN}process"):
        lanes = list(process.iter(f"{BPMN}lane"))
        if not lanes:
            problems.append(f"process {process.get('id')} has no lanes")
            continue
        lane_of: dict[str, list[str]] = defaultdict(list)
        for lane in lanes:
            lane_box = shapes.get(lane.get("id"))
            for ref in lane.iter(f"{BPMN}flowNodeRef"):
                lane_of[ref.text].append(lane.get("name"))
                node_box = shapes.get(ref.text)
                if lane_box is None or node_box is None or not _inside(node_box, lane_box):
                    problems.append(f"{ref.text} is not drawn inside its lane {lane.get('name')}")
        for node in process:
            if node.tag not in FLOW_NODE_TAGS:
                continue
            if len(lane_of[node.get("id")]) != 1:
                problems.append(f"{node.get('id')} is in {len(lane_of[node.get('id')])} lanes, want 1")
    return problems


def lane_names(tree: etree._ElementTree) -> dict[str, str]:
    """Flow node id -> the name of its lane."""
    return {
        ref.text: lane.get("name")
        for lane in tree.getroot().iter(f"{BPMN}lane")
        for ref in lane.iter(f"{BPMN}flowNodeRef")
    }


def run_layout(*args: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAYOUT_TOOL), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def semantics(path: Path) -> bytes:
    """The file without what the layout tool writes (DI, lanes, the pool), canonicalised."""
    root = etree.parse(str(path), etree.XMLParser(remove_blank_text=True)).getroot()
    for element in list(root.iter(f"{BPMNDI}BPMNDiagram", f"{BPMN}laneSet", f"{BPMN}collaboration")):
        element.getparent().remove(element)
    return etree.tostring(root, method="c14n")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_shipped_diagram_reads_well(path: Path):
    problems = layout_problems(etree.parse(str(path)))
    assert not problems, f"{path.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_shipped_diagram_has_a_lane_per_actor(path: Path):
    tree = etree.parse(str(path))
    names = lane_names(tree)
    assert set(names.values()) <= ACTOR_LANES, f"{path.name}: lanes {sorted(set(names.values()))}"
    for task in tree.getroot().iter(f"{BPMN}userTask"):
        group = task.get(f"{CAMUNDA}candidateGroups")
        if group in GROUP_LANES and task.getparent().tag == f"{BPMN}process":
            assert names[task.get("id")] == GROUP_LANES[group], f"{path.name}: {task.get('id')} ({group})"


def test_register_check_is_in_the_registrars_lane():
    assert (
        lane_names(etree.parse(str(REPO / "workflows" / "petition_intake.bpmn")))["register_check"] == "登记"
    )


def test_measures_find_each_fault(tmp_path: Path):
    """A drawing spoiled four ways: each fault is reported, naming the elements."""
    tree = etree.parse(str(REPO / "workflows" / "supervision.bpmn"))
    assert layout_problems(tree) == []
    root = tree.getroot()

    def shape(ref: str) -> etree._Element:
        return root.find(f".//{BPMNDI}BPMNShape[@bpmnElement='{ref}']")

    def edge(ref: str) -> etree._Element:
        return root.find(f".//{BPMNDI}BPMNEdge[@bpmnElement='{ref}']")

    # 1. A task moved onto a line that is not its own.
    line = [(float(p.get("x")), float(p.get("y"))) for p in edge("flow_to_supervise").iter(f"{DI}waypoint")]
    bounds = shape("decide_sanction").find(f"{DC}Bounds")
    x, y = (line[0][0] + line[-1][0]) / 2 if line[0][1] == line[-1][1] else line[0][0], line[0][1]
    bounds.set("x", str(x - 50))
    bounds.set("y", str(y - 40))
    # 2. A second line laid over the first one's stretch.
    waypoints = list(edge("flow_to_end").iter(f"{DI}waypoint"))
    for point, (px, py) in zip(waypoints[:2], line[:2], strict=False):
        point.set("x", str(px))
        point.set("y", str(py))
    # 3. One event's label put on another's.
    first, second = shape("supervision_closed"), shape("rectified")
    second.replace(second.find(f"{BPMNDI}BPMNLabel"), _copy(first.find(f"{BPMNDI}BPMNLabel")))
    # 4. A node pushed out of its lane.
    moved = shape("accountability_recommended").find(f"{DC}Bounds")
    moved.set("y", str(float(moved.get("y")) + 5000))

    problems = "\n".join(layout_problems(tree))
    assert "line flow_to_supervise passes through decide_sanction" in problems
    assert "lines flow_to_supervise and flow_to_end share a stretch" in problems or (
        "lines flow_to_end and flow_to_supervise share a stretch" in problems
    )
    assert "labels of rectified and supervision_closed overlap" in problems
    assert "accountability_recommended is not drawn inside its lane" in problems


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def test_lanes_are_required(tmp_path: Path):
    path = tmp_path / "plain.bpmn"
    path.write_bytes((REPO / "workflows" / "supervision.bpmn").read_bytes())
    tree = etree.parse(str(path))
    for lane_set in list(tree.getroot().iter(f"{BPMN}laneSet")):
        lane_set.getparent().remove(lane_set)
    assert "process supervision has no lanes" in layout_problems(tree)


def test_layout_tool_draws_a_designers_diagram(tmp_path: Path):
    """The sample written by hand (no DI, a sub-process, a boundary timer, a loop-free branch) comes out reading
    well, with its semantics untouched, bpmnlint-clean, and the same when laid out again."""
    path = tmp_path / "sample.bpmn"
    path.write_bytes(SAMPLE_DIAGRAM.read_bytes())
    result = run_layout(path)
    assert result.returncode == 0, result.stderr
    assert semantics(path) == semantics(SAMPLE_DIAGRAM)
    tree = etree.parse(str(path))
    assert layout_problems(tree) == []
    assert lane_names(tree)["Task_Register"] == "登记"
    assert lane_names(tree)["Task_Handle"] == "责任单位"
    lint = run_bpmnlint(path)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    first = path.read_bytes()
    assert run_layout(path).returncode == 0
    assert path.read_bytes() == first


def test_layout_tool_routes_a_wide_split_and_loops(tmp_path: Path):
    """Eight branches off one gateway and two loops back to one join: every line its own, nothing crossed."""
    branches = "".join(
        f'<bpmn:sequenceFlow id="f_b{k}" name="第{k}种情形" sourceRef="gw" targetRef="t{k}" />'
        f'<bpmn:userTask id="t{k}" name="办理{k}" camunda:candidateGroups="petition_office" />'
        f'<bpmn:sequenceFlow id="f_e{k}" sourceRef="t{k}" targetRef="end{k}" />'
        f'<bpmn:endEvent id="end{k}" name="结束{k}" />'
        for k in range(8)
    )
    path = tmp_path / "wide.bpmn"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://bpmn.io/schema/bpmn">'
        '<bpmn:process id="wide" name="宽分支" isExecutable="true">'
        '<bpmn:startEvent id="s" name="开始" /><bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="join" />'
        '<bpmn:exclusiveGateway id="join" name="汇合" />'
        '<bpmn:sequenceFlow id="f1" sourceRef="join" targetRef="check" />'
        '<bpmn:userTask id="check" name="审查" camunda:candidateGroups="supervisor" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="gw" />'
        '<bpmn:exclusiveGateway id="gw" name="哪种情形？" />'
        '<bpmn:sequenceFlow id="back1" name="重审" sourceRef="gw" targetRef="join" />'
        '<bpmn:sequenceFlow id="back2" name="补正" sourceRef="t0" targetRef="join" />'
        f"{branches}</bpmn:process></bpmn:definitions>",
        encoding="utf-8",
    )
    result = run_layout(path)
    assert result.returncode == 0, result.stderr
    tree = etree.parse(str(path))
    assert layout_problems(tree) == []
    names = lane_names(tree)
    assert names["check"] == "督查" and names["t3"] == "信访部门"


def test_layout_tool_refuses_what_it_cannot_draw(tmp_path: Path):
    path = tmp_path / "annotated.bpmn"
    source = SAMPLE_DIAGRAM.read_text(encoding="utf-8")
    path.write_text(
        source.replace("</bpmn:process>", '<bpmn:textAnnotation id="Note_1" /></bpmn:process>', 1),
        encoding="utf-8",
    )
    before = path.read_bytes()
    result = run_layout(path)
    assert result.returncode == 1
    assert "textAnnotation Note_1" in result.stderr
    assert path.read_bytes() == before


PLATFORM_ATTRIBUTES = ("exporter", "exporterVersion", f"{{{MODELER_NS}}}executionPlatform")


@pytest.mark.slow
@pytest.mark.parametrize("platform", ["kept", "added"])
def test_layout_tool_completes_a_hand_written_diagram(tmp_path: Path, platform: str):
    """The sample as written by hand: no DI, no incoming/outgoing (and a stale one), with or without Modeler's
    platform attributes and namespace declarations. It comes out with complete DI, the flow references of the
    sequence flows, a Camunda 7 platform, its camunda attributes, extension elements, timer and conditions kept,
    reading well and bpmnlint-clean."""
    tree = sample_without("/bpmn:definitions/bpmndi:BPMNDiagram | //bpmn:incoming | //bpmn:outgoing")
    root = tree.getroot()
    (supervise,) = root.xpath("//bpmn:userTask[@id='Task_Supervise']", namespaces=NS)
    etree.SubElement(supervise, f"{BPMN}incoming").text = "Flow_Gone"
    if platform == "added":
        for name in (*PLATFORM_ATTRIBUTES, f"{{{MODELER_NS}}}executionPlatformVersion"):
            del root.attrib[name]
        etree.cleanup_namespaces(tree)  # bpmndi, dc, di and modeler are declared no more
        assert not {"bpmndi", "dc", "di", "modeler"} & set(root.nsmap)
    bare = tmp_path / "bare.bpmn"
    tree.write(str(bare), xml_declaration=True, encoding="UTF-8")
    before = parse_diagram(bare)
    assert di_problems(before) and flow_ref_problems(before)
    assert bool(platform_problems(before)) == (platform == "added")

    assert run_layout("--collapsed", bare).returncode == 2  # collapse sub-processes in Modeler instead
    result = run_layout(bare)
    assert result.returncode == 0, result.stderr
    assert "incoming/outgoing 引用补上 22 个、删去 1 个" in result.stdout  # 11 flows, both ends
    assert ("补上 Camunda 7 平台属性" in result.stdout) == (platform == "added")

    laid_out = parse_diagram(bare)
    assert di_problems(laid_out) == []
    assert flow_ref_problems(laid_out) == []
    assert platform_problems(laid_out) == []
    assert layout_problems(laid_out) == []
    root = laid_out.getroot()
    assert root.get("exporter") == "Camunda Modeler"
    assert root.get("exporterVersion") == ("5.38.0" if platform == "kept" else "5.41.0")
    assert root.get(f"{{{MODELER_NS}}}executionPlatformVersion") == "7.24.0"
    assert {prefix: root.nsmap.get(prefix) for prefix in ("bpmndi", "dc", "di", "modeler")} == {
        "bpmndi": BPMNDI[1:-1],
        "dc": DC[1:-1],
        "di": DI[1:-1],
        "modeler": MODELER_NS,
    }
    (task,) = root.xpath("//bpmn:userTask[@id='Task_Register']", namespaces=NS)
    assert task.get(f"{{{CAMUNDA_NS}}}candidateGroups") == "registrar"
    assert task.get(f"{{{CAMUNDA_NS}}}formRef") == "sample"
    assert task.find("bpmn:extensionElements/camunda:properties/camunda:property", NS).get("value") == "3"
    timer = root.findtext(".//bpmn:boundaryEvent/bpmn:timerEventDefinition/bpmn:timeDuration", namespaces=NS)
    assert timer == "P5D"
    (condition,) = root.xpath(
        "//bpmn:sequenceFlow[@id='Flow_Accept']/bpmn:conditionExpression", namespaces=NS
    )
    assert condition.text == "${approved}"
    assert condition.get("{http://www.w3.org/2001/XMLSchema-instance}type") == "bpmn:tFormalExpression"
    (collaboration,) = root.findall(f"{BPMN}collaboration")
    planes = [plane.get("bpmnElement") for plane in root.iter(f"{BPMNDI}BPMNPlane")]
    assert planes == [collaboration.get("id")]
    (sub_process,) = root.xpath("//bpmndi:BPMNShape[@bpmnElement='SubProcess_Reply']", namespaces=NS)
    assert sub_process.get("isExpanded") == "true"
    if platform == "kept":  # everything but the drawing is the sample's, flow references in Modeler's order
        assert semantics(bare) == semantics(SAMPLE_DIAGRAM)
    lint = run_bpmnlint(bare)
    assert lint.returncode == 0, lint.stdout + lint.stderr
