#!/usr/bin/env python3
"""Draw a BPMN diagram for people: a lane per kind of actor, steps in flow order, lines that never cross a shape
or share a stretch with another line, labels that overlap nothing.

    .venv/bin/python tools/layout.py FILE.bpmn [...]        # rewrites each file's diagram (DI) in place

The file may come from Camunda Modeler or be written by hand: with or without DI, with or without each flow
node's ``<bpmn:incoming>``/``<bpmn:outgoing>`` lists. What it does to each file's single executable process:

0. Flow references. Every flow node's ``<bpmn:incoming>``/``<bpmn:outgoing>`` lists are rebuilt from the
   sequence flows, inside sub-processes too: references still right keep their order, missing ones are added
   in document order, stale ones dropped (bpmnlint's no-disconnected and Modeler read these lists). A file
   without ``exporter`` or ``modeler:executionPlatform`` gets what Camunda Modeler writes on a Camunda 7
   diagram (``PLATFORM``); attributes already there are kept.
1. Lanes. Each user task goes into the lane of its performer, read from camunda:candidateGroups,
   camunda:candidateUsers and camunda:assignee (``LANES``: registrar -> 登记, the petition bureau ->
   信访部门, heads, leaders, the party committee and the joint conference -> 领导, a unit's handlers ->
   责任单位, the upper organ -> 复查复核机关, supervisors -> 督查; anything else -> 其他). A sub-process goes
   into the lane most of its tasks are in; events, gateways and call activities follow their neighbours. The
   lanes become a ``bpmn:laneSet`` of the process and the process a participant of a ``bpmn:collaboration``,
   as Camunda 7 Modeler draws a pool with lanes. Lanes only group steps for the reader: a task that names no
   performer of its own is the only one the engine hands to its lane (engine/unit_of_work.py).
2. Columns by flow order (longest path from the start; loops are found by a depth-first walk and drawn
   backwards), rows inside each lane (a branch takes its own row; the longest branch runs straight on).
3. Lines: every sequence flow is routed orthogonally on a grid of tracks between the rows and columns, from a
   port on its source to a port on its target (each port, and each stretch of track, serves one flow only;
   two lines may cross at right angles, never run along each other or turn on each other's track; no line
   enters a shape other than its own ends).
4. Labels (events, gateways, named flows): placed where they overlap no shape, no other label and, when that
   is possible, no line.
5. The file is written back with new DI (shapes, edges, labels, the pool and its lanes, on one plane); every
   other element, id and attribute is kept as it was: camunda:* attributes, extension elements, timer and
   condition expressions, documentation, XML comments (a CDATA section becomes escaped text of the same
   value). Sub-processes are drawn expanded, their contents laid out inside (collapse one in Modeler to get a
   drill-down view).

It refuses (exit 1, naming the element; the file is not written) what it cannot draw: more than one process,
message flows, text annotations, data objects and groups. tests/test_diagram_layout.py measures the result on
every shipped diagram; the same measures apply to a designer's own diagrams. The element kinds below
(``FLOW_NODES``, ``CONTAINERS``, ``ARTIFACTS``) are also the ones tests/test_diagrams.py checks diagrams with.
"""

from __future__ import annotations

import heapq
import math
import sys
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
MODELER_NS = "http://camunda.org/schema/modeler/1.0"
# Prefixes as Camunda Modeler writes them, declared on bpmn:definitions when the file lacks the namespace.
PREFIXES = {"bpmndi": BPMNDI_NS, "dc": DC_NS, "di": DI_NS, "modeler": MODELER_NS}
# What Camunda Modeler writes on bpmn:definitions of a Camunda 7 diagram: each pair is added, both attributes,
# when the file lacks the first one of it (webapi/camunda/common.py answers the same platform version).
PLATFORM = (
    (("exporter", "Camunda Modeler"), ("exporterVersion", "5.41.0")),
    (
        (f"{{{MODELER_NS}}}executionPlatform", "Camunda Platform"),
        (f"{{{MODELER_NS}}}executionPlatformVersion", "7.24.0"),
    ),
)

