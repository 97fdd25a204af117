// 监控中心: in-flight instances with filters (procedure, unit, state, overdue), their current steps and deadlines.
import {
  $, GROUPS, INSTANCE_STATES, SUPERVISION_REASONS, UNIT_NAMES, badge, dueState, emptyRow, explain, flash, fmtDateTime,
  get, h, label, me, post, query, replace,
} from './common.js';

const filters = $('#instance-filters');
const table = $('#instance-table tbody');
let definitions = [];
let petitions = {};

function stat(text, value, tone = '', testid = null) {
  return h('div', { class: `stat ${tone}`, 'data-testid': testid },
    h('div', { class: 'stat-label' }, text), h('div', { class: 'stat-value' }, value));
}

async function stats(tasks) {
  const overdue = tasks.filter((t) => dueState(t.due, t.warnAt).overdue).length;
  let warnings = 0;
  let supervision = 0;
  try {
    const escalations = await get('/api/escalations?limit=500');
    warnings = escalations.filter((e) => e.kind === 'warning').length;
    supervision = escalations.filter((e) => e.kind !== 'warning').length;
  } catch { /* the board shows why */ }
  const active = await get('/api/instances?state=active&limit=500').then((r) => r.length).catch(() => '—');
  replace($('#cockpit-stats'),
    stat('在办流程实例', active, '', 'stat-active'),
    stat('超期待办', overdue, overdue ? 'red' : 'green', 'stat-overdue'),
    stat('临期预警', warnings, warnings ? 'amber' : ''),
    stat('督办 / 挂牌 / 巡查', supervision, supervision ? 'red' : ''));
}

function row(instance, tasks, names, versions) {
  const open = tasks.filter((t) => t.instanceId === instance.id);
  const states = open.map((t) => dueState(t.due, t.warnAt));
  const worst = states.find((s) => s.overdue) || states.find((s) => s.tone === 'amber') || states[0];
  const petition = petitions[instance.businessKey] || {};
  const link = `/instances/${encodeURIComponent(instance.id)}`;
  const stateTone = { active: 'blue', suspended: 'amber', completed: 'green', cancelled: 'grey' }[instance.state];
  return h('tr', { class: worst && worst.overdue ? 'row-overdue' : worst && worst.tone === 'amber' ? 'row-soon' : '', dataset: { instanceId: instance.id } },
    h('td', {}, worst ? badge(worst.text, worst.tone) : badge(instance.state === 'active' ? '无待办' : '—', 'grey')),
    h('td', { class: 'nowrap' }, h('a', { href: link }, instance.businessKey || instance.id.slice(0, 8))),
    h('td', {}, names[instance.definitionKey] || instance.definitionKey,
      h('div', { class: 'muted small' }, `第 ${versions[instance.definitionId] || '?'} 版`)),
    h('td', {}, open.length ? open.map((t) => h('div', {}, t.name || t.elementId, ' ',
      h('span', { class: 'muted small' }, (t.candidateGroups || []).map((g) => label(GROUPS, g)).join('、'))))
      : (instance.activeElements || []).length ? h('span', { class: 'muted' }, '等待中（定时器或子流程）') : '—'),
    h('td', {}, petition.involvedUnit || '—'),
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

async function load() {
  const params = Object.fromEntries(new FormData(filters).entries());
  const { unit, ...rest } = params;
  try {
    const [instances, tasks] = await Promise.all([
      get(`/api/instances${query({ ...rest, limit: 500 })}`),
      get('/api/tasks?limit=500'),
    ]);
    let shown = instances;
    if (unit) {
      // Instances carry no unit; the petition registered under their business key does.
      const inUnit = await get(`/api/petitions${query({ unit, limit: 500 })}`);
      const numbers = new Set(inUnit.map((p) => p.number));
      shown = instances.filter((i) => numbers.has(i.businessKey));
    }
    const names = {};
    const versions = {};
    for (const d of definitions) { names[d.key] = names[d.key] || d.name || d.key; versions[d.id] = d.version; }
    // Overdue cases first, then the soonest due, then the newest.
    const urgency = (instance) => {
      const dues = tasks.filter((t) => t.instanceId === instance.id && t.due).map((t) => new Date(t.due).getTime());
      return dues.length ? Math.min(...dues) : Infinity;
    };
    shown = [...shown].sort((a, b) => urgency(a) - urgency(b));
    replace(table, shown.length ? shown.map((i) => row(i, tasks, names, versions)) : emptyRow(9, '没有符合条件的流程实例'));
    $('#instance-count').textContent = `共 ${shown.length} 个流程实例`;
    stats(tasks);
  } catch (error) {
    replace(table, emptyRow(9, explain(error)));
    flash(explain(error), 'error');
  }
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
  try {
    for (const p of await get('/api/petitions?limit=500')) petitions[p.number] = p;
  } catch { petitions = {}; }
  // By the unit answering for each item (its code), shown by name.
  const unitName = (code) => UNIT_NAMES[code] || code;
  const units = [...new Set(Object.values(petitions).map((p) => p.responsibleUnit).filter(Boolean))]
    .sort((a, b) => unitName(a).localeCompare(unitName(b), 'zh'));
  for (const unit of units) $('#filter-unit').append(h('option', { value: unit }, unitName(unit)));
  filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  filters.addEventListener('reset', () => setTimeout(load));
  await load();
}

init();
