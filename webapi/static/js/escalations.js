// 预警督办: the escalation ladder as a board, one column per step (warning, supervision, listing, patrol), each
// a page at a time from the server with its total.
import {
  $, $$, DEADLINE_NAMES, SUPERVISION_REASONS, UNIT_NAMES, badge, explain, flash, fmtDateTime, fmtDue, getPage, h, label, query,
  replace, unitCode,
} from './common.js';

const filters = $('#escalation-filters');

// The ladder's details, as supervisors name them; other keys are not shown.
const DETAILS = {
  period: ['期间', (v) => String(v).replace(/^(\d{4})H([12])$/, (m, y, h2) => `${y}年${h2 === '1' ? '上' : '下'}半年`)],
  supervised: ['超期督办', (v) => `${v} 件`],
  skipLevel: ['越级走访', (v) => `${v} 件`],
  groupVisits: ['集体访', (v) => `${v} 件`],
  repeats: ['重复信访', (v) => `${v} 件`],
  dissatisfied: ['群众不满意', (v) => `${v} 件`],
  reason: ['督办事由', (v) => label(SUPERVISION_REASONS, v)],
  by: ['督办人', String],
  day: ['巡查日', String],
  rating: ['群众评价', (v) => ({ dissatisfied: '不满意' }[v] || v)],
};

function card(e) {
  const details = e.details || {};
  const extra = Object.entries(details).filter(([k, v]) => DETAILS[k] && v !== null && typeof v !== 'object')
    .map(([k, v]) => `${DETAILS[k][0]}：${DETAILS[k][1](v)}`).join('；');
  return h('div', { class: 'esc-card', dataset: { escalation: e.id } },
    h('div', { class: 'esc-top' },
      e.businessKey ? h('a', { href: `/petitions/${encodeURIComponent(e.businessKey)}` }, e.businessKey) : h('strong', {}, UNIT_NAMES[e.unit] || e.unit || '—'),
      e.deadline ? badge(label(DEADLINE_NAMES, e.deadline, e.deadline), e.kind === 'warning' ? 'amber' : 'red') : null),
    h('div', { class: 'esc-reason' }, e.reason || ''),
    extra ? h('div', { class: 'muted small' }, extra) : null,
    h('div', { class: 'esc-meta' },
      h('span', {}, UNIT_NAMES[e.unit] || e.unit || '未指定单位'),
      h('span', {}, e.due ? `期限 ${fmtDue(e.due)}` : fmtDateTime(e.createdAt))),
    e.instanceId ? h('div', { class: 'esc-meta' }, h('a', { href: `/instances/${encodeURIComponent(e.instanceId)}` }, '查看流程图'),
      h('span', {}, `生成于 ${fmtDateTime(e.createdAt)}`)) : null);
}

const PAGE = 20;

/** One column's steps from ``offset`` on, its total in the head, and a button for the next page. */
async function fill(column, params, offset = 0) {
  const body = $('.column-body', column);
  let page;
  try {
    page = await getPage(`/api/escalations${query({ ...params, kind: column.dataset.kind, limit: PAGE, offset })}`);
  } catch (error) {
    flash(explain(error), 'error');
    return;
  }
  const { rows, total } = page;
  $('.count', column).textContent = total;
  if (!offset) replace(body);
  for (const more of $$('.more', body)) more.remove();
  if (!total) body.append(h('p', { class: 'muted small', style: 'text-align:center' }, '暂无'));
  body.append(...rows.map(card));
  const shown = offset + rows.length;
  if (shown < total) {
    body.append(h('button', { type: 'button', class: 'btn btn-sm more', onclick: () => fill(column, params, shown) },
      `再显示 ${Math.min(PAGE, total - shown)} 条（共 ${total} 条）`));
  }
}

async function load() {
  const params = Object.fromEntries(new FormData(filters).entries());
  if (params.unit) params.unit = unitCode(params.unit);
  await Promise.all($$('.column').map((column) => fill(column, params)));
}

filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
filters.addEventListener('reset', () => setTimeout(load));
load();
