#!/usr/bin/env node
// Generate the diagram layout (BPMN DI) for .bpmn files written or generated without coordinates.
//
//   node tools/layout.mjs [--force] [--expanded | --collapsed] FILE.bpmn [...]
//
//   (no flag)    a file without <bpmndi:BPMNDiagram> is laid out and written back; a file that already has DI
//                is left as it is (its <bpmn:incoming>/<bpmn:outgoing> lists are still repaired, see step 1).
//   --force      re-lay files that already have DI (the old coordinates are thrown away).
//   --expanded   draw every sub-process expanded, its contents inside its box (default for files without DI).
//   --collapsed  draw every sub-process collapsed; its contents go on a separate drill-down plane.
//                Without either flag, --force keeps each sub-process as the existing DI draws it.
//
// What it does to each file:
//  1. Parses it with bpmn-moddle and rebuilds every flow node's <bpmn:incoming>/<bpmn:outgoing> list from the
//     sequenceFlows (missing refs added, stale ones dropped). bpmn-auto-layout walks these lists: without them
//     it emits shapes but no edges, and bpmnlint reports every node as disconnected. Camunda Modeler writes
//     them; hand-written XML often lacks them.
//  2. Runs bpmn-auto-layout's layoutProcess (bpmn-auto-layout@1.3.0, pinned in package.json).
//  3. Moves the DI of everything inside a collapsed sub-process onto that sub-process's own plane, then checks
//     that every element that needs DI has exactly one shape/edge on the right plane; if not, the file is NOT
//     written and the script exits 1.
//
// What bpmn-auto-layout 1.3.0 emits (checked against its dist/index.js and on tests/data/sample.bpmn):
//  * Boundary events: a shape on the lower edge of the host (several attachers spread along it), and edges for
//    their outgoing flows that leave the event downwards; the target goes one row below, one column right.
//  * Sub-processes: "laid out as collapsed" (README) means: a 100x80 collapsed shape on the parent plane, and
//    the shapes/edges of the sub-process's contents drawn ALSO on the root plane, from the origin, on top of
//    the top-level start of the process. Modeler/bpmn-js expect a collapsed sub-process's contents on a
//    separate BPMNDiagram/BPMNPlane whose bpmnElement is the sub-process (the drill-down view), so step 3 moves
//    them there (--collapsed, or a collapsed shape in the DI kept by --force).
//    If the sub-process's shape in the input DI has isExpanded="true", layoutProcess lays it out expanded:
//    the box grows to hold its own grid, the contents are drawn inside it, and the parent grid is widened.
//    For a file without DI this script seeds a throw-away DI with isExpanded="true" shapes, so sub-processes
//    come out expanded by default (--collapsed turns that off).
//  * Only the first bpmn:process is laid out; pools, lanes, message flows, text annotations, groups and
//    associations get no DI. This script refuses such files (step 3 would fail anyway): lay them out in
//    Camunda Modeler, or assign work with camunda:candidateGroups instead of lanes.
//  * No BPMNLabel bounds are written; bpmn-js/Modeler place labels at their default position.
//  * Also checked: nested sub-processes, a boundary timer on a sub-process, an event sub-process (drawn as a
//    separate unconnected block) -- complete DI and bpmnlint-clean in both modes. Not rendered in a browser here
//    (no chromium on the machine); tests/test_diagrams.py re-runs this script on the sample in both modes.
//  * Output is re-serialised by bpmn-moddle: the bpmn:definitions attributes (exporter, exporterVersion,
//    modeler:executionPlatform, modeler:executionPlatformVersion, ...), camunda:* attributes and extension
//    elements (kept as generic XML, no camunda moddle descriptor needed), timer/condition expressions and
//    xsi:type are kept. XML comments are dropped, CDATA sections become escaped text (same value), and namespace
//    declarations that nothing uses any more are dropped.
//
// Exit status: 0 when every file was laid out or already had complete DI; 1 when any file failed (parse
// problems, unsupported content, incomplete existing DI without --force); 2 on bad usage.

import { readFile, writeFile } from 'node:fs/promises';
import nodeProcess from 'node:process';

import { BpmnModdle } from 'bpmn-moddle';
import { layoutProcess } from 'bpmn-auto-layout';

const USAGE = 'usage: node tools/layout.mjs [--force] [--expanded | --collapsed] FILE.bpmn [...]';

