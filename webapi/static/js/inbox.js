// 站内通知: the official's inbox (engine/inbox.py), marked read one by one or all at once, and the optional
// e-mail address for copies.
import { $, badge, explain, flash, fmtDateTime, get, h, api, post, query, refreshInboxCount, replace } from './common.js';

const KINDS = { task: ['新待办', 'blue'], warning: ['临期预警', 'amber'], supervision: ['督办', 'red'] };
const PAGE = 50;
let offset = 0;

function target(entry) {
  if (entry.taskId) return `/tasks/${encodeURIComponent(entry.taskId)}`;
  if (entry.instanceId) return `/instances/${encodeURIComponent(entry.instanceId)}`;
  return null;
}

async function markRead(ids) {
  try {
    await post('/api/notifications/read', { ids });
    await Promise.all([load(), refreshInboxCount()]);
  } catch (error) {
    flash(explain(error), 'error');
  }
}

function item(entry) {
  const [kind, tone] = KINDS[entry.kind] || [entry.kind, 'grey'];
  const href = target(entry);
  const title = href
    ? h('a', { href, onclick: () => { if (!entry.read) post('/api/notifications/read', { ids: [entry.id] }).catch(() => {}); } }, entry.title)
    : entry.title;
  return h('li', { class: entry.read ? 'read' : 'unread', dataset: { notification: entry.id, kind: entry.kind } },
    badge(kind, tone),
    h('div', { class: 'inbox-text' }, h('div', { class: 'inbox-title' }, title),
      h('div', { class: 'muted small' }, fmtDateTime(entry.createdAt), entry.businessKey ? ` · ${entry.businessKey}` : '')),
    entry.read ? h('span', { class: 'muted small' }, '已读')
      : h('button', { type: 'button', class: 'btn btn-sm', onclick: () => markRead([entry.id]) }, '标为已读'));
}

async function load() {
  const unread = $('#only-unread').checked;
  let page;
  try {
    page = await get(`/api/notifications${query({ unread: unread || null, limit: PAGE, offset })}`);
  } catch (error) {
    replace($('#inbox-list'), h('li', { class: 'muted' }, explain(error)));
    return;
  }
  replace($('#inbox-list'), page.items.length ? page.items.map(item) : h('li', { class: 'muted' }, '没有通知'));
  replace($('#inbox-pager'),
    offset ? h('button', { type: 'button', class: 'btn btn-sm', onclick: () => { offset = Math.max(0, offset - PAGE); load(); } }, '上一页') : null,
    page.items.length === PAGE ? h('button', { type: 'button', class: 'btn btn-sm', onclick: () => { offset += PAGE; load(); } }, '下一页') : null,
    h('span', { class: 'muted small' }, ` 未读 ${page.unread} 条`));
}

async function loadEmail() {
  try {
    const setting = await get('/api/notifications/email');
    $('#email').value = setting.email || '';
    $('#email-note').textContent = setting.available ? '新通知将同时发到此邮箱。' : '系统尚未配置邮件服务器，暂不发送邮件。';
  } catch (error) {
    $('#email-note').textContent = explain(error);
  }
}

$('#inbox-filters').addEventListener('submit', (event) => { event.preventDefault(); offset = 0; load(); });
$('#read-all').addEventListener('click', () => markRead(null));
$('#email-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await api('PUT', '/api/notifications/email', { email: $('#email').value.trim() || null });
    flash('邮件提醒设置已保存', 'success');
    loadEmail();
  } catch (error) {
    flash(explain(error), 'error');
  }
});
load();
loadEmail();
