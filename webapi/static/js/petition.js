// 信访事项: one petition's record, procedures, deadlines and timeline.
import {
  $, INSTANCE_STATES, badge, ctx, deadlineTable, explain, flash, fmtDateTime, get, h, label, me, papersPanel,
  petitionPanel, post, processNames, replace, timeline,
} from './common.js';

const OPEN = ['registered', 'in_progress'];
const has = (...roles) => Boolean(me) && roles.some((role) => me.roles.includes(role));

/** One action as a small form folded under its title: its fields, a button, and the POST it sends; the page
 * reloads after it. Folded, the list of actions fits on a screen; the official opens the one they need. */
function actionForm(title, fields, button, send) {
  const form = h('form', { class: 'form-stack', 'data-action': title }, fields,
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, button)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries());
    try {
      await send(data);
      flash(`${title}：已登记`, 'success');
      load();
    } catch (error) {
      flash(explain(error), 'error', true);
    }
  });
  return h('details', { class: 'action' }, h('summary', {}, title), form);
}

const field = (text, control) => h('label', {}, text, control);
const area = (name, required = true) => h('textarea', { name, rows: 2, required, maxlength: 2000 });

/** What a registrar records for the petitioner (满意度评价、复查、复核、撤回、关联), and the unit's extension
 * request. The evaluation follows the public pages' rules: once, while open, a reason for 不满意. */
function actions(p) {
  const url = (path) => `/api/petitions/${encodeURIComponent(p.number)}/${path}`;
  const forms = [];
  if (has('registrar', 'admin')) {
    forms.push(actionForm('满意度评价', [
      field('评价结果', h('select', { name: 'rating', required: true }, h('option', { value: '' }, '请选择'),
        h('option', { value: 'satisfied' }, '满意'), h('option', { value: 'basically_satisfied' }, '基本满意'),
        h('option', { value: 'dissatisfied' }, '不满意'))),
      field('理由（不满意的必填）', area('reason', false)),
    ], '代为登记评价', (d) => post(url('evaluation'), { rating: d.rating, reason: d.reason || null })));
    forms.push(actionForm('请求复查或复核', [
      field('种类', h('select', { name: 'kind' }, h('option', { value: 'review' }, '复查'), h('option', { value: 'recheck' }, '复核'))),
      field('请求', area('request')), field('事实', area('facts', false)), field('理由', area('reasons', false)),
      field('收到请求日期', h('input', { type: 'date', name: 'requestedAt' })),
    ], '代为登记请求', (d) => post(url('review-requests'), Object.fromEntries(Object.entries(d).filter(([, v]) => v !== '')))));
    if (OPEN.includes(p.status)) {
      forms.push(actionForm('撤回信访事项', [field('撤回理由', area('reason'))], '登记撤回', (d) => post(url('withdrawal'), d)));
    }
    if (OPEN.includes(p.status)) {
      forms.push(actionForm('合并办理', [
        field('并入的事项编号（收到日期不晚于本事项）', h('input', { name: 'into', required: true, maxlength: 30 })),
        field('理由', area('reason')),
      ], '合并办理', (d) => post(url('merge'), d)));
      forms.push(actionForm('拆分办理', [
        field('拆出事项的标题', h('input', { name: 'subject', required: true, maxlength: 100 })),
        field('请求', area('request')), field('事实', area('facts', false)), field('拆分理由', area('reason')),
      ], '拆分登记', (d) => post(url('split'), Object.fromEntries(Object.entries(d).filter(([, v]) => v !== '')))));
    }
    forms.push(actionForm('关联同一事项', [
      field('更早登记的事项编号', h('input', { name: 'other', required: true, maxlength: 30 })),
      field('理由', area('reason')),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'unlink', value: 'true' }), ' 取消关联'),
    ], '保存', (d) => post(url('links'), { other: d.other, reason: d.reason, linked: !d.unlink })));
  }
  if (has('handler', 'admin') && OPEN.includes(p.status)) {
    forms.push(actionForm('申请延长办理期限', [
      field('延期理由（告知信访人）', area('reason')),
      field('延长天数（不超过30日）', h('input', { type: 'number', name: 'days', min: 1, max: 30, required: true })),
    ], '提交负责人审批', (d) => post(url('extension-requests'), { reason: d.reason, days: Number(d.days) })));
  }
  return forms.length ? h('section', { class: 'card', id: 'petition-actions' }, h('h2', {}, '办理事项'), forms) : null;
}

async function load() {
  const body = $('#petition-body');
  let p;
  try {
    p = await get(`/api/petitions/${encodeURIComponent(ctx.number)}`);
  } catch (error) {
    replace(body, h('div', { class: 'alert alert-warning' }, explain(error)));
    return;
  }
  const { names } = await processNames();
  $('#petition-sub').textContent = `${p.petitionerName} · ${p.subject} · 登记于 ${fmtDateTime(p.registeredAt)}${p.registeredBy ? `（${p.registeredBy}）` : ''}`;
  const left = petitionPanel(p, { withTimeline: false });
  // The panel's deadline card is replaced by the procedures card below it on this page.
  left.querySelectorAll('section')[1].replaceWith(h('section', { class: 'card' }, h('h2', {}, '法定期限'), deadlineTable(p.deadlines)));
  left.append(h('section', { class: 'card' }, h('h2', {}, '办理流程'),
    h('table', { class: 'table table-compact' },
      h('thead', {}, h('tr', {}, h('th', {}, '流程'), h('th', {}, '开始'), h('th', {}, '结束'), h('th', {}, '状态'))),
      h('tbody', {}, p.instances.map((i) => h('tr', {},
        h('td', {}, h('a', { href: `/instances/${encodeURIComponent(i.id)}` }, names[i.definitionKey] || i.definitionKey)),
        h('td', { class: 'nowrap' }, fmtDateTime(i.startedAt)),
        h('td', { class: 'nowrap' }, fmtDateTime(i.endedAt)),
        h('td', {}, badge(label(INSTANCE_STATES, i.state), i.state === 'active' ? 'blue' : 'grey'))))))));
  left.append(await papersPanel(p.number, { onChange: load }));
  const extra = actions(p);
  if (extra) left.append(extra);
  replace(body, left, h('section', { class: 'card' }, h('h2', {}, '办理过程'), timeline(p.timeline, {}, p.people)));
}

load();