// Elements that never get a shape of their own.
const NO_DI_TYPES = [ 'bpmn:DataObject' ];

function is(element, type) {
  return element && typeof element.$instanceOf === 'function' && element.$instanceOf(type);
}

function isAny(element, types) {
  return types.some(type => is(element, type));
}

/** Every flow element container (process, sub-process, transaction, ad-hoc) below `container`, itself first. */
function containers(container, out = []) {
  out.push(container);
  for (const element of container.get('flowElements')) {
    if (is(element, 'bpmn:FlowElementsContainer')) {
      containers(element, out);
    }
  }
  return out;
}

/**
 * Rebuild flowNode.incoming / flowNode.outgoing from the sequence flows.
 * Keeps the existing order of valid refs, appends missing ones in document order.
 *
 * @return {{ added: number, removed: number }}
 */
function repairFlowRefs(process) {
  let added = 0;
  let removed = 0;

  for (const container of containers(process)) {
    const elements = container.get('flowElements');
    const flows = elements.filter(element => is(element, 'bpmn:SequenceFlow'));

    for (const node of elements.filter(element => is(element, 'bpmn:FlowNode'))) {
      for (const [ property, end ] of [ [ 'incoming', 'targetRef' ], [ 'outgoing', 'sourceRef' ] ]) {
        const list = node.get(property);
        const wanted = flows.filter(flow => flow[end] === node);
        const kept = list.filter(flow => wanted.includes(flow));
        const missing = wanted.filter(flow => !kept.includes(flow));

        removed += list.length - kept.length;
        added += missing.length;

        list.length = 0;
        list.push(...kept, ...missing);
      }
    }
  }

  return { added, removed };
}

/** Reasons this file cannot be laid out by bpmn-auto-layout, empty if it can. */
function unsupported(definitions) {
  const reasons = [];
  const rootElements = definitions.get('rootElements');
  const processes = rootElements.filter(element => is(element, 'bpmn:Process'));

  if (processes.length !== 1) {
    reasons.push(`has ${processes.length} bpmn:process elements; bpmn-auto-layout lays out exactly one`);
  }

  if (rootElements.some(element => is(element, 'bpmn:Collaboration'))) {
    reasons.push('has a bpmn:collaboration (pools/message flows get no DI from bpmn-auto-layout)');
  }

  for (const process of processes) {
    for (const container of containers(process)) {
      if (container.get('laneSets')?.length) {
        reasons.push(`${container.id} has lanes (bpmn-auto-layout draws none)`);
      }
      if (container.get('artifacts')?.length) {
        reasons.push(`${container.id} has text annotations/groups/associations (bpmn-auto-layout draws none)`);
      }
    }
  }

  return reasons;
}

/**
 * The element whose plane must hold `element`'s DI: the nearest collapsed sub-process above it,
 * otherwise the process.
 */
function owningPlaneElement(element, isExpanded) {
  let parent = element.$parent;

  while (is(parent, 'bpmn:SubProcess') && isExpanded(parent)) {
    parent = parent.$parent;
  }

  return parent;
}

/** All flow elements that need a shape or an edge. */
function elementsNeedingDi(process) {
  return containers(process)
    .flatMap(container => container.get('flowElements'))
    .filter(element => !isAny(element, NO_DI_TYPES));
}

function allPlanes(definitions) {
  return definitions.get('diagrams').map(diagram => diagram.plane).filter(Boolean);
}

/**
 * Move every DI element onto the plane of its owning element (see owningPlaneElement), creating
 * BPMNDiagram/BPMNPlane pairs for collapsed sub-processes as bpmn-js's drill-down does.
 *
 * @return {number} the number of drill-down planes in use
 */
