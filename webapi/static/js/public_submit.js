// 网上信访: the petitioner's fields of the designers' registration form (forms/intake_registration.form, as
// deployed), the files sent with it, the consent to the use of their personal data, then the item number and the
// query code, shown once.
import { $, ApiError, api, createForm, fileSize, h, replace, showFieldErrors } from './common.js';

let form = null;
let schema = null;
// The public side's upload limits (GET /api/public/form); the server checks them again, from the bytes.
let rules = null;
// The files picked so far: a phone takes one photo at a time, so each pick adds to the list.
const picked = [];

function initial() {
  return { idType: 'resident_id', peopleCount: 1 };
}

// A suggestion may come without a name (the registry fills in 未署名): the form then does not ask for one.
function schemaFor(suggestion) {
  const copy = JSON.parse(JSON.stringify(schema));
  const walk = (components) => components.forEach((c) => {
    if (c.components) walk(c.components);
    if (c.key === 'petitionerName' && suggestion) {
      c.validate = { ...(c.validate || {}), required: false };
      c.description = '提出建议意见的可以不署名';
    }
  });
  walk(copy.components || []);
  return copy;
}

function problem(title, lines = []) {
  replace($('#form-errors'), h('div', { class: 'alert alert-error', role: 'alert' },
    h('strong', {}, title), lines.length ? h('ul', {}, lines.map((l) => h('li', {}, l))) : null));
  $('#form-errors').scrollIntoView({ block: 'center' });
}

function refused(error) {
  if (!(error instanceof ApiError)) return problem('提交失败，请检查网络后重试');
  if (error.status === 429) return problem(error.message || '今天从本网络提交的次数已达上限，请明天再试，或到信访接待场所当面提出。');
  if (error.status === 413) return problem('所选文件合计太大，请减少文件或压缩后再提交');
  if (error.code === 'file_refused') return problem('材料未能提交，信访事项也未提交', [error.message]);
  if (error.status === 422 && error.details.fields) {
    const fields = { ...error.details.fields };
    const lines = [];
    if (fields.consent) {
      lines.push('请阅读并勾选同意个人信息使用说明');
      delete fields.consent;
    }
    lines.push(...showFieldErrors(form, schema, fields));
    return problem(`有 ${Object.keys(error.details.fields).length} 项需要填写或修改`, lines);
  }
  if (error.status === 403) return problem('请从本网站的页面提交');
  return problem('提交失败，请稍后重试');
}

async function submit() {
  replace($('#form-errors'));
  const result = form.submit();
  const count = Object.keys(result.errors || {}).length;
  if (count) return problem(`有 ${count} 项需要填写或修改，已在表单中标出`);
  if (!$('#consent').checked) return problem('请阅读并勾选同意个人信息使用说明');
  const button = $('#public-submit');
  button.disabled = true;
  const petition = { ...result.data, consent: true, suggestion: $('#is-suggestion').checked };
  try {
    let done;
    if (picked.length) {
      const body = new FormData();
      body.append('petition', JSON.stringify(petition));
      picked.forEach((file) => body.append('files', file, file.name));
      done = await api('POST', '/api/public/petitions', body, { form: true });
    } else {
      done = await api('POST', '/api/public/petitions', petition);
    }
    show(done);
  } catch (error) {
    refused(error);
  } finally {
    button.disabled = false;
  }
}

function show(done) {
  $('#submit-card').classList.add('hidden');
  const card = $('#submit-done');
  card.classList.remove('hidden');
  replace(card,
    h('h1', {}, '提交成功'),
    h('p', {}, '您的信访事项已提交，信访部门将在15日内告知是否受理。'),
    h('dl', { class: 'code-box' },
      h('dt', {}, '事项编号'), h('dd', { 'data-testid': 'item-number' }, done.number),
      h('dt', {}, '查询码'), h('dd', { 'data-testid': 'query-code', class: 'query-code' }, done.queryCode)),
    h('div', { class: 'alert alert-warning', role: 'status' },
      h('strong', {}, '查询码只显示这一次。'), '请立即抄写或截图保存，凭事项编号和查询码查询进度、查看答复和评价。'),
    h('div', { class: `alert ${done.delivery.sent ? 'alert-success' : 'alert-info'}`, 'data-testid': 'delivery' },
      done.delivery.note),
    done.attachments.length ? h('div', { 'data-testid': 'sent-files' },
      h('p', {}, `已随信访事项提交材料 ${done.attachments.length} 份：`),
      h('ul', { class: 'picked-files' }, done.attachments.map((f) => h('li', {},
        h('span', { class: 'name' }, f.filename), h('span', { class: 'muted small' }, fileSize(f.size)))))) : null,
    h('a', { class: 'btn btn-primary btn-block', href: '/public/lookup' }, '去查询办理进度'));
  window.scrollTo(0, 0);
}

// What the server would refuse, said before anything is sent: too many files, too large, a type not taken.
function pickProblem(file) {
  if (picked.length >= rules.maxFiles) return `最多提交 ${rules.maxFiles} 个文件，“${file.name}”未加入`;
  if (file.size > rules.maxBytes) return `文件“${file.name}”超过 ${fileSize(rules.maxBytes)} 的上限`;
  if (file.type && !rules.mediaTypes.includes(file.type)) return `文件“${file.name}”不是 ${rules.typeNames.join('、')}`;
  return null;
}

function showPicked() {
  replace($('#picked-files'), picked.map((file, i) => {
    const remove = h('button', { type: 'button', class: 'btn btn-small' }, '移除');
    remove.addEventListener('click', () => { picked.splice(i, 1); showPicked(); });
    return h('li', {}, h('span', { class: 'name' }, file.name), h('span', { class: 'muted small' }, fileSize(file.size)), remove);
  }));
}

function pick(event) {
  replace($('#form-errors'));
  const problems = [];
  for (const file of event.target.files) {
    const wrong = pickProblem(file);
    if (wrong) problems.push(wrong);
    else picked.push(file);
  }
  event.target.value = '';
  showPicked();
  if (problems.length) problem('有文件未能加入', problems);
}

async function init() {
  let loaded;
  try {
    loaded = await api('GET', '/api/public/form');
  } catch {
    replace($('#public-form'), h('div', { class: 'alert alert-error' }, '网上信访暂不可用，请稍后再试或到信访接待场所提出。'));
    $('#public-submit').disabled = true;
    return;
  }
  schema = loaded.schema;
  rules = loaded.uploads;
  $('#consent-text').textContent = loaded.consent;
  $('#upload-rules').textContent = `可以附上信件扫描件、证据照片或 PDF 文件：最多 ${rules.maxFiles} 个，每个不超过 ${fileSize(rules.maxBytes)}，`
    + `限 ${rules.typeNames.join('、')}。`;
  $('#public-files').setAttribute('accept', rules.mediaTypes.join(','));
  $('#public-files').addEventListener('change', pick);
  replace($('#public-form'));
  form = createForm($('#public-form'));
  await form.importSchema(schemaFor(false), initial());
  $('#is-suggestion').addEventListener('change', async (event) => {
    const data = form._getState().data;
    await form.importSchema(schemaFor(event.target.checked), data);
  });
  $('#public-form').dataset.ready = 'true';
  $('#public-submit').addEventListener('click', submit);
}

init();
