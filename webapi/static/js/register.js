// 信访登记: the designers' registration form (forms/intake_registration.form, as deployed) in form-js; the
// repeat / same-matter / terminated check before saving; then registration, which numbers the petition and
// starts its intake procedure.
import {
  $, ApiError, CHANNELS, createForm, ctx, definitionList, explain, get, h, label, petitionFlags,
  petitionStatusBadge, post, replace, showFieldErrors,
} from './common.js';

const FORM_KEY = 'intake_registration';
let form = null;
let schema = null;

function initialData() {
  return { receivedAt: ctx.today, channel: 'visit', idType: 'resident_id', peopleCount: 1 };
}

function banner(target, tone, title, lines = [], extra = null) {
  replace($(target), h('div', { class: `alert alert-${tone}`, role: 'alert', 'data-testid': target.slice(1) },
    h('h3', {}, title), lines.length ? h('ul', {}, lines.map((l) => h('li', {}, l))) : null, extra));
}

function clear() {
  replace($('#form-errors'));
  replace($('#check-result'));
}

function fieldErrors(error) {
  if (error instanceof ApiError && error.status === 422 && error.details.fields) {
    const unmatched = showFieldErrors(form, schema, error.details.fields);
    banner('#form-errors', 'error', `有 ${Object.keys(error.details.fields).length} 项未通过校验，已在表单中标出`, unmatched);
  } else {
    banner('#form-errors', 'error', '操作失败', [explain(error)]);
  }
}

async function save(data, button) {
  button.disabled = true;
  try {
    const petition = await post('/api/petitions', data);
    done(petition);
  } catch (error) {
    fieldErrors(error);
  } finally {
    button.disabled = false;
  }
}

async function checkAndSave() {
  clear();
  const result = form.submit();
  const count = Object.keys(result.errors || {}).length;
  if (count) {
    banner('#form-errors', 'error', `有 ${count} 项需要填写或修改，已在表单中标出`);
    return;
  }
  const button = $('#register-submit');
  button.disabled = true;
  let seen;
  try {
    seen = await post('/api/petitions/check', result.data);
  } catch (error) {
    fieldErrors(error);
    button.disabled = false;
    return;
  }
  button.disabled = false;
  if (!seen.warning) {
    await save(result.data, button);
    return;
  }
  // A repeat, a pending or a terminated matter: the registrar decides, knowingly.
  const lines = [];
  if (seen.previousNumber) lines.push(`此前登记：${seen.previousNumber}`);
  if (seen.firstTurnedRepeat) lines.push('属初信初访转重复信访（第二次反映同一事项）');
  if (seen.sameMatterPending) lines.push('同一事项已受理且仍在办理期限内：受理审查时依法不予受理');
  if (seen.matterTerminated) lines.push('该事项已终结：同一事实和理由不再受理');
  const confirm = h('button', { type: 'button', class: 'btn btn-primary', id: 'confirm-register' }, '确认登记（标记为重复信访）');
  confirm.addEventListener('click', () => save(result.data, confirm));
  banner('#check-result', seen.matterTerminated ? 'error' : 'warning', `查重提示：${seen.warning}`, lines,
    h('div', { class: 'actions', style: 'margin-top:10px' }, confirm,
      seen.previousNumber ? h('a', { class: 'btn', href: `/petitions/${encodeURIComponent(seen.previousNumber)}`, target: '_blank' }, '查看此前登记') : null,
      h('button', { type: 'button', class: 'btn', onclick: clear }, '返回修改')));
  $('#check-result').scrollIntoView({ block: 'center' });
}

function done(p) {
  $('#register-card').classList.add('hidden');
  const card = $('#register-done');
  card.classList.remove('hidden');
  const next = (p.firstTasks || [])[0];
  replace(card,
    h('div', { class: 'card-head' }, h('h2', {}, '登记成功'), petitionStatusBadge(p.status)),
    h('div', { class: 'done-number', 'data-testid': 'petition-number' }, p.number),
    h('div', { class: 'flags' }, petitionFlags(p)),
    p.queryCode ? h('div', { class: 'alert alert-warning', 'data-testid': 'query-code-box' },
      h('div', {}, '查询码（只显示这一次，请交给信访人抄存）：',
        h('strong', { class: 'query-code', 'data-testid': 'query-code' }, p.queryCode)),
      h('div', { class: 'small' }, p.delivery.note)) : null,
    definitionList([
      ['信访人', p.petitionerName], ['渠道', label(CHANNELS, p.channel)], ['收到日期', p.receivedAt],
      ['标题', p.subject], ['涉及单位', p.involvedUnit],
    ]),
    h('div', { class: 'form-actions' },
      next ? h('a', { class: 'btn btn-primary', href: `/tasks/${encodeURIComponent(next)}` }, '进入登记核对') : null,
      h('a', { class: 'btn', href: `/petitions/${encodeURIComponent(p.number)}` }, '查看信访事项'),
      h('a', { class: 'btn', href: '/register' }, '继续登记')));
  recent();
}

async function recent() {
  try {
    const rows = await get('/api/petitions?limit=8');
    replace($('#recent'), rows.length ? h('ul', { class: 'recent-list' }, rows.map((p) => h('li', {},
      h('div', { style: 'min-width:0' }, h('a', { href: `/petitions/${encodeURIComponent(p.number)}` }, p.number),
        h('div', { class: 'subject' }, `${p.petitionerName} · ${p.subject}`)),
      petitionStatusBadge(p.status)))) : h('p', { class: 'muted' }, '暂无登记'));
  } catch (error) {
    replace($('#recent'), h('p', { class: 'muted' }, explain(error)));
  }
}

async function init() {
  try {
    const loaded = await get(`/ui/forms/${FORM_KEY}`);
    schema = loaded.schema;
    $('#form-version').textContent = `登记表 第 ${loaded.version} 版`;
  } catch (error) {
    replace($('#register-form'), h('div', { class: 'alert alert-error' },
      error.status === 404 ? '登记表尚未部署，请联系流程设计人员部署 forms/intake_registration.form。' : explain(error)));
    $('#register-submit').disabled = true;
    return;
  }
  replace($('#register-form'));
  form = createForm($('#register-form'));
  await form.importSchema(schema, initialData());
  $('#register-form').dataset.ready = 'true';
  $('#register-submit').addEventListener('click', checkAndSave);
  $('#register-reset').addEventListener('click', async () => {
    clear();
    await form.importSchema(schema, initialData());
  });
  recent();
}

init();