function moveToOwningPlanes(moddle, definitions, process) {
  const diByElement = new Map();

  for (const plane of allPlanes(definitions)) {
    for (const di of plane.get('planeElement')) {
      if (di.bpmnElement) {
        diByElement.set(di.bpmnElement, di);
      }
    }
  }

  const isExpanded = subProcess => diByElement.get(subProcess)?.isExpanded === true;

  const planeFor = new Map(allPlanes(definitions).map(plane => [ plane.bpmnElement, plane ]));

  function getPlane(owner) {
    let plane = planeFor.get(owner);
    if (!plane) {
      plane = moddle.create('bpmndi:BPMNPlane', { id: `BPMNPlane_${owner.id}`, bpmnElement: owner });
      const diagram = moddle.create('bpmndi:BPMNDiagram', { id: `BPMNDiagram_${owner.id}`, plane });
      plane.$parent = diagram;
      diagram.$parent = definitions;
      definitions.get('diagrams').push(diagram);
      planeFor.set(owner, plane);
    }
    return plane;
  }

  for (const element of elementsNeedingDi(process)) {
    const di = diByElement.get(element);
    if (!di) {
      continue;
    }

    const target = getPlane(owningPlaneElement(element, isExpanded));
    const current = di.$parent;

    if (current !== target) {
      const list = current.get('planeElement');
      list.splice(list.indexOf(di), 1);
      target.get('planeElement').push(di);
      di.$parent = target;
    }
  }

  return allPlanes(definitions).filter(plane => is(plane.bpmnElement, 'bpmn:SubProcess')).length;
}

/** Problems with the DI: missing/duplicate shapes and edges, DI on the wrong plane, short edges. */
function checkDi(definitions, process) {
  const problems = [];
  const placement = new Map();

  for (const plane of allPlanes(definitions)) {
    for (const di of plane.get('planeElement')) {
      if (!di.bpmnElement) {
        continue;
      }
      const seen = placement.get(di.bpmnElement) || [];
      seen.push({ di, plane });
      placement.set(di.bpmnElement, seen);
    }
  }

  const isExpanded = subProcess => placement.get(subProcess)?.[0].di.isExpanded === true;

  for (const element of elementsNeedingDi(process)) {
    const seen = placement.get(element) || [];

    if (seen.length !== 1) {
      problems.push(`${element.id}: ${seen.length} DI elements (want 1)`);
      continue;
    }

    const [ { di, plane } ] = seen;
    const owner = owningPlaneElement(element, isExpanded);

    // a process's own elements may sit on the process's plane or on the collaboration's plane
    const onOwnPlane = plane.bpmnElement === owner
      || (is(owner, 'bpmn:Process') && is(plane.bpmnElement, 'bpmn:Collaboration'));

    if (!onOwnPlane) {
      problems.push(`${element.id}: DI on the plane of ${plane.bpmnElement?.id}, want ${owner.id}`);
    }

    if (is(element, 'bpmn:SequenceFlow')) {
      if (!is(di, 'bpmndi:BPMNEdge') || di.get('waypoint').length < 2) {
        problems.push(`${element.id}: needs a BPMNEdge with at least 2 waypoints`);
      }
    } else if (!is(di, 'bpmndi:BPMNShape') || !di.bounds) {
      problems.push(`${element.id}: needs a BPMNShape with bounds`);
    }
  }

  return problems;
}

/** Throw-away DI that makes layoutProcess draw the given sub-processes expanded. */
function seedExpandedDi(moddle, definitions, process, subProcesses) {
  const planeElement = subProcesses.map(subProcess => moddle.create('bpmndi:BPMNShape', {
    id: `${subProcess.id}_seed_di`,
    bpmnElement: subProcess,
    isExpanded: true,
    bounds: moddle.create('dc:Bounds', { x: 0, y: 0, width: 100, height: 80 })
  }));
  const plane = moddle.create('bpmndi:BPMNPlane', { id: 'BPMNPlane_seed', bpmnElement: process, planeElement });

  definitions.set('diagrams', [ moddle.create('bpmndi:BPMNDiagram', { id: 'BPMNDiagram_seed', plane }) ]);
}

async function parse(moddle, xml) {
  const { rootElement, warnings } = await moddle.fromXML(xml, 'bpmn:Definitions');
  return { definitions: rootElement, warnings: warnings.map(warning => warning.message.split('\n')[0]) };
}

async function serialize(moddle, definitions) {
  const { xml } = await moddle.toXML(definitions, { format: true });
  return xml.endsWith('\n') ? xml : xml + '\n';
}

