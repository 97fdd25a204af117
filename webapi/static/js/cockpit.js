// 监控中心: in-flight instances with filters (procedure, unit, state, overdue), their current steps and deadlines.
import {
  $, INSTANCE_STATES, SUPERVISION_REASONS, UNIT_NAMES, badge, dueState, explain, flash, fmtDateTime,
  get, getPage, h, label, me, post, replace,
} from './common.js';
import { pagedList, stepsCell } from './lists.js';

const filters = $('#instance-filters');
let definitions = [];

function stat(text, value, tone = '', testid = null) {
  return h('div', { class: `stat ${tone}`, 'data-testid': testid },
    h('div', { class: 'stat-label' }, text), h('div', { class: 'stat-value' }, value));
}

/** How many rows a list holds over all its pages (the server counts; one row is fetched). */
const totalOf = (path) => getPage(path).then((r) => r.total).catch(() => '—');

async function stats() {
  const [active, overdue, escalations, warnings] = await Promise.all([
    totalOf('/api/instances?state=active&limit=1'),
    totalOf('/api/tasks?overdue=true&limit=1'),
    totalOf('/api/escalations?limit=1'),
    totalOf('/api/escalations?kind=warning&limit=1'),
  ]);
  const supervision = typeof escalations === 'number' && typeof warnings === 'number' ? escalations - warnings : '—';
  replace($('#cockpit-stats'),
    stat('在办流程实例', active, '', 'stat-active'),
    stat('超期待办', overdue, overdue ? 'red' : 'green', 'stat-overdue'),
    stat('临期预警', warnings, warnings ? 'amber' : ''),
    stat('督办 / 挂牌 / 巡查', supervision, supervision ? 'red' : ''));
}

function row(instance) {
  const open = instance.tasks || [];
  const states = open.map((t) => dueState(t.due, t.warnAt));
  const worst = states.find((s) => s.overdue) || states.find((s) => s.tone === 'amber') || states[0];
  const link = `/instances/${encodeURIComponent(instance.id)}`;
  const stateTone = { active: 'blue', suspended: 'amber', completed: 'green', cancelled: 'grey' }[instance.state];
  const definition = definitions.find((d) => d.id === instance.definitionId);
  const own = definition ? definition.name || definition.key : instance.definitionKey;
  // The procedure the case is in now: the innermost one of its current steps (a called procedure too).
  const procedures = [...new Set((instance.current || []).map((s) => s.processName))];
  return h('tr', { class: worst && worst.overdue ? 'row-overdue' : worst && worst.tone === 'amber' ? 'row-soon' : '', dataset: { instanceId: instance.id } },
    h('td', {}, worst ? badge(worst.text, worst.tone) : badge(instance.state === 'active' ? '无待办' : '—', 'grey')),
    h('td', { class: 'nowrap' }, h('a', { href: link }, instance.businessKey || instance.id.slice(0, 8))),
    h('td', {}, procedures.length ? procedures.join('、') : own,
      h('div', { class: 'muted small' }, procedures.length && procedures[0] !== own ? `${own} · ` : '', `第 ${definition ? definition.version : '?'} 版`)),
    h('td', {}, stepsCell(instance.current)),
    h('td', {}, (instance.case || {}).involvedUnit || '—'),
    h('td', {}, open.map((t) => t.assignee).filter(Boolean).join('、') || (open.length ? badge('待认领', 'grey') : '—')),
    h('td', { class: 'nowrap' }, fmtDateTime(instance.startedAt)),
    h('td', {}, badge(label(INSTANCE_STATES, instance.state), stateTone)),
    h('td', { class: 'nowrap' }, h('a', { class: 'btn btn-sm', href: link }, '流程图'),
      mayStartSupervision && instance.businessKey && instance.state === 'active'
        ? h('button', { type: 'button', class: 'btn btn-sm', dataset: { supervise: instance.businessKey }, onclick: () => openSupervise(instance.businessKey) }, '督办')
        : null));
}

// 重要事项督办 (S003 #11): started here by supervisors; the server checks the role again.
const mayStartSupervision = me && (me.roles.includes('supervisor') || me.roles.includes('admin'));
const dialog = $('#supervise-dialog');
for (const [value, text] of Object.entries(SUPERVISION_REASONS)) $('#supervise-reason').append(h('option', { value }, text));

function openSupervise(number) {
  $('#supervise-number').textContent = number;
  $('#supervise-form').reset();
  dialog.showModal();
}

$('#supervise-cancel').addEventListener('click', () => dialog.close());
$('#supervise-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target).entries());
  const businessKey = $('#supervise-number').textContent;
  try {
    await post('/api/escalations/supervisions', { businessKey, reason: data.reason, note: data.note || null });
    dialog.close();
    flash(`已对 ${businessKey} 启动督办，督办意见待督查督办人员发出`, 'success');
    load();
  } catch (error) {
    flash(explain(error), 'error');
  }
});

// Overdue cases first, then the soonest due (the server's ``due`` order), a page at a time.
const list = pagedList({
  path: '/api/instances',
  form: filters,
  table: $('#instance-table'),
  pager: $('#instance-pager'),
  render: row,
  columns: 9,
  empty: '没有符合条件的流程实例',
  sort: 'due',
  onLoad: () => stats(),
});

function load() {
  return list.load();
}

// The calendar's own warnings: a year counted without the State Council's notice, next year's from 1 November.
async function calendarWarnings() {
  try {
    const { warnings } = await get('/api/calendar/status');
    replace($('#calendar-warnings'), ...warnings.map((w) => h('div', { class: 'alert alert-warning', 'data-testid': 'calendar-warning' }, w.message)));
  } catch { /* the rest of the cockpit still works */ }
}

async function init() {
  calendarWarnings();
  try {
    definitions = await get('/api/definitions');
  } catch (error) {
    flash(explain(error), 'error');
  }
  const seen = new Set();
  for (const d of definitions) {
    if (seen.has(d.key)) continue;
    seen.add(d.key);
    $('#filter-process').append(h('option', { value: d.key }, d.name || d.key));
  }
  // By the unit answering for each item (its code), shown by name.
  const units = Object.entries(UNIT_NAMES).sort((a, b) => a[1].localeCompare(b[1], 'zh'));
  for (const [code, name] of units) $('#filter-unit').append(h('option', { value: code }, name));
  await list.load(0);
}

init();