TASKS = {
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "callActivity",
}
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
GATEWAYS = {"exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
# Every kind of flow node (a shape with <bpmn:incoming>/<bpmn:outgoing>) a process or sub-process can hold.
FLOW_NODES = frozenset(TASKS | CONTAINERS | GATEWAYS | EVENTS)
# The other process content Modeler draws (it needs DI too); this tool refuses it.
ARTIFACTS = frozenset({"textAnnotation", "association", "dataObjectReference", "dataStoreReference", "group"})
# What a flow node's <bpmn:incoming>/<bpmn:outgoing> follow, in BPMN 2.0's order (tFlowElement's children).
FLOW_ELEMENT_HEAD = {"documentation", "extensionElements", "auditing", "monitoring", "categoryValueRef"}

# (lane id suffix, lane name, words in the performer expression), in the order the lanes are drawn top down.
# The first rule whose word occurs in a task's performer expression wins, in RULE_ORDER.
LANES = (
    ("registrar", "登记", ("registrar",)),
    ("bureau", "信访部门", ("petition_office", "bureau")),
    ("leader", "领导", ("headOf", "leader", "Leader", "party_committee", "joint_conference")),
    ("unit", "责任单位", ("responsibleUnit", "organisingOrgan", "handler", "hearing")),
    ("review", "复查复核机关", ("upperOrgan", "reviewOrgan")),
    ("supervision", "督查", ("supervis",)),
    ("other", "其他", ()),
)
RULE_ORDER = ("supervision", "review", "leader", "unit", "registrar", "bureau")

TASK_SIZE = (100, 80)
GATEWAY_SIZE = (50, 50)
EVENT_SIZE = (36, 36)
COL_GAP = 110  # between columns: room for vertical tracks and labels
ROW_GAP = 80  # between rows: room for horizontal tracks and labels
TRACK = 10  # distance between parallel tracks
MARGIN = 8  # lines keep this far from shapes
POOL_HEADER = 30
LANE_HEADER = 30
SUB_PADDING = 30  # inside an expanded sub-process (its name sits in the top padding)
BEND_COST = 60
CROSS_COST = 600  # px of detour a crossing is worth: lines go round rather than across
LABEL_CHAR = 11.0  # bpmn-js draws external labels at 11px; a CJK glyph is about as wide as the font size
LABEL_LINE = 14
LABEL_WIDTH = 90  # bpmn-js wraps external labels at 90px


Graph = dict[str, list["Node"]]  # node id -> the nodes it leads to (or comes from)


class LayoutError(Exception):
    """The file cannot be laid out; the message names the element."""


def local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def bpmn(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


@dataclass
class Node:
    element: etree._Element
    kind: str
    w: float
    h: float
    lane: str | None = None
    col: int = 0
    row: int = 0
    x: float = 0.0
    y: float = 0.0
    inner: Drawing | None = None  # the contents of an expanded sub-process
    host: Node | None = None
    boundaries: list[Node] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.element.get("id")

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def box(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


@dataclass
class Flow:
    element: etree._Element
    source: Node
    target: Node
    back: bool = False
    points: list[tuple[float, float]] = field(default_factory=list)
    label: tuple[float, float, float, float] | None = None

    @property
    def id(self) -> str:
        return self.element.get("id")


@dataclass
class Drawing:
    """One laid-out container (the process, or an expanded sub-process) in its own coordinates."""

    nodes: list[Node]
    flows: list[Flow]
    width: float = 0.0
    height: float = 0.0
    lanes: list[tuple[str, str, float, float]] = field(default_factory=list)  # key, name, top, bottom
    labels: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)  # node id -> bounds

    def translate(self, dx: float, dy: float) -> None:
        for node in self.nodes:
            node.x += dx
            node.y += dy
            if node.inner:
                node.inner.translate(dx, dy)
        for flow in self.flows:
            flow.points = [(x + dx, y + dy) for x, y in flow.points]
            if flow.label:
                flow.label = _shift(flow.label, dx, dy)
        self.labels = {key: _shift(box, dx, dy) for key, box in self.labels.items()}

    def all_nodes(self) -> Iterable[Node]:
        for node in self.nodes:
            yield node
            if node.inner:
                yield from node.inner.all_nodes()

    def all_flows(self) -> Iterable[Flow]:
        yield from self.flows
        for node in self.nodes:
            if node.inner:
                yield from node.inner.all_flows()

    def all_labels(self) -> dict[str, tuple[float, float, float, float]]:
        labels = dict(self.labels)
        for node in self.nodes:
            if node.inner:
                labels.update(node.inner.all_labels())
        return labels


def _shift(box: tuple[float, float, float, float], dx: float, dy: float) -> tuple[float, float, float, float]:
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


# ---------------------------------------------------------------------------------------------------------------
# Lanes
# ---------------------------------------------------------------------------------------------------------------


def performer_lane(element: etree._Element) -> str | None:
    """The lane key of a task from its performer expressions; None when it names no performer."""
    text = " ".join(
        element.get(f"{{{CAMUNDA_NS}}}{name}") or ""
        for name in ("candidateGroups", "candidateUsers", "assignee")
    )
    if not text.strip():
        return None
    words = {key: needles for key, _name, needles in LANES}
    for key in RULE_ORDER:
        if any(needle in text for needle in words[key]):
            return key
    return "other"


def assign_lanes(drawing: Drawing, forward: Graph, backward: Graph) -> None:
    for node in drawing.nodes:
        if node.kind in TASKS:
            node.lane = performer_lane(node.element)
        elif node.inner is not None:
            votes = Counter(
                performer_lane(n.element)
                for n in node.inner.all_nodes()
                if performer_lane(n.element) is not None
            )
            node.lane = votes.most_common(1)[0][0] if votes else None
    joins = Counter(anchor(flow.target).id for flow in drawing.flows)
    changed = True
    while changed:
        changed = False
        for node in drawing.nodes:
            if node.lane is not None:
                continue
            preds = [n for n in backward[node.id] if n.lane]
            succs = [n for n in forward[node.id] if n.lane]
            if node.kind == "startEvent" or (not preds and succs):
                choice = succs[0] if succs else None
            elif node.kind in GATEWAYS and joins[node.id] > 1 and succs:
                choice = succs[0]  # a join sits with the step it leads to
            else:
                choice = preds[0] if preds else None
            if choice is not None:
                node.lane = choice.lane
                changed = True
    used = [n.lane for n in drawing.nodes if n.lane]
    for node in drawing.nodes:
        if node.lane is None:
            node.lane = used[0] if used else "other"


# ---------------------------------------------------------------------------------------------------------------
# Reading a container
# ---------------------------------------------------------------------------------------------------------------


def node_size(kind: str) -> tuple[int, int]:
    if kind in GATEWAYS:
        return GATEWAY_SIZE
    if kind in EVENTS:
        return EVENT_SIZE
    return TASK_SIZE


def read_container(container: etree._Element) -> Drawing:
    nodes: dict[str, Node] = {}
    flows: list[etree._Element] = []
    for child in container:
        kind = local(child)
        if kind in ARTIFACTS:
            raise LayoutError(
                f"{kind} {child.get('id')}: 本工具不绘制注释、数据对象和分组，请在 Camunda Modeler 中绘制"
            )
        if kind == "sequenceFlow":
            flows.append(child)
        elif kind in FLOW_NODES:
            w, h = node_size(kind)
            nodes[child.get("id")] = Node(child, kind, w, h)
    for node in nodes.values():
        if node.kind == "boundaryEvent":
            host = nodes.get(node.element.get("attachedToRef"))
            if host is None:
                raise LayoutError(f"boundaryEvent {node.id}: attachedToRef 指向的活动不在同一层")
            node.host = host
            host.boundaries.append(node)
    flow_objects = []
    for element in flows:
        source, target = nodes.get(element.get("sourceRef")), nodes.get(element.get("targetRef"))
        if source is None or target is None:
            raise LayoutError(f"sequenceFlow {element.get('id')}: sourceRef 或 targetRef 指向的元素不存在")
        flow_objects.append(Flow(element, source, target))
    return Drawing(list(nodes.values()), flow_objects)


# ---------------------------------------------------------------------------------------------------------------
# Columns and rows
# ---------------------------------------------------------------------------------------------------------------


def anchor(node: Node) -> Node:
    """Where a node stands in the flow order: a boundary event stands with its host."""
    return node.host if node.host is not None else node


def order_nodes(drawing: Drawing) -> tuple[Graph, Graph, dict[str, int]]:
    """Mark back flows (depth-first from the starts); return forward successors, predecessors and DFS order."""
    main = [n for n in drawing.nodes if n.host is None]
    out: dict[str, list[Flow]] = {n.id: [] for n in main}
    for flow in drawing.flows:
        out[anchor(flow.source).id].append(flow)
    starts = [n for n in main if n.kind == "startEvent"] + [
        n for n in main if not any(anchor(f.target) is n for f in drawing.flows)
    ]
    seen: dict[str, int] = {}
    on_stack: set[str] = set()

    def visit(node: Node) -> None:
        seen[node.id] = len(seen)
        on_stack.add(node.id)
        for flow in out[node.id]:
            target = anchor(flow.target)
            if target.id in on_stack:
                flow.back = True
            elif target.id not in seen:
                visit(target)
        on_stack.discard(node.id)

    for node in starts + main:
        if node.id not in seen:
            visit(node)
    forward: Graph = {n.id: [] for n in drawing.nodes}
    backward: Graph = {n.id: [] for n in drawing.nodes}
    for flow in drawing.flows:
        if not flow.back:
            forward[anchor(flow.source).id].append(anchor(flow.target))
            backward[anchor(flow.target).id].append(anchor(flow.source))
    return forward, backward, seen


def place_columns_rows(
    drawing: Drawing, forward: Graph, backward: Graph, order: dict[str, int], lanes: bool
) -> None:
    main = sorted((n for n in drawing.nodes if n.host is None), key=lambda n: order[n.id])
    # Longest path from the starts, in topological order (Kahn on the forward flows).
    indegree = {n.id: len(backward[n.id]) for n in main}
    ready = [n for n in main if indegree[n.id] == 0]
    topo: list[Node] = []
    while ready:
        ready.sort(key=lambda n: order[n.id])
        node = ready.pop(0)
        topo.append(node)
        for succ in forward[node.id]:
            succ.col = max(succ.col, node.col + 1)
            indegree[succ.id] -= 1
            if indegree[succ.id] == 0:
                ready.append(succ)
    # How long the way on from each node is: of a split's branches, the longest runs straight on.
    remaining: dict[str, int] = {}
    for node in reversed(topo):
        remaining[node.id] = 1 + max((remaining[s.id] for s in forward[node.id]), default=0)
    occupied: set[tuple[str | None, int, int]] = set()
    placed: set[str] = set()
    boundary_targets = {
        anchor(f.target).id: f.source.host for f in drawing.flows if f.source.host is not None
    }
    queue = sorted(topo, key=lambda n: (n.col, order[n.id]))
    by_col: dict[int, list[Node]] = {}
    for node in queue:
        by_col.setdefault(node.col, []).append(node)
    children: Counter[str] = Counter()  # how many successors of a node have taken a row next to it
    for col in sorted(by_col):

        def parent(node: Node) -> Node | None:
            same = [p for p in backward[node.id] if p.id in placed and (p.lane == node.lane or not lanes)]
            return min(same, key=lambda p: p.row) if same else None

        def preferred(node: Node) -> int:
            above = parent(node)
            if above is not None:
                return above.row
            host = boundary_targets.get(node.id)
            if host is not None and host.id in placed and (host.lane == node.lane or not lanes):
                return host.row + 1
            return 0

        for node in sorted(by_col[col], key=lambda n: (preferred(n), -remaining[n.id], order[n.id])):
            lane = node.lane if lanes else None
            above = parent(node)
            # The branches of a split take the rows straight on, below, above, two below, ...: the split sits
            # among them, its lines leave on every side.
            skip = 0
            if above is not None:
                skip = children[above.id]
                children[above.id] += 1
            base = preferred(node)
            node.row = next(base + d for d in _spread(skip) if (lane, base + d, col) not in occupied)
            occupied.add((lane, node.row, col))
            placed.add(node.id)


def _spread(skip: int) -> Iterator[int]:
    """0, 1, -1, 2, -2, ... without its first ``skip`` values."""
    k = 0
    while True:
        for d in (0,) if k == 0 else (k, -k):
            if skip > 0:
                skip -= 1
            else:
                yield d
        k += 1


# ---------------------------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------------------------


def place_geometry(drawing: Drawing, lanes: bool) -> None:
    """Columns left to right, lanes top down with their rows, from (0, 0); sub-processes' contents follow."""
    main = [n for n in drawing.nodes if n.host is None]
    lane_keys = [key for key, _name, _words in LANES if any(n.lane == key for n in main)] if lanes else [None]
    cols = sorted({n.col for n in main})
    col_index = {c: i for i, c in enumerate(cols)}
    col_width = [0.0] * len(cols)
    for node in main:
        node.col = col_index[node.col]
        col_width[node.col] = max(col_width[node.col], node.w)
    # A gap next to a named flow's source or target column is wide enough for its label beside the line.
    gaps = [float(COL_GAP)] * (len(cols) + 1)
    for flow in drawing.flows:
        name = flow.element.get("name")
        if name:
            need = label_size(name)[0] + 40
            after, before = anchor(flow.source).col + 1, anchor(flow.target).col
            for gap in {after, before}:
                gaps[gap] = max(gaps[gap], need)
    col_x = []
    x = gaps[0] / 2
    for c, width in enumerate(col_width):
        col_x.append(x)
        x += width + gaps[c + 1]
    drawing.width = x - gaps[-1] / 2
    y = 0.0
    row_top: dict[tuple[str | None, int], tuple[float, float]] = {}
    for key in lane_keys:
        members = [n for n in main if (n.lane if lanes else None) == key]
        rows = sorted({n.row for n in members})
        top = y
        y += ROW_GAP / 2
        for row in rows:
            height = max(n.h for n in members if n.row == row)
            row_top[(key, row)] = (y, max(height, TASK_SIZE[1]))
            y += max(height, TASK_SIZE[1]) + ROW_GAP
        y -= ROW_GAP / 2
        drawing.lanes.append((key or "", dict((k, n) for k, n, _w in LANES).get(key, ""), top, y))
    drawing.height = y
    for node in main:
        top, height = row_top[(node.lane if lanes else None, node.row)]
        node.x = col_x[node.col] + (col_width[node.col] - node.w) / 2
        node.y = top + (height - node.h) / 2
        if node.inner is not None:
            node.inner.translate(node.x + SUB_PADDING, node.y + SUB_PADDING + 10)
    for node in main:
        for i, event in enumerate(node.boundaries):
            event.x = node.x + node.w - 22 - i * 42 - event.w / 2
            event.y = node.y + node.h - event.h / 2


# ---------------------------------------------------------------------------------------------------------------
# Ports and routing
# ---------------------------------------------------------------------------------------------------------------

FREE, CROWDED = -1, -2
SIDES = {"right": (1, 0), "left": (-1, 0), "top": (0, -1), "bottom": (0, 1)}


def ports(node: Node) -> list[tuple[float, float, str]]:
    """Points on a shape's outline where a line may attach, with the side they face."""
    result = []
    if node.kind in TASKS or node.kind in CONTAINERS:
        ys = [0, -20, 20] if node.h <= 100 else [0, -20, 20, -40, 40]
        xs = [0, -30, 30]
        for dy in ys:
            result.append((node.x + node.w, node.cy + dy, "right"))
            result.append((node.x, node.cy + dy, "left"))
        for dx in xs:
            result.append((node.cx + dx, node.y, "top"))
            bottom_x = node.cx + dx
            if all(abs(bottom_x - b.cx) > b.w / 2 + 6 for b in node.boundaries):
                result.append((bottom_x, node.y + node.h, "bottom"))
        return result
    half = node.w / 2
    for d in (0, -10, 10, -16, 16) if node.kind in GATEWAYS else (0, -10, 10):
        reach = half - abs(d) if node.kind in GATEWAYS else math.sqrt(half * half - d * d)
        sides = ["bottom"] if node.host is not None else ["right", "left", "top", "bottom"]
        for side in sides:
            sx, sy = SIDES[side]
            if sx:
                result.append((node.cx + sx * reach, node.cy + d, side))
            else:
                result.append((node.cx + d, node.cy + sy * reach, side))
    return result


class Router:
    """Orthogonal routing on a grid of tracks; each grid stretch and each port serves one flow."""

    def __init__(
        self, drawing: Drawing, bounds: tuple[float, float, float, float], rules: Sequence[float]
    ) -> None:
        self.nodes = list(drawing.nodes)
        self.flows = drawing.flows
        self.ports = {n.id: ports(n) for n in self.nodes}
        xs: set[float] = set()
        ys: set[float] = set()
        for plist in self.ports.values():
            for px, py, _side in plist:
                xs.add(round(px, 1))
                ys.add(round(py, 1))
        x0, y0, x1, y1 = bounds
        xs.update(_tracks(x0, x1, [(n.x, n.x + n.w) for n in self.nodes]))
        # No track runs along a lane's border, where a line would read as the border.
        ys.update(_tracks(y0, y1, [(n.y, n.y + n.h) for n in self.nodes] + [(y, y) for y in rules]))
        self.xs = sorted(xs)
        self.ys = sorted(ys)
        # Which shape (index in self.nodes) a grid point lies in, widened by MARGIN; FREE or CROWDED otherwise.
        self.owner = [[FREE] * len(self.ys) for _ in self.xs]
        for k, node in enumerate(self.nodes):
            ax, ay, bx, by = (
                node.x - MARGIN,
                node.y - MARGIN,
                node.x + node.w + MARGIN,
                node.y + node.h + MARGIN,
            )
            for i in range(bisect_left(self.xs, ax - 0.01), bisect_right(self.xs, bx + 0.01)):
                column = self.owner[i]
                for j in range(bisect_left(self.ys, ay - 0.01), bisect_right(self.ys, by + 0.01)):
                    column[j] = k if column[j] == FREE else CROWDED
        self.index_of = {n.id: k for k, n in enumerate(self.nodes)}
        self.used_edges: set[tuple[int, int, int, int]] = set()
        self.used_points: dict[tuple[int, int], str] = {}  # "H", "V" (passed straight) or "T" (turn or end)
        self.used_ports: set[tuple[int, int]] = set()

    def route(self, flow: Flow) -> None:
        starts = [s for s in (self._stub(flow.source, p) for p in self.ports[flow.source.id]) if s]
        goals: dict[tuple[int, int], list[tuple[list[tuple[int, int]], tuple[int, int], float]]] = {}
        for port in self.ports[flow.target.id]:
            stub = self._stub(flow.target, port)
            if stub:
                points, (dx, dy) = stub
                cost = self._side_cost(flow, port[2], incoming=True)
                goals.setdefault(points[-1], []).append((points[::-1], (-dx, -dy), cost))
        if not starts or not goals:
            raise LayoutError(f"sequenceFlow {flow.id}: 连接点已用尽，无法绘制")
        path = self._search(flow, starts, goals)
        if path is None:
            raise LayoutError(f"sequenceFlow {flow.id}: 找不到不穿过图形、不与其他连线重叠的路径")
        for a, b in pairwise(path):
            self.used_edges.add((*min(a, b), *max(a, b)))
        for k, point in enumerate(path):
            if k in (0, len(path) - 1):
                self.used_points[point] = "T"
                continue
            prev, nxt = path[k - 1], path[k + 1]
            if prev[0] == nxt[0]:
                self.used_points[point] = "V"
            elif prev[1] == nxt[1]:
                self.used_points[point] = "H"
            else:
                self.used_points[point] = "T"
        self.used_ports.update((path[0], path[-1]))
        flow.points = _corners([(self.xs[i], self.ys[j]) for i, j in path])

    def _stub(self, node: Node, port: tuple[float, float, str]):
        """Grid points from a free port straight out to the first point clear of the shape, and the direction."""
        i, j = self.xs.index(round(port[0], 1)), self.ys.index(round(port[1], 1))
        if (i, j) in self.used_ports:
            return None
        own = self.index_of[node.id]
        dx, dy = SIDES[port[2]]
        points = [(i, j)]
        crossing = "V" if dx else "H"  # a line across the stub may be crossed at right angles
        while True:
            i, j = i + dx, j + dy
            if not (0 <= i < len(self.xs) and 0 <= j < len(self.ys)) or self.owner[i][j] not in (FREE, own):
                return None
            used = self.used_points.get((i, j))
            if used is not None and used != crossing:
                return None
            points.append((i, j))
            if self.owner[i][j] == FREE and used is None:
                return points, (dx, dy)

    def _side_cost(self, flow: Flow, side: str, incoming: bool) -> float:
        if flow.back:
            return {"top": 0, "bottom": 10, "left": 40, "right": 40}[side]
        if incoming:
            return {"left": 0, "top": 20, "bottom": 20, "right": 200}[side]
        if flow.source.host is not None:
            return 0
        return {"right": 0, "top": 30, "bottom": 20, "left": 200}[side]

    def _search(self, flow: Flow, starts, goals) -> list[tuple[int, int]] | None:
        targets = [(self.xs[i], self.ys[j]) for i, j in goals]
        # A branch of a split turns towards its target right away, a line into a join as late as it can: lines
        # that run side by side towards one shape read as one.
        splits = sum(1 for f in self.flows if f.source is flow.source) > 1
        level = {j for _i, j in goals} if splits else {points[-1][1] for points, _d in starts}

        def estimate(i: int, j: int) -> float:
            x, y = self.xs[i], self.ys[j]
            return min(abs(x - a) + abs(y - b) for a, b in targets)

        State = tuple[int, int, int, int]
        heap: list[tuple[float, float, int, State, object]] = []
        parents: dict[State, State | None] = {}
        stubs: dict[State, list[tuple[int, int]]] = {}
        costs: dict[State, float] = {}
        tick = 0
        for points, (dx, dy) in starts:
            state = (*points[-1], dx, dy)
            side = next(name for name, vector in SIDES.items() if vector == (dx, dy))
            cost = self._side_cost(flow, side, incoming=False) + self._length(points)
            if cost < costs.get(state, math.inf):
                costs[state], parents[state], stubs[state] = cost, None, points
                heapq.heappush(heap, (cost + estimate(state[0], state[1]), cost, tick, state, None))
                tick += 1
        nx, ny = len(self.xs), len(self.ys)
        while heap:
            _f, cost, _tick, state, finish = heapq.heappop(heap)
            if finish is not None:  # a completed path: stub to the target port
                path: list[tuple[int, int]] = []
                cursor: State | None = state
                while cursor is not None:
                    path.append((cursor[0], cursor[1]))
                    if parents[cursor] is None:
                        path.extend(reversed(stubs[cursor][:-1]))
                    cursor = parents[cursor]
                return path[::-1] + finish[1:]
            if cost > costs.get(state, math.inf):
                continue
            i, j, dx, dy = state
            for points, inward, extra in goals.get((i, j), []):
                if (dx, dy) != inward and (i, j) in self.used_points:
                    continue
                if (dx, dy) == (-inward[0], -inward[1]):
                    continue
                bend = 0 if (dx, dy) == inward else BEND_COST
                total = cost + bend + extra + self._length(points)
                heapq.heappush(heap, (total, total, tick, state, points))
                tick += 1
            for ndx, ndy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                if (ndx, ndy) == (-dx, -dy):
                    continue
                turning = (ndx, ndy) != (dx, dy)
                if turning and (i, j) in self.used_points:
                    continue
                ni, nj = i + ndx, j + ndy
                if not (0 <= ni < nx and 0 <= nj < ny) or self.owner[ni][nj] != FREE:
                    continue
                if (*min((i, j), (ni, nj)), *max((i, j), (ni, nj))) in self.used_edges:
                    continue
                extra = BEND_COST if turning else 0
                if ndy == 0 and nj not in level:
                    extra += 0.2 * abs(self.xs[ni] - self.xs[i])
                used = self.used_points.get((ni, nj))
                if used is not None:
                    if used == "T" or used == ("H" if ndx else "V"):
                        continue
                    extra += CROSS_COST
                new_cost = cost + abs(self.xs[ni] - self.xs[i]) + abs(self.ys[nj] - self.ys[j]) + extra
                new_state = (ni, nj, ndx, ndy)
                if new_cost < costs.get(new_state, math.inf):
                    costs[new_state], parents[new_state] = new_cost, state
                    heapq.heappush(heap, (new_cost + estimate(ni, nj), new_cost, tick, new_state, None))
                    tick += 1
        return None

    def _length(self, points: list[tuple[int, int]]) -> float:
        a, b = points[0], points[-1]
        return abs(self.xs[a[0]] - self.xs[b[0]]) + abs(self.ys[a[1]] - self.ys[b[1]])


def _tracks(low: float, high: float, spans: list[tuple[float, float]]) -> list[float]:
    """Track positions every TRACK between low and high, outside every span widened by MARGIN."""
    values = []
    value = math.floor(low / TRACK) * TRACK
    while value <= high:
        if all(not (a - MARGIN <= value <= b + MARGIN) for a, b in spans):
            values.append(float(value))
        value += TRACK
    return values


def _corners(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Drop the points where a line goes straight on."""
    result = [points[0]]
    for k in range(1, len(points) - 1):
        a, b, c = result[-1], points[k], points[k + 1]
        if (a[0] == b[0] == c[0]) or (a[1] == b[1] == c[1]):
            continue
        result.append(b)
    result.append(points[-1])
    return result


# ---------------------------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------------------------


def label_size(text: str) -> tuple[float, float]:
    """The box bpmn-js needs for an external label: wrapped at LABEL_WIDTH."""
    lines, width, widest = 1, 0.0, 0.0
    for char in text:
        step = LABEL_CHAR if ord(char) > 0x2E7F else 6.5
        if width + step > LABEL_WIDTH:
            lines += 1
            widest = max(widest, width)
            width = 0.0
        width += step
    widest = max(widest, width)
    return math.ceil(widest) + 4, lines * LABEL_LINE


def _overlap(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float], pad: float = 0
) -> bool:
    return a[0] < b[2] + pad and b[0] < a[2] + pad and a[1] < b[3] + pad and b[1] < a[3] + pad


def _hits_line(box: tuple[float, float, float, float], flows: Iterable[Flow]) -> int:
    hits = 0
    for flow in flows:
        for (ax, ay), (bx, by) in pairwise(flow.points):
            seg = (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))
            if _overlap(box, seg, 2):
                hits += 1
    return hits


class Labeller:
    def __init__(self, shapes: list[tuple[float, float, float, float]], flows: list[Flow]):
        self.shapes = shapes
        self.flows = flows
        self.placed: list[tuple[float, float, float, float]] = []

    def place(self, candidates: list[tuple[float, float, float, float]], what: str) -> tuple[float, ...]:
        best, best_hits = None, math.inf
        for box in candidates:
            if any(_overlap(box, s, 3) for s in self.shapes) or any(_overlap(box, p, 3) for p in self.placed):
                continue
            hits = _hits_line(box, self.flows)
            if hits < best_hits:
                best, best_hits = box, hits
            if hits == 0:
                break
        if best is None:
            raise LayoutError(f"{what}: 标签无处安放")
        self.placed.append(best)
        return best


def node_label_candidates(node: Node, size: tuple[float, float]) -> list[tuple[float, float, float, float]]:
    w, h = size
    out = []
    for gap in (6, 16, 28):
        out += [
            (node.cx - w / 2, node.y + node.h + gap, node.cx + w / 2, node.y + node.h + gap + h),
            (node.cx - w / 2, node.y - gap - h, node.cx + w / 2, node.y - gap),
            (node.x + node.w + gap, node.y + node.h + 2, node.x + node.w + gap + w, node.y + node.h + 2 + h),
            (node.x - gap - w, node.y + node.h + 2, node.x - gap, node.y + node.h + 2 + h),
            (node.x + node.w + gap, node.y - 2 - h, node.x + node.w + gap + w, node.y - 2),
            (node.x - gap - w, node.y - 2 - h, node.x - gap, node.y - 2),
        ]
    return out


def flow_label_candidates(flow: Flow, size: tuple[float, float]) -> list[tuple[float, float, float, float]]:
    w, h = size
    out = []
    segments = list(pairwise(flow.points))
    # Beside a horizontal stretch first (nearest the source first), where a label reads as the branch's name.
    segments.sort(key=lambda segment: segment[0][1] != segment[1][1])
    for (ax, ay), (bx, by) in segments:
        length = abs(bx - ax) + abs(by - ay)
        for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            for gap in (4, 14):
                if ay == by:  # horizontal: above or below
                    step = 1 if bx > ax else -1
                    x = ax + step * (12 + t * max(length - 24 - w, 0))
                    left = x if step > 0 else x - w
                    out.append((left, ay - gap - h, left + w, ay - gap))
                    out.append((left, ay + gap, left + w, ay + gap + h))
                else:
                    step = 1 if by > ay else -1
                    y = ay + step * (12 + t * max(length - 24 - h, 0))
                    top = y if step > 0 else y - h
                    out.append((ax + gap + 1, top, ax + gap + 1 + w, top + h))
                    out.append((ax - gap - 1 - w, top, ax - gap - 1, top + h))
    return out


# ---------------------------------------------------------------------------------------------------------------
# One container, start to finish
# ---------------------------------------------------------------------------------------------------------------


def lay_out(container: etree._Element, lanes: bool) -> Drawing:
    drawing = read_container(container)
    for node in drawing.nodes:
        if node.kind in CONTAINERS:  # drawn expanded: its contents laid out first, its box around them
            inner = node.inner = lay_out(node.element, lanes=False)
            node.w = inner.width + 2 * SUB_PADDING
            node.h = inner.height + 2 * SUB_PADDING + 10
    forward, backward, order = order_nodes(drawing)
    if lanes:
        assign_lanes(drawing, forward, backward)
        for node in drawing.nodes:
            if node.host is not None:
                node.lane = node.host.lane
    place_columns_rows(drawing, forward, backward, order, lanes)
    place_geometry(drawing, lanes)
    shapes = list(drawing.nodes)
    rules = [bottom for _key, _name, _top, bottom in drawing.lanes[:-1]]
    router = Router(
        drawing, (TRACK / 2, TRACK / 2, drawing.width - TRACK / 2, drawing.height - TRACK / 2), rules
    )
    for flow in sorted(
        drawing.flows,
        key=lambda f: (
            f.back,
            f.source.host is not None,
            abs(f.source.cx - f.target.cx) + abs(f.source.cy - f.target.cy),
        ),
    ):
        router.route(flow)
    boxes = [n.box() for n in shapes] + [(-COL_GAP, y - 1, drawing.width + COL_GAP, y + 1) for y in rules]
    labeller = Labeller(boxes, list(drawing.flows))
    for node in drawing.nodes:
        name = node.element.get("name")
        if name and (node.kind in EVENTS or node.kind in GATEWAYS):
            drawing.labels[node.id] = labeller.place(node_label_candidates(node, label_size(name)), node.id)
    for flow in drawing.flows:
        name = flow.element.get("name")
        if name:
            flow.label = labeller.place(flow_label_candidates(flow, label_size(name)), flow.id)
    left = min([n.x for n in drawing.all_nodes()] + [b[0] for b in labeller.placed] + [0.0])
    top = min([n.y for n in drawing.all_nodes()] + [b[1] for b in labeller.placed] + [0.0])
    right = max([n.x + n.w for n in drawing.nodes] + [b[2] for b in labeller.placed] + [drawing.width])
    bottom = max([n.y + n.h for n in drawing.nodes] + [b[3] for b in labeller.placed] + [drawing.height])
    for flow in drawing.flows:
        for x, y in flow.points:
            left, top, right, bottom = min(left, x), min(top, y), max(right, x), max(bottom, y)
    drawing.translate(-left, -top)
    drawing.width = right - left
    drawing.height = bottom - top
    drawing.lanes = [(k, n, a - top, b - top) for k, n, a, b in drawing.lanes]
    if drawing.lanes:  # the pool holds everything: the outer lanes reach its edges
        k, n, _a, b = drawing.lanes[0]
        drawing.lanes[0] = (k, n, 0.0, b)
        k, n, a, _b = drawing.lanes[-1]
        drawing.lanes[-1] = (k, n, a, drawing.height)
    return drawing


# ---------------------------------------------------------------------------------------------------------------
# Flow references, platform attributes, namespaces
# ---------------------------------------------------------------------------------------------------------------


def repair_flow_refs(container: etree._Element) -> tuple[int, int]:
    """Rebuild each flow node's <bpmn:incoming>/<bpmn:outgoing> from the container's sequence flows, in
    sub-processes too: listed references still right keep their order, missing ones follow in document order,
    stale and repeated ones go. Returns how many references were added and dropped."""
    added = dropped = 0
    flows = [child for child in container if local(child) == "sequenceFlow"]
    for node in container:
        if local(node) not in FLOW_NODES:
            continue
        refs = []
        for name, end in (("incoming", "targetRef"), ("outgoing", "sourceRef")):
            wanted = [flow.get("id") for flow in flows if flow.get(end) == node.get("id")]
            listed = node.findall(bpmn(name))
            texts = [(element.text or "").strip() for element in listed]
            kept = list(dict.fromkeys(ref for ref in texts if ref in wanted))
            missing = [ref for ref in wanted if ref not in kept]
            added += len(missing)
            dropped += len(listed) - len(kept)
            for element in listed:
                node.remove(element)
            refs += [(name, ref) for ref in kept + missing]
        position = next(
            (k for k, child in enumerate(node) if local(child) not in FLOW_ELEMENT_HEAD), len(node)
        )
        for offset, (name, ref) in enumerate(refs):
            element = etree.Element(bpmn(name))
            element.text = ref
            node.insert(position + offset, element)
        if local(node) in CONTAINERS:
            more_added, more_dropped = repair_flow_refs(node)
            added += more_added
            dropped += more_dropped
    return added, dropped


def add_platform(root: etree._Element) -> bool:
    """Give bpmn:definitions the ``PLATFORM`` attributes it lacks; True when any were added."""
    added = False
    for (name, value), *rest in PLATFORM:
        if root.get(name) is None:
            for attribute, text in ((name, value), *rest):
                root.set(attribute, text)
            added = True
    return added


def declare_namespaces(root: etree._Element) -> None:
    """Declare on bpmn:definitions, under Modeler's prefixes, the namespaces this tool writes that the file does
    not declare there yet: the DI and the platform attributes then get no made-up prefix (ns0)."""
    missing = {
        prefix: uri
        for prefix, uri in PREFIXES.items()
        if uri not in root.nsmap.values() and prefix not in root.nsmap
    }
    if missing:
        declared = {prefix for element in root.iter() for prefix in element.nsmap if prefix}
        etree.cleanup_namespaces(root, top_nsmap=missing, keep_ns_prefixes=sorted(declared | set(missing)))


# ---------------------------------------------------------------------------------------------------------------
# Writing the file
# ---------------------------------------------------------------------------------------------------------------


def _bounds(parent: etree._Element, box: tuple[float, float, float, float]) -> None:
    etree.SubElement(
        parent,
        f"{{{DC_NS}}}Bounds",
        x=_num(box[0]),
        y=_num(box[1]),
        width=_num(box[2] - box[0]),
        height=_num(box[3] - box[1]),
    )


def _num(value: float) -> str:
    return str(round(value))


def write_di(root: etree._Element, process: etree._Element, drawing: Drawing) -> None:
    pid = process.get("id")
    # The pool and lanes: collaboration (before the process), laneSet (before the process's first flow element).
    for old in root.findall(bpmn("collaboration")):
        participants = old.findall(bpmn("participant"))
        if len(participants) != 1 or participants[0].get("processRef") != pid or len(old) != 1:
            raise LayoutError(f"collaboration {old.get('id')}: 本工具只绘制单个参与者（泳池）的协作")
    collaboration = root.find(bpmn("collaboration"))
    if collaboration is None:
        collaboration = etree.Element(bpmn("collaboration"), id=f"Collaboration_{pid}")
        process.addprevious(collaboration)
        participant = etree.SubElement(collaboration, bpmn("participant"), id=f"Participant_{pid}")
    else:
        participant = collaboration.find(bpmn("participant"))
    participant.set("name", process.get("name") or pid)
    participant.set("processRef", pid)
    for old in process.findall(bpmn("laneSet")):
        process.remove(old)
    lane_set = etree.Element(bpmn("laneSet"), id=f"LaneSet_{pid}")
    first_flow = next(
        child
        for child in process
        if local(child) not in ("documentation", "extensionElements", "auditing", "monitoring", "property")
    )
    first_flow.addprevious(lane_set)
    for key, name, _top, _bottom in drawing.lanes:
        lane = etree.SubElement(lane_set, bpmn("lane"), id=f"Lane_{pid}_{key}", name=name)
        for node in drawing.nodes:
            if node.lane == key:
                etree.SubElement(lane, bpmn("flowNodeRef")).text = node.id

    for old in root.findall(f"{{{BPMNDI_NS}}}BPMNDiagram"):
        root.remove(old)
    diagram = etree.SubElement(root, f"{{{BPMNDI_NS}}}BPMNDiagram", id=f"BPMNDiagram_{pid}")
    plane = etree.SubElement(
        diagram, f"{{{BPMNDI_NS}}}BPMNPlane", id=f"BPMNPlane_{pid}", bpmnElement=collaboration.get("id")
    )
    pool = etree.SubElement(
        plane,
        f"{{{BPMNDI_NS}}}BPMNShape",
        id=f"{participant.get('id')}_di",
        bpmnElement=participant.get("id"),
    )
    pool.set("isHorizontal", "true")
    left = 0.0
    width = drawing.width + POOL_HEADER + LANE_HEADER
    _bounds(pool, (left, 0, left + width, drawing.height))
    for key, _name, top, bottom in drawing.lanes:
        shape = etree.SubElement(
            plane, f"{{{BPMNDI_NS}}}BPMNShape", id=f"Lane_{pid}_{key}_di", bpmnElement=f"Lane_{pid}_{key}"
        )
        shape.set("isHorizontal", "true")
        _bounds(shape, (left + POOL_HEADER, top, left + width, bottom))
    drawing.translate(POOL_HEADER + LANE_HEADER, 0)
    labels = drawing.all_labels()
    for node in drawing.all_nodes():
        shape = etree.SubElement(plane, f"{{{BPMNDI_NS}}}BPMNShape", id=f"{node.id}_di", bpmnElement=node.id)
        if node.kind == "exclusiveGateway":
            shape.set("isMarkerVisible", "true")
        if node.inner is not None:
            shape.set("isExpanded", "true")
        _bounds(shape, node.box())
        if node.id in labels:
            _bounds(etree.SubElement(shape, f"{{{BPMNDI_NS}}}BPMNLabel"), labels[node.id])
    for flow in drawing.all_flows():
        edge = etree.SubElement(plane, f"{{{BPMNDI_NS}}}BPMNEdge", id=f"{flow.id}_di", bpmnElement=flow.id)
        for x, y in flow.points:
            etree.SubElement(edge, f"{{{DI_NS}}}waypoint", x=_num(x), y=_num(y))
        if flow.label:
            _bounds(etree.SubElement(edge, f"{{{BPMNDI_NS}}}BPMNLabel"), flow.label)


def layout_file(path: Path) -> str:
    """Lay the file out in place; what was done, for the designer."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    tree = etree.parse(str(path), parser)
    root = tree.getroot()
    processes = root.findall(bpmn("process"))
    if len(processes) != 1:
        raise LayoutError(f"{path.name}: 应恰有一个 process，实有 {len(processes)} 个")
    for kind in ("messageFlow",):
        found = root.find(f".//{bpmn(kind)}")
        if found is not None:
            raise LayoutError(f"{kind} {found.get('id')}: 本工具不绘制消息流")
    process = processes[0]
    for old in process.findall(bpmn("laneSet")):
        process.remove(old)
    added, dropped = repair_flow_refs(process)
    declare_namespaces(root)
    platform = add_platform(root)
    drawing = lay_out(process, lanes=True)
    write_di(root, process, drawing)
    etree.indent(root, space="  ")
    tree.write(str(path), xml_declaration=True, encoding="UTF-8")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n")
    done = ["已重新绘制"]
    if added or dropped:
        done.append(f"incoming/outgoing 引用补上 {added} 个、删去 {dropped} 个")
    if platform:
        done.append("补上 Camunda 7 平台属性")
    return "；".join(done)


def main(argv: Sequence[str]) -> int:
    if not argv or any(arg.startswith("-") for arg in argv):
        print("用法: python tools/layout.py FILE.bpmn [...]", file=sys.stderr)
        return 2
    status = 0
    for name in argv:
        try:
            done = layout_file(Path(name))
        except (LayoutError, OSError, etree.XMLSyntaxError) as error:
            print(f"{name}: {error}", file=sys.stderr)
            status = 1
        else:
            print(f"{name}: {done}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