async function layoutFile(path, options) {
  const moddle = new BpmnModdle();
  const original = await readFile(path, 'utf8');

  const { definitions, warnings } = await parse(moddle, original);
  if (warnings.length) {
    throw new Error('does not parse cleanly:\n    ' + warnings.join('\n    '));
  }

  const processes = definitions.get('rootElements').filter(element => is(element, 'bpmn:Process'));
  const refs = { added: 0, removed: 0 };
  for (const process of processes) {
    const { added, removed } = repairFlowRefs(process);
    refs.added += added;
    refs.removed += removed;
  }
  const refNote = refs.added || refs.removed
    ? `repaired incoming/outgoing refs (+${refs.added}, -${refs.removed})`
    : 'incoming/outgoing refs ok';
  const hasDi = definitions.get('diagrams').length > 0;

  if (hasDi && !options.force) {
    const refsChanged = refs.added || refs.removed;
    if (refsChanged) {
      await writeFile(path, await serialize(moddle, definitions));
    }
    const action = refsChanged ? `kept existing DI, ${refNote}, written` : 'has DI, not changed';
    const problems = processes.flatMap(process => checkDi(definitions, process));
    if (problems.length) {
      throw new Error(`${action}; but the existing DI is INCOMPLETE (re-lay with --force, or fix it in Modeler):\n    `
        + problems.join('\n    '));
    }
    return `${action}; existing DI is complete`;
  }

  const reasons = unsupported(definitions);
  if (reasons.length) {
    throw new Error('cannot be laid out by bpmn-auto-layout, file NOT written:\n    ' + reasons.join('\n    '));
  }

  const [ process ] = processes;
  const subProcesses = containers(process).filter(element => is(element, 'bpmn:SubProcess'));
  const mode = options.mode || (hasDi ? 'keep' : 'expanded');

  if (mode === 'expanded') {
    seedExpandedDi(moddle, definitions, process, subProcesses);
  } else if (mode === 'collapsed') {
    definitions.set('diagrams', []);
  }

  // 'keep': layoutProcess reads isExpanded from the existing DI itself, then throws that DI away.
  const laidOutXml = await layoutProcess(await serialize(moddle, definitions));

  const laidOut = await parse(moddle, laidOutXml);
  if (laidOut.warnings.length) {
    throw new Error('bpmn-auto-layout output does not parse cleanly:\n    ' + laidOut.warnings.join('\n    '));
  }

  const laidOutProcess = laidOut.definitions.get('rootElements').find(element => is(element, 'bpmn:Process'));
  const drillDownPlanes = moveToOwningPlanes(moddle, laidOut.definitions, laidOutProcess);
  const problems = checkDi(laidOut.definitions, laidOutProcess);

  if (problems.length) {
    throw new Error('laid-out DI is incomplete, file NOT written:\n    ' + problems.join('\n    '));
  }

  await writeFile(path, await serialize(moddle, laidOut.definitions));

  const diElements = allPlanes(laidOut.definitions).flatMap(plane => plane.get('planeElement'));
  const shapes = diElements.filter(di => is(di, 'bpmndi:BPMNShape')).length;
  const edges = diElements.filter(di => is(di, 'bpmndi:BPMNEdge')).length;
  const subNote = subProcesses.length
    ? `, ${subProcesses.length} sub-process(es): ${subProcesses.length - drillDownPlanes} expanded, `
      + `${drillDownPlanes} collapsed with drill-down plane`
    : '';

  return `${hasDi ? 're-laid out' : 'laid out'} process ${process.id}: ${shapes} shapes, ${edges} edges`
    + `${subNote}; ${refNote}; written`;
}

async function main(argv) {
  const options = { force: false, mode: null };
  const files = [];

  for (const arg of argv) {
    if (arg === '--force') {
      options.force = true;
    } else if (arg === '--expanded' || arg === '--collapsed') {
      if (options.mode && options.mode !== arg.slice(2)) {
        console.error('--expanded and --collapsed exclude each other\n' + USAGE);
        return 2;
      }
      options.mode = arg.slice(2);
    } else if (arg === '-h' || arg === '--help') {
      console.log(USAGE);
      return 0;
    } else if (arg.startsWith('-')) {
      console.error(`unknown option ${arg}\n${USAGE}`);
      return 2;
    } else {
      files.push(arg);
    }
  }

  if (!files.length) {
    console.error(USAGE);
    return 2;
  }

  let failed = 0;

  for (const file of files) {
    try {
      console.log(`${file}: ${await layoutFile(file, options)}`);
    } catch (error) {
      failed++;
      console.error(`${file}: ERROR ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
    }
  }

  return failed ? 1 : 0;
}

nodeProcess.exitCode = await main(nodeProcess.argv.slice(2));
