// 我的待办: tasks assigned to me or offered to my groups, overdue first; filter, claim, release.
import {
  $, $$, GROUPS, badge, dueState, emptyRow, explain, exportButtons, flash, fmtDue, get, h, label, me, post,
  processNames, query, replace, WARN_BEFORE_DAYS,
} from './common.js';

const table = $('#task-table tbody');
const filters = $('#task-filters');
filters.append(exportButtons(filters, '/api/tasks/export', { mine: true }));
let tab = 'all';
let tasks = [];
let names = {};

function inTab(task, which) {
  if (which === 'mine') return task.assignee === me.username;
  if (which === 'group') return !task.assignee;
  return true;
}

function stat(labelText, value, tone = '') {
  return h('div', { class: `stat ${tone}` }, h('div', { class: 'stat-label' }, labelText), h('div', { class: 'stat-value' }, value));
}

function renderStats() {
  const overdue = tasks.filter((t) => dueState(t.due, t.warnAt).overdue).length;
  const soon = tasks.filter((t) => dueState(t.due, t.warnAt).tone === 'amber').length;
  replace($('#task-stats'),
    stat('待办总数', tasks.length),
    stat('已超期', overdue, overdue ? 'red' : ''),
    stat(`${WARN_BEFORE_DAYS} 日内到期`, soon, soon ? 'amber' : ''),
    stat('待认领', tasks.filter((t) => !t.assignee).length, 'green'));
  for (const which of ['all', 'mine', 'group']) {
    $(`[data-count="${which}"]`).textContent = tasks.filter((t) => inTab(t, which)).length;
  }
}

async function act(task, action) {
  try {
    if (action === 'claim') {
      await post(`/api/tasks/${encodeURIComponent(task.id)}/claim`, { userId: me.username });
      flash(`已认领：${task.name || task.elementId}`, 'success');
    } else {
      await post(`/api/tasks/${encodeURIComponent(task.id)}/unclaim`);
      flash(`已释放：${task.name || task.elementId}，任务退回组内待认领`, 'info');
    }
  } catch (error) {
    flash(error.status === 409 ? '该任务已被他人认领或已办结，列表已刷新' : explain(error), 'error');
  }
  await load();
}

function row(task) {
  const due = dueState(task.due, task.warnAt);
  const mine = task.assignee === me.username;
  const link = `/tasks/${encodeURIComponent(task.id)}`;
  const actions = [];
  if (mine) {
    actions.push(h('a', { class: 'btn btn-primary btn-sm', href: link }, '办理'));
    actions.push(h('button', { type: 'button', class: 'btn btn-sm', onclick: () => act(task, 'unclaim') }, '释放'));
  } else if (!task.assignee) {
    actions.push(h('button', { type: 'button', class: 'btn btn-primary btn-sm', onclick: () => act(task, 'claim') }, '认领'));
    actions.push(h('a', { class: 'btn btn-sm', href: link }, '查看'));
  } else {
    actions.push(h('a', { class: 'btn btn-sm', href: link }, '查看'));
  }
  return h('tr', { class: due.overdue ? 'row-overdue' : due.tone === 'amber' ? 'row-soon' : '', dataset: { taskId: task.id, element: task.elementId } },
    h('td', {}, badge(due.text, due.tone), task.suspended ? badge('已挂起', 'grey') : null),
    h('td', {}, h('a', { href: link, class: 'task-name' }, task.name || task.elementId),
      task.description ? h('div', { class: 'muted small' }, task.description.slice(0, 60)) : null),
    h('td', { class: 'nowrap' }, task.businessKey ? h('a', { href: `/petitions/${encodeURIComponent(task.businessKey)}` }, task.businessKey) : '—'),
    h('td', { class: 'nowrap' }, names[task.definitionKey] || task.definitionKey),
    h('td', { class: 'nowrap' }, (task.candidateGroups || []).map((g) => label(GROUPS, g)).join('、') || '—'),
    h('td', {}, task.assignee ? (mine ? badge('本人', 'blue') : task.assignee) : badge('待认领', 'grey')),
    h('td', { class: 'nowrap' }, fmtDue(task.due)),
    h('td', {}, h('div', { class: 'actions' }, actions)));
}

function render() {
  const shown = tasks.filter((t) => inTab(t, tab));
  replace(table, shown.length ? shown.map(row) : emptyRow(8, tab === 'mine' ? '没有已认领的任务' : '暂无待办任务'));
  renderStats();
}

async function load() {
  const params = Object.fromEntries(new FormData(filters).entries());
  try {
    tasks = await get(`/api/tasks${query({ ...params, mine: true, limit: 500 })}`);
  } catch (error) {
    tasks = [];
    flash(explain(error), 'error');
  }
  render();
}

async function init() {
  const { names: processes } = await processNames();
  names = processes;
  const processSelect = $('#filter-process');
  for (const [key, name] of Object.entries(names).sort((a, b) => a[1].localeCompare(b[1], 'zh'))) {
    processSelect.append(h('option', { value: key }, name));
  }
  $('#my-groups').textContent = me.groups.map((g) => label(GROUPS, g)).join('、') || '无';
  const groupSelect = $('#filter-group');
  for (const group of me.groups) groupSelect.append(h('option', { value: group }, label(GROUPS, group)));
  for (const button of $$('#task-tabs button')) {
    button.addEventListener('click', () => {
      tab = button.dataset.tab;
      $$('#task-tabs button').forEach((b) => b.classList.toggle('active', b === button));
      render();
    });
  }
  filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  filters.addEventListener('reset', () => setTimeout(load));
  $('#refresh').addEventListener('click', load);
  await load();
}

init();
