// 流程实例: the instance's diagram (bpmn-js) with the path taken shaded, active tasks marked, overdue ones in
// red; its open tasks, the petition's other procedures, and the timeline of audit events.
import {
  $, GROUPS, INSTANCE_STATES, badge, ctx, definitionList, diagramLegend, diagramTools, dueState, elementNames, emptyRow,
  explain, flash, fmtDateTime, fmtDue, get, h, label, me, namesFromEvents, post, processNames, replace, showDiagram,
  timeline,
} from './common.js';
import { repairButtons } from './repair.js';

const instanceId = ctx.instanceId;
// The procedure shown (?level=): one the case is in, its own or a called one; the innermost by default.
const asked = new URLSearchParams(location.search).get('level');
const url = `/api/instances/${encodeURIComponent(instanceId)}`;
const DONE_KINDS = new Set(['activity.completed', 'task.completed']);
let instance = null;
let names = {};
// [id, name] of the steps of the instance's diagram, for 从某环节开始 (known once the diagram is drawn).
let repairTargets = [];
let level = null;

function mark(viewer) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const overlays = viewer.get('overlays');
  const done = new Set(instance.history.filter((e) => DONE_KINDS.has(e.kind) && e.elementId).map((e) => e.elementId));
  const active = new Set([...(instance.activeElements || []), ...instance.tasks.map((t) => t.elementId)]);
  const visited = new Set([...done, ...active]);
  for (const id of done) if (registry.get(id) && !active.has(id)) canvas.addMarker(id, 'pf-done');
  // The flows between two visited elements: the path taken.
  for (const element of registry.filter((e) => e.type === 'bpmn:SequenceFlow')) {
    const bo = element.businessObject;
    if (bo.sourceRef && bo.targetRef && visited.has(bo.sourceRef.id) && visited.has(bo.targetRef.id)) {
      canvas.addMarker(element.id, 'pf-done');
    }
  }
  for (const id of active) {
    if (!registry.get(id)) continue;
    const tasks = instance.tasks.filter((t) => t.elementId === id);
    const overdue = tasks.map((t) => dueState(t.due, t.warnAt)).find((s) => s.overdue);
    canvas.addMarker(id, overdue ? 'pf-overdue' : 'pf-active');
    const shape = registry.get(id);
    const isTask = /Task$|CallActivity|SubProcess/.test(shape.type);
    const bits = tasks.length
      ? tasks.map((t) => h('span', { class: overdue ? 'ob-overdue' : '' }, t.assignee ? `办理中 ${t.assignee}` : '待认领'))
      : [h('span', { class: /Event$/.test(shape.type) ? 'ob-timer' : 'ob-wait' }, /Event$/.test(shape.type) ? '等待事件' : '等待中')];
    if (overdue) bits.push(h('span', { class: 'ob-overdue' }, overdue.text));
    const deeper = instance.levels.find((l) => l.parent === level.process && l.via === id);
    if (deeper) {
      bits.splice(0, bits.length, h('a', { class: 'ob-wait', href: levelLink(deeper), 'data-testid': `enter-${deeper.process}` }, `进入：${deeper.name} ›`));
    }
    // Above a task; below an event (a boundary timer sits on its task's edge).
    const position = isTask ? { top: -22, left: 0 } : { top: shape.height + 16, left: -12 };
    overlays.add(id, 'pf-status', { position, scale: { min: 1 }, html: h('div', { class: 'overlay-badge', 'data-testid': `overlay-${id}` }, bits) });
  }
  viewer.on('element.click', (event) => focus(event.element.id));
}

/** Open the shown procedure's own diagram in its file: another process of the file, or a collapsed sub-process's
 * plane (bpmn-js drill-down); the file's first diagram otherwise. */
async function showLevel(viewer) {
  const definitions = viewer.getDefinitions();
  const diagram = (definitions.diagrams || []).find((d) => d.plane && d.plane.bpmnElement && d.plane.bpmnElement.id === level.process);
  if (diagram && diagram !== definitions.diagrams[0]) await viewer.open(diagram);
  const canvas = viewer.get('canvas');
  const plane = canvas.findRoot(`${level.process}_plane`);
  if (plane) canvas.setRootElement(plane);
  const container = $('#diagram');
  if (container.clientWidth && container.clientHeight) canvas.zoom('fit-viewport', 'auto');
}

