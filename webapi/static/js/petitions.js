// 信访事项查询: search the registry within one's jurisdiction, a page at a time, sorted on the server.
import {
  $, $$, CHANNELS, exportButtons, h, label, me, petitionFlags, petitionStatusBadge,
} from './common.js';
import { pagedList, stepsCell } from './lists.js';

const filters = $('#petition-filters');
// Phones and identity numbers are search keys only for the roles that see them (the server checks again).
const SEES_CONTACT = ['registrar', 'handler', 'leader', 'admin'];
if (me && me.roles.some((r) => SEES_CONTACT.includes(r))) for (const field of $$('.contact-search')) field.hidden = false;

function row(p) {
  return h('tr', { dataset: { number: p.number } },
    h('td', { class: 'nowrap' }, h('a', { href: `/petitions/${encodeURIComponent(p.number)}` }, p.number)),
    h('td', {}, p.petitionerName, p.peopleCount > 1 ? h('span', { class: 'muted small' }, ` 等 ${p.peopleCount} 人`) : null),
    h('td', {}, p.subject),
    h('td', { class: 'nowrap' }, label(CHANNELS, p.channel)),
    h('td', { class: 'nowrap' }, p.receivedAt),
    h('td', {}, p.involvedUnit || '—'),
    h('td', {}, stepsCell(p.current)),
    h('td', {}, h('div', { class: 'flags', style: 'margin:0' }, petitionFlags(p))),
    h('td', {}, petitionStatusBadge(p.status)));
}

// Handlers search and read; the whole list leaves the system only with these roles (policy.PETITION_EXPORTERS).
const EXPORTERS = ['registrar', 'supervisor', 'leader', 'admin'];
if (me && me.roles.some((r) => EXPORTERS.includes(r))) filters.append(exportButtons(filters, '/api/petitions/export'));
const list = pagedList({
  path: '/api/petitions',
  form: filters,
  table: $('#petition-table'),
  pager: $('#petition-pager'),
  render: row,
  columns: 9,
  empty: '没有符合条件的信访事项',
});
list.load(0);
