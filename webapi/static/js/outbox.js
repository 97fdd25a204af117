// 短信发件箱: the notifier's outbox (engine/notifier.py); the administrator marks what was sent by hand.
import { $, badge, emptyRow, explain, flash, fmtDateTime, get, h, post, query, replace } from './common.js';

const filters = $('#outbox-filters');
const STATUS = { pending: ['待发送', 'amber'], sent: ['已发送', 'green'], failed: ['发送失败', 'red'] };

function mark(message, status) {
  return async (event) => {
    event.target.disabled = true;
    try {
      await post(`/api/admin/outbox/${message.id}`, { status });
      flash(status === 'sent' ? '已标记为已发送' : '已标记为发送失败', 'success');
      load();
    } catch (error) {
      flash(explain(error), 'error');
      event.target.disabled = false;
    }
  };
}

async function load() {
  const params = Object.fromEntries(new FormData(filters).entries());
  let rows = [];
  try {
    rows = await get(`/api/admin/outbox${query({ ...params, limit: 200 })}`);
  } catch (error) {
    flash(explain(error), 'error');
  }
  replace($('#outbox-table tbody'), rows.length ? rows.map((m) => h('tr', { dataset: { message: m.id } },
    h('td', { class: 'nowrap' }, fmtDateTime(m.createdAt)),
    h('td', {}, m.businessKey ? h('a', { href: `/petitions/${encodeURIComponent(m.businessKey)}` }, m.businessKey) : '—'),
    h('td', { class: 'nowrap' }, m.recipient),
    h('td', {}, m.text),
    h('td', {}, badge(...(STATUS[m.status] || [m.status, 'grey'])), m.sentAt ? h('div', { class: 'muted small' }, fmtDateTime(m.sentAt)) : null),
    h('td', { class: 'nowrap' }, m.status === 'pending' ? [
      h('button', { type: 'button', class: 'btn btn-sm', onclick: mark(m, 'sent') }, '标记已发送'),
      h('button', { type: 'button', class: 'btn btn-sm', onclick: mark(m, 'failed') }, '标记失败')] : null)))
    : emptyRow(6, '没有短信'));
}

filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
load();
