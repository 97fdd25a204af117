// 流程监控: one definition version's diagram with the number of cases waiting at each element drawn on it
// (open tasks from the task table, timers from the timer table, parked instances), and the tasks at an element.
import {
  $, GROUPS, badge, ctx, diagramLegend, diagramTools, dueState, elementNames, emptyRow, explain, fmtDateTime,
  get, h, label, query, replace, showDiagram,
} from './common.js';

let definitions = [];
let viewer = null;
let waiting = [];
let names = {};
let current = null;

function stat(text, value, tone = '') {
  return h('div', { class: `stat ${tone}` }, h('div', { class: 'stat-label' }, text), h('div', { class: 'stat-value' }, value));
}

function sum(rows, field) {
  return rows.reduce((total, row) => total + (row[field] || 0), 0);
}

function overlays() {
  const overlayService = viewer.get('overlays');
  const registry = viewer.get('elementRegistry');
  const canvas = viewer.get('canvas');
  overlayService.remove({ type: 'pf-count' });
  for (const row of waiting) {
    if (!registry.get(row.elementId)) continue;
    const parked = Math.max(0, row.instances - row.tasks - row.timers);
    const bits = [];
    if (row.tasks) bits.push(h('span', { class: row.overdue ? 'ob-overdue' : '', title: `待办 ${row.tasks}，其中超期 ${row.overdue}，待认领 ${row.unclaimed}` }, `${row.tasks}`));
    if (row.overdue) bits.push(h('span', { class: 'ob-overdue', title: '超期' }, `超期 ${row.overdue}`));
    if (row.timers) bits.push(h('span', { class: 'ob-timer', title: `定时器 ${row.timers}` }, `定时 ${row.timers}`));
    if (parked) bits.push(h('span', { class: 'ob-wait', title: '等待子流程或消息' }, `${parked}`));
    if (!bits.length) continue;
    canvas.addMarker(row.elementId, row.overdue ? 'pf-overdue' : 'pf-active');
    overlayService.add(row.elementId, 'pf-count', {
      position: { top: -12, right: 12 },
      scale: { min: 1 },
      html: h('div', { class: 'overlay-badge', 'data-testid': `count-${row.elementId}` }, bits),
    });
  }
}

function tableRows() {
  const body = $('#waiting-table tbody');
  const rows = waiting.filter((r) => r.tasks || r.timers || r.instances);
  replace(body, rows.length ? rows.map((r) => h('tr', { class: r.overdue ? 'row-overdue' : '', style: 'cursor:pointer', onclick: () => showElement(r.elementId) },
    h('td', {}, r.name || names[r.elementId] || '未命名环节',
      r.processName && r.processName !== current.name ? h('div', { class: 'muted small' }, r.processName) : null),
    h('td', { class: 'num' }, r.tasks || '—'),
    h('td', { class: 'num' }, r.overdue ? badge(String(r.overdue), 'red') : '—'),
    h('td', { class: 'num' }, r.unclaimed || '—'),
    h('td', { class: 'num' }, r.timers || '—'),
    h('td', { class: 'nowrap' }, r.nextTimer ? fmtDateTime(r.nextTimer) : '—'),
    h('td', { class: 'num' }, r.instances || '—'))) : emptyRow(7, '该版本没有在办案件'));
}

async function showElement(elementId) {
  const place = waiting.find((r) => r.elementId === elementId) || {};
  $('#element-title').textContent = `环节待办：${place.name || names[elementId] || '未命名环节'}`;
  const box = $('#element-tasks');
  try {
    const tasks = await get(`/api/tasks${query({ definitionKey: current.key, elementId, limit: 200 })}`);
    const mine = tasks.filter((t) => t.definitionId === current.id);
    replace(box, mine.length ? h('table', { class: 'table table-compact' },
      h('thead', {}, h('tr', {}, h('th', {}, '信访事项编号'), h('th', {}, '候选组'), h('th', {}, '办理人'), h('th', {}, '期限状态'))),
      h('tbody', {}, mine.map((t) => {
        const due = dueState(t.due, t.warnAt);
        return h('tr', { class: due.overdue ? 'row-overdue' : '' },
          h('td', {}, h('a', { href: `/instances/${encodeURIComponent(t.instanceId)}` }, t.businessKey || t.instanceId.slice(0, 8))),
          h('td', {}, (t.candidateGroups || []).map((g) => label(GROUPS, g)).join('、') || '—'),
          h('td', {}, t.assignee || badge('待认领', 'grey')),
          h('td', {}, badge(due.text, due.tone)));
      }))) : h('p', { class: 'muted' }, '该环节没有人工待办（可能在等待定时器、消息或子流程）。'));
  } catch (error) {
    replace(box, h('p', { class: 'muted' }, explain(error)));
  }
}

async function show(definitionId) {
  current = definitions.find((d) => d.id === definitionId) || definitions[0];
  if (!current) {
    replace($('#diagram'), h('p', { class: 'muted', style: 'padding:16px' }, '尚未部署任何流程'));
    return;
  }
  history.replaceState(null, '', `?id=${encodeURIComponent(current.id)}`);
  $('#definition-select').value = current.id;
  $('#diagram-title').textContent = `${current.name || current.key} · 第 ${current.version} 版`;
  const container = $('#diagram');
  container.dataset.ready = '';
  if (viewer) { viewer.destroy(); viewer = null; }
  replace(container);
  try {
    const [xml, counts] = await Promise.all([
      get(`/api/definitions/${encodeURIComponent(current.id)}/xml`),
      get(`/ui/waiting${query({ definitionId: current.id })}`),
    ]);
    waiting = counts.elements;
    viewer = await showDiagram(container, xml);
    names = elementNames(viewer);
    overlays();
    viewer.on('element.click', (event) => {
      if (event.element.type !== 'bpmn:Process' && !event.element.type.includes('Flow')) showElement(event.element.id);
    });
    replace($('#diagram-tools'), diagramTools(viewer));
    container.dataset.ready = 'true';
  } catch (error) {
    replace(container, h('div', { class: 'alert alert-error', style: 'margin:16px' }, explain(error)));
    waiting = [];
  }
  replace($('#process-stats'),
    stat('在途实例', current.runningInstances),
    stat('人工待办', sum(waiting, 'tasks')),
    stat('其中超期', sum(waiting, 'overdue'), sum(waiting, 'overdue') ? 'red' : 'green'),
    stat('等待定时器', sum(waiting, 'timers')));
  tableRows();
  replace($('#legend'), diagramLegend([['sw-count', '待办数'], ['sw-overdue', '有超期待办'], ['sw-active', '有待办']]));
}

async function init() {
  try {
    definitions = await get('/api/definitions');
  } catch (error) {
    replace($('#diagram'), h('div', { class: 'alert alert-error', style: 'margin:16px' }, explain(error)));
    return;
  }
  const select = $('#definition-select');
  for (const d of definitions) {
    select.append(h('option', { value: d.id },
      `${d.name || d.key} · 第 ${d.version} 版${d.latest ? '（最新）' : ''}${d.runningInstances ? ` · 在途 ${d.runningInstances}` : ''}`));
  }
  select.addEventListener('change', () => show(select.value));
  const busiest = [...definitions].sort((a, b) => b.runningInstances - a.runningInstances)[0];
  await show(ctx.definitionId || (busiest && busiest.id));
}

init();
