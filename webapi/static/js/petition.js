// 信访事项: one petition's record, procedures, deadlines and timeline.
import {
  $, INSTANCE_STATES, badge, ctx, deadlineTable, explain, flash, fmtDateTime, get, h, label, me, petitionPanel,
  post, processNames, replace, timeline,
} from './common.js';

// 代为办理: what the petitioner asks at the counter or by letter, recorded by the registrar with the same rules
// as the public pages (evaluation once while open, 复查/复核 within 30 days, withdrawal while in progress).
function counterCard(p) {
  const number = encodeURIComponent(p.number);
  const box = h('div', { id: 'counter-error' });
  const run = async (button, url, body, done) => {
    button.disabled = true;
    replace(box);
    try {
      await post(url, body);
      flash(done, 'success');
      load();
    } catch (error) {
      replace(box, h('div', { class: 'alert alert-error' }, explain(error)));
      button.disabled = false;
    }
  };
  const rating = h('select', { id: 'counter-rating' }, h('option', { value: '' }, '请选择评价结果'),
    h('option', { value: 'satisfied' }, '满意'), h('option', { value: 'basically_satisfied' }, '基本满意'),
    h('option', { value: 'dissatisfied' }, '不满意'));
  const ratingReason = h('input', { type: 'text', id: 'counter-rating-reason', placeholder: '不满意的理由', maxlength: 1000 });
  const rate = h('button', { type: 'button', class: 'btn', id: 'counter-evaluate' }, '登记评价');
  rate.addEventListener('click', () => run(rate, `/api/petitions/${number}/evaluation`,
    { rating: rating.value, reason: ratingReason.value.trim() || null }, '评价已登记'));
  const kind = h('select', { id: 'counter-kind' }, h('option', { value: 'review' }, '复查'), h('option', { value: 'recheck' }, '复核'));
  const request = h('input', { type: 'text', id: 'counter-request', placeholder: '请求事项', maxlength: 2000 });
  const facts = h('input', { type: 'text', id: 'counter-facts', placeholder: '事实', maxlength: 5000 });
  const reasons = h('input', { type: 'text', id: 'counter-reasons', placeholder: '理由', maxlength: 5000 });
  const ask = h('button', { type: 'button', class: 'btn', id: 'counter-review' }, '登记请求');
  ask.addEventListener('click', () => run(ask, `/api/petitions/${number}/review-requests`, {
    kind: kind.value, request: request.value.trim(), facts: facts.value.trim() || undefined, reasons: reasons.value.trim() || undefined,
  }, '请求已登记并送达复查（复核）机关'));
  const why = h('input', { type: 'text', id: 'counter-withdraw-reason', placeholder: '撤回原因', maxlength: 2000 });
  const withdraw = h('button', { type: 'button', class: 'btn', id: 'counter-withdraw' }, '登记撤回');
  withdraw.addEventListener('click', () => run(withdraw, `/api/petitions/${number}/withdrawal`, { reason: why.value.trim() }, '已登记撤回'));
  const row = (title, ...items) => h('div', { class: 'counter-row' }, h('strong', {}, title), ...items);
  return h('section', { class: 'card', 'data-testid': 'counter-card' }, h('h2', {}, '代信访人办理（当面或来信提出）'), box,
    row('满意度评价', rating, ratingReason, rate),
    row('请求复查复核', kind, request, facts, reasons, ask),
    row('撤回', why, withdraw));
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
  const acting = me && (me.roles.includes('registrar') || me.roles.includes('admin'));
  if (acting && ['registered', 'in_progress'].includes(p.status)) left.append(counterCard(p));
  replace(body, left, h('section', { class: 'card' }, h('h2', {}, '办理过程'), timeline(p.timeline)));
}

load();