/** Fit the diagram; when that makes labels unreadably small, show the current step at a readable zoom. */
function focusOn(viewer, ids) {
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  const shapes = ids.map((id) => registry.get(id)).filter(Boolean);
  if (!shapes.length || canvas.zoom() >= 0.75) return;
  canvas.zoom(0.85);
  const box = canvas.viewbox();
  const target = shapes[0];
  canvas.viewbox({
    x: target.x + target.width / 2 - box.width * 0.6,
    y: target.y + target.height / 2 - box.height / 2,
    width: box.width,
    height: box.height,
  });
}

function focus(elementId) {
  const events = instance.history.filter((e) => e.elementId === elementId);
  if (!events.length) return showTimeline();
  replace($('#timeline'), h('div', { class: 'alert alert-info' }, `环节：${names[elementId] || elementId}（${events.length} 条记录）`), timeline(events, names, instance.people));
  $('#timeline-all').classList.remove('hidden');
}

function showTimeline() {
  replace($('#timeline'), timeline(instance.history, names, instance.people));
  $('#timeline-all').classList.add('hidden');
}

function levelLink(l) {
  return `/instances/${encodeURIComponent(instanceId)}?level=${encodeURIComponent(l.process)}`;
}

/** 监控中心 / 信访事项登记受理 / 三级转交办 / …: the procedures from the instance's own to the one shown. */
function breadcrumb(processes) {
  const chain = [];
  for (let l = level; l; l = instance.levels.find((p) => p.process === l.parent)) chain.unshift(l);
  const below = instance.levels.filter((l) => l.parent === level.process);
  replace($('#instance-breadcrumb'), h('a', { href: '/cockpit' }, '监控中心'),
    chain.map((l, i) => [' / ', i === chain.length - 1
      ? h('span', { class: 'level-current', 'data-testid': 'level-current' }, l.name)
      : h('a', { href: levelLink(l), 'data-testid': `level-${l.process}` }, l.name)]),
    below.map((l) => [' › ', h('a', { href: levelLink(l), 'data-testid': `level-${l.process}` }, `下级程序：${l.name}`)]));
  $('#diagram-title').textContent = chain.length > 1 ? `流程图 · ${level.name}` : '流程图';
  return processes;
}

function taskTable() {
  replace($('#open-tasks tbody'), instance.tasks.length ? instance.tasks.map((t) => {
    const due = dueState(t.due, t.warnAt);
    return h('tr', { class: due.overdue ? 'row-overdue' : '' },
      h('td', {}, h('a', { href: `/tasks/${encodeURIComponent(t.id)}` }, t.name || t.elementId)),
      h('td', {}, (t.candidateGroups || []).map((g) => label(GROUPS, g)).join('、') || '—'),
      h('td', {}, t.assignee || badge('待认领', 'grey')),
      h('td', { class: 'nowrap' }, fmtDue(t.due)),
      h('td', {}, badge(due.text, due.tone)));
  }) : emptyRow(5, instance.state === 'active' ? '没有人工待办（等待定时器、消息或子流程）' : '流程已结束'));
}

async function petitionCard(processes) {
  const card = $('#petition-card');
  if (!instance.businessKey) { card.classList.add('hidden'); return; }
  try {
    const p = await get(`/api/petitions/${encodeURIComponent(instance.businessKey)}`);
    replace(card, h('div', { class: 'card-head' }, h('h2', {}, '信访事项'),
      h('a', { href: `/petitions/${encodeURIComponent(p.number)}`, class: 'small' }, '详情')),
    definitionList([['编号', p.number], ['信访人', p.petitionerName], ['标题', p.subject], ['涉及单位', p.involvedUnit]]),
    h('h3', { style: 'margin:12px 0 6px' }, '该事项的全部流程'),
    h('table', { class: 'table table-compact' }, h('tbody', {}, p.instances.map((i) => h('tr', {},
      h('td', {}, i.id === instance.id ? h('strong', {}, processes[i.definitionKey] || i.definitionKey)
        : h('a', { href: `/instances/${encodeURIComponent(i.id)}` }, processes[i.definitionKey] || i.definitionKey)),
      h('td', { class: 'nowrap' }, fmtDateTime(i.startedAt)),
      h('td', {}, badge(label(INSTANCE_STATES, i.state), i.state === 'active' ? 'blue' : 'grey')))))));
  } catch (error) {
    replace(card, h('h2', {}, '信访事项'), h('p', { class: 'muted' }, error.status === 404 ? '未登记为信访事项' : explain(error)));
  }
}

