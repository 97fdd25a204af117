// 信访事项查询: search the registry.
import {
  $, CHANNELS, emptyRow, explain, exportButtons, get, h, label, petitionFlags, petitionStatusBadge, query, replace,
} from './common.js';

const filters = $('#petition-filters');

async function load() {
  const params = Object.fromEntries(new FormData(filters).entries());
  const body = $('#petition-table tbody');
  try {
    const rows = await get(`/api/petitions${query({ ...params, limit: 200 })}`);
    replace(body, rows.length ? rows.map((p) => h('tr', {},
      h('td', { class: 'nowrap' }, h('a', { href: `/petitions/${encodeURIComponent(p.number)}` }, p.number)),
      h('td', {}, p.petitionerName, p.peopleCount > 1 ? h('span', { class: 'muted small' }, ` 等 ${p.peopleCount} 人`) : null),
      h('td', {}, p.subject),
      h('td', { class: 'nowrap' }, label(CHANNELS, p.channel)),
      h('td', { class: 'nowrap' }, p.receivedAt),
      h('td', {}, p.involvedUnit || '—'),
      h('td', {}, h('div', { class: 'flags', style: 'margin:0' }, petitionFlags(p))),
      h('td', {}, petitionStatusBadge(p.status)))) : emptyRow(8, '没有符合条件的信访事项'));
  } catch (error) {
    replace(body, emptyRow(8, explain(error)));
  }
}

filters.append(exportButtons(filters, '/api/petitions/export'));
filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
filters.addEventListener('reset', () => setTimeout(load));
load();
