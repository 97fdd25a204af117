// 我的待办: tasks assigned to me or offered to my groups, overdue first, a page at a time from the server;
// filter (procedure, group, item number, words of the petition), sort, save filters, claim, release.
import {
  $, $$, GROUPS, badge, dueState, explain, exportButtons, flash, fmtDue, getPage, h, label, me, post,
  processNames, query, replace, WARN_BEFORE_DAYS,
} from './common.js';
import { pagedList, savedFilters } from './lists.js';

const filters = $('#task-filters');
filters.append(exportButtons(filters, '/api/tasks/export', { mine: true }));
let tab = 'all';
let names = {};
// What each tab asks the server for.
const TABS = { all: {}, mine: { assignee: me.username }, group: { unassigned: true } };

function stat(labelText, value, tone = '') {
  return h('div', { class: `stat ${tone}` }, h('div', { class: 'stat-label' }, labelText), h('div', { class: 'stat-value' }, value));
}

/** How many tasks the filter finds with ``more`` (the server counts; one row is fetched). */
async function total(more) {
  const params = Object.fromEntries(new FormData(filters).entries());
  try {
    return (await getPage(`/api/tasks${query({ ...params, mine: true, ...more, limit: 1 })}`)).total;
  } catch {
    return '—';
  }
}

async function renderStats() {
  const [all, overdue, soon, unclaimed, mine] = await Promise.all([
    total({}), total({ overdue: true }), total({ dueSoon: true }), total(TABS.group), total(TABS.mine),
  ]);
  replace($('#task-stats'),
    stat('待办总数', all),
    stat('已超期', overdue, overdue ? 'red' : ''),
    stat(`${WARN_BEFORE_DAYS} 日内到期`, soon, soon ? 'amber' : ''),
    stat('待认领', unclaimed, 'green'));
  const counts = { all, mine, group: unclaimed };
  for (const which of Object.keys(TABS)) $(`[data-count="${which}"]`).textContent = counts[which];
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
  await reload();
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
  const c = task.case || {};
  const step = task.step;
  return h('tr', { class: due.overdue ? 'row-overdue' : due.tone === 'amber' ? 'row-soon' : '', dataset: { taskId: task.id, element: task.elementId } },
    h('td', {}, badge(due.text, due.tone), task.suspended ? badge('已挂起', 'grey') : null),
    h('td', {}, h('a', { href: link, class: 'task-name' }, task.name || task.elementId),
      h('div', { class: 'muted small' }, (task.candidateGroups || []).map((g) => label(GROUPS, g)).join('、'))),
    h('td', { class: 'nowrap' }, task.businessKey ? h('a', { href: `/petitions/${encodeURIComponent(task.businessKey)}` }, task.businessKey) : '—'),
    h('td', { class: 'nowrap' }, c.petitionerName || '—'),
    h('td', {}, c.subject || '—'),
    h('td', { class: 'nowrap' }, c.receivedAt || '—'),
    h('td', {}, step ? step.processName : names[task.definitionKey] || '—'),
    h('td', {}, task.assignee ? (mine ? badge('本人', 'blue') : task.assignee) : badge('待认领', 'grey')),
    h('td', { class: 'nowrap' }, fmtDue(task.due)),
    h('td', {}, h('div', { class: 'actions' }, actions)));
}

const list = pagedList({
  path: '/api/tasks',
  form: filters,
  table: $('#task-table'),
  pager: $('#task-pager'),
  render: row,
  columns: 10,
  empty: '暂无待办任务',
  extra: () => ({ mine: true, ...TABS[tab] }),
  onLoad: () => renderStats(),
});

function reload() {
  return list.load();
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
      list.load(0);
    });
  }
  $('#refresh').addEventListener('click', reload);
  savedFilters($('#saved-filters'), 'tasks', filters, () => list.load(0));
  await list.load(0);
}

init();