function actions() {
  const box = $('#instance-actions');
  const buttons = [];
  if (instance.businessKey) buttons.push(h('a', { class: 'btn', href: `/petitions/${encodeURIComponent(instance.businessKey)}` }, '信访事项'));
  const supervisor = me.roles.includes('supervisor') || me.roles.includes('admin');
  const command = (name, text, confirmText) => h('button', {
    type: 'button', class: name === 'cancel' ? 'btn btn-danger' : 'btn',
    onclick: async () => {
      if (!window.confirm(confirmText)) return;
      try {
        const reply = await post(`${url}/${name}`, name === 'cancel' ? { reason: '督办人员撤销' } : undefined);
        // A resume whose due timer failed to fire: resumed all the same, and the reply names the step.
        if (reply && reply.incidentId) flash(reply.message, 'warning', true);
        else flash(`已${text}`, 'success');
        await load();
      } catch (error) { flash(explain(error), 'error'); }
    },
  }, text);
  if (supervisor && instance.state === 'active') buttons.push(command('suspend', '挂起', '挂起后期限和定时器暂停，确定挂起？'));
  if (supervisor && instance.state === 'suspended') buttons.push(command('resume', '恢复', '确定恢复办理？'));
  if (supervisor && instance.state === 'active') {
    const active = [...new Set([...instance.tasks.map((t) => t.elementId), ...(instance.activeElements || [])])];
    buttons.push(...repairButtons(instance, {
      active: active.map((id) => [id, names[id] || id]),
      targets: () => repairTargets,
      reload: load,
    }));
  }
  if (supervisor && ['active', 'suspended'].includes(instance.state)) buttons.push(command('cancel', '撤销', '撤销后流程终止且不可恢复，确定撤销？'));
  replace(box, buttons);
}

async function load() {
  try {
    instance = await get(url);
  } catch (error) {
    replace($('#diagram'), h('div', { class: 'alert alert-warning', style: 'margin:16px' }, explain(error)));
    return;
  }
  const { names: processes, rows } = await processNames();
  const definition = rows.find((d) => d.id === instance.definitionId);
  const levels = instance.levels || [];
  level = levels.find((l) => l.process === asked) || levels[levels.length - 1]
    || { process: instance.definitionKey, name: processes[instance.definitionKey], definitionId: instance.definitionId, parent: null };
  breadcrumb(processes);
  const stateTone = { active: 'blue', suspended: 'amber', completed: 'green', cancelled: 'grey' }[instance.state];
  $('#instance-title').textContent = `${instance.businessKey || '流程实例'} · ${processes[instance.definitionKey] || instance.definitionKey}`;
  replace($('#instance-sub'), badge(label(INSTANCE_STATES, instance.state), stateTone),
    `  第 ${definition ? definition.version : '?'} 版 · 开始于 ${fmtDateTime(instance.startedAt)}`,
    instance.startedBy ? ` · 发起人 ${instance.startedBy}` : '',
    instance.endedAt ? ` · 结束于 ${fmtDateTime(instance.endedAt)}` : '',
    instance.nextTimerAt ? ` · 下一定时 ${fmtDateTime(instance.nextTimerAt)}` : '');
  actions();
  taskTable();
  names = namesFromEvents(instance.history);
  showTimeline();
  petitionCard(processes);
  const container = $('#diagram');
  replace(container);
  try {
    const xml = await get(`/api/definitions/${encodeURIComponent(level.definitionId || instance.definitionId)}/xml`);
    const viewer = await showDiagram(container, xml);
    await showLevel(viewer);
    names = { ...names, ...elementNames(viewer) };
    repairTargets = viewer.get('elementRegistry')
      .filter((e) => /Task$|CallActivity|IntermediateCatchEvent$/.test(e.type) && e.businessObject.name)
      .map((e) => [e.id, e.businessObject.name.replace(/\s+/g, ' ')]);
    actions();
    showTimeline();
    mark(viewer);
    const focusIds = instance.tasks.map((t) => t.elementId).concat(instance.activeElements || []);
    focusOn(viewer, focusIds);
    replace($('#diagram-tools'), diagramTools(viewer, focusIds));
    container.dataset.ready = 'true';
  } catch (error) {
    replace(container, h('div', { class: 'alert alert-error', style: 'margin:16px' }, `无法显示流程图：${explain(error)}`));
  }
  replace($('#legend'), diagramLegend([['sw-done', '已办理（走过的路径）'], ['sw-active', '当前待办'], ['sw-overdue', '超期待办']]));
}

$('#timeline-all').addEventListener('click', showTimeline);
load();
