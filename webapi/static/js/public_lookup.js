// 查询办理进度: an item by its number and query code. The two stay in this page's memory for the acts that
// follow (evaluation, review request, withdrawal) and travel in request bodies only, never in the address.
import { $, ApiError, api, fileSize, h, replace } from './common.js';

const access = { number: '', code: '' };

function said(error) {
  if (!(error instanceof ApiError)) return '网络异常，请稍后重试';
  if (error.status === 429) return '尝试次数过多，请稍后再试（最长1小时）';
  if (error.status === 404) return '事项编号或查询码不正确';
  if (error.status === 403) return '请从本网站的页面操作';
  if (error.status === 409) {
    return error.details.reason === 'evaluation_closed'
      ? '当前不能评价：答复尚未送达、已评价过或评价期限已过' : '事项状态已变化，请重新查询';
  }
  if (error.status === 422 && error.details.fields) {
    return Object.values(error.details.fields).flat().join('；');
  }
  return '操作失败，请稍后重试';
}

function alertBox(target, text, tone = 'error') {
  replace($(target), text ? h('div', { class: `alert alert-${tone}`, role: 'alert' }, text) : null);
}

async function lookup(event) {
  event.preventDefault();
  alertBox('#lookup-error', '');
  access.number = $('#lookup-number').value.trim();
  access.code = $('#lookup-code').value.trim();
  const button = $('#lookup-submit');
  button.disabled = true;
  try {
    render(await api('POST', '/api/public/lookup', access));
  } catch (error) {
    alertBox('#lookup-error', said(error));
  } finally {
    button.disabled = false;
  }
}

function card(title, testid, ...children) {
  return h('section', { class: 'card public-card', 'data-testid': testid }, h('h2', {}, title), ...children);
}

function timelineCard(item) {
  return card('办理过程', 'public-timeline',
    h('ol', { class: 'public-timeline' }, item.timeline.map((fact) => h('li', {},
      h('div', { class: 'when' }, fact.at),
      h('div', { class: 'what' }, fact.title),
      fact.lines.map((line) => h('div', { class: 'detail' }, line))))));
}

function deadlinesCard(item) {
  if (!item.deadlines.length) return null;
  return card('办理期限', 'public-deadlines',
    h('ul', { class: 'public-deadlines' }, item.deadlines.map((d) => h('li', {},
      h('div', { class: 'what' }, `${d.title}：${d.length}，至 ${d.due}`),
      h('div', { class: 'detail' }, `依据：${d.basis}`),
      d.extensionDays ? h('div', { class: 'detail' }, `已延长 ${d.extensionDays} 日`) : null,
      h('div', { class: 'detail' }, d.state)))));
}

function replyCard(item) {
  const r = item.reply;
  if (!r) return null;
  const rows = [
    ['文号', r.number], ['处理结果', r.decision], ['信访请求', r.request], ['认定事实', r.facts],
    ['理由', r.reasons], ['依据', r.legalBasis], ['处理意见', r.opinion], ['送达日期', r.servedAt],
  ].filter(([, value]) => value);
  return card('书面答复', 'public-reply',
    h('dl', { class: 'public-dl' }, rows.flatMap(([key, value]) => [h('dt', {}, key), h('dd', {}, value)])),
    h('p', { class: 'muted small' }, '对处理意见不服的，可以自收到书面答复之日起30日内请求复查。'));
}

function evaluationCard(item) {
  const e = item.evaluation;
  if (e.rating) return card('满意度评价', 'public-evaluation', h('p', {}, `您已评价：${e.ratingLabel}`));
  if (!e.open) return null;
  const choices = [['satisfied', '满意'], ['basically_satisfied', '基本满意'], ['dissatisfied', '不满意']];
  const reason = h('textarea', { id: 'evaluation-reason', rows: 3, maxlength: 1000, placeholder: '评价不满意的，请写明理由' });
  const box = h('div', { id: 'evaluation-error' });
  const button = h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'evaluation-submit' }, '提交评价');
  button.addEventListener('click', async () => {
    const picked = document.querySelector('input[name="rating"]:checked');
    if (!picked) return alertBox('#evaluation-error', '请选择评价结果');
    if (picked.value === 'dissatisfied' && !reason.value.trim()) return alertBox('#evaluation-error', '评价不满意的，请写明理由');
    button.disabled = true;
    try {
      render(await api('POST', '/api/public/evaluation', { ...access, rating: picked.value, reason: reason.value.trim() || null }));
    } catch (error) {
      alertBox('#evaluation-error', said(error));
      button.disabled = false;
    }
  });
  return card('满意度评价', 'public-evaluation',
    h('p', {}, `请对${e.unit ? `“${e.unit}”` : '首次办理单位'}的办理情况作出评价（每件只能评价一次）。`),
    h('div', { class: 'choice-row', role: 'radiogroup' }, choices.map(([value, text]) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: 'rating', value }), h('span', {}, text)))),
    reason, box, button);
}

// A served notice's PDF: asked for with the number and code in the body, saved from the answer's bytes.
async function download(notice, button) {
  button.disabled = true;
  alertBox('#notice-error', '');
  try {
    const response = await fetch('/api/public/notice', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'XMLHttpRequest' },
      body: JSON.stringify({ ...access, document: notice.id }),
    });
    if (!response.ok) {
      const type = response.headers.get('Content-Type') || '';
      throw new ApiError(response.status, type.includes('json') ? await response.json() : null);
    }
    const url = URL.createObjectURL(await response.blob());
    const link = h('a', { href: url, download: `${notice.title}-${notice.number}.pdf` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) {
    alertBox('#notice-error', said(error));
  } finally {
    button.disabled = false;
  }
}

function noticesCard(item) {
  if (!item.notices || !item.notices.length) return null;
  return card('送达的文书', 'public-notices',
    h('ul', { class: 'public-deadlines' }, item.notices.map((notice) => {
      const button = h('button', { type: 'button', class: 'btn btn-small' }, '下载');
      button.addEventListener('click', () => download(notice, button));
      return h('li', {},
        h('div', { class: 'what' }, notice.title),
        h('div', { class: 'detail' }, `文号：${notice.number}`),
        h('div', { class: 'detail' }, `送达日期：${notice.servedOn}`),
        button);
    })),
    h('div', { id: 'notice-error' }));
}

// The files the petitioner sent with the item: names and sizes only.
function filesCard(item) {
  if (!item.attachments || !item.attachments.length) return null;
  return card('您提交的材料', 'public-files',
    h('ul', { class: 'picked-files' }, item.attachments.map((f) => h('li', {},
      h('span', { class: 'name' }, f.filename), h('span', { class: 'muted small' }, fileSize(f.size))))));
}

const KINDS = { review: '复查', recheck: '复核' };

// An act on the item (review request, withdrawal): its answer is the item as it now stands.
async function act(url, body, button, errorBox) {
  button.disabled = true;
  try {
    render(await api('POST', url, { ...access, ...body }));
  } catch (error) {
    alertBox(errorBox, said(error));
    button.disabled = false;
  }
}

function requestCard(item) {
  const kind = Object.keys(KINDS).find((k) => item.requests[k] && item.requests[k].open);
  if (!kind) return null;
  const name = KINDS[kind];
  const area = (id, placeholder) => h('textarea', { id, rows: 3, maxlength: 5000, placeholder });
  const request = area('request-text', `请求事项：请写明请求${name}的具体请求`);
  const facts = area('request-facts', '事实：请写明所依据的事实');
  const reasons = area('request-reasons', '理由：请写明不服的理由');
  const button = h('button', { type: 'button', class: 'btn btn-primary btn-block', id: 'request-submit' }, `提交${name}请求`);
  button.addEventListener('click', () => {
    if (![request, facts, reasons].every((a) => a.value.trim())) return alertBox('#request-error', '请求、事实和理由都需要填写');
    return act('/api/public/review-requests', {
      kind, request: request.value.trim(), facts: facts.value.trim(), reasons: reasons.value.trim(),
    }, button, '#request-error');
  });
  return card(`请求${name}`, 'public-request',
    h('p', {}, `不服${kind === 'review' ? '书面答复意见' : '复查意见'}的，可以在 ${item.requests[kind].lastDay} 前请求${name}`
      + `（《信访工作条例》第${kind === 'review' ? '三十五' : '三十六'}条）。请求应当针对原信访请求，写明具体请求、事实和理由。`),
    request, facts, reasons, h('div', { id: 'request-error' }), button);
}

function withdrawCard(item) {
  if (!item.canWithdraw) return null;
  const reason = h('textarea', { id: 'withdraw-reason', rows: 2, maxlength: 2000, placeholder: '撤回原因' });
  const button = h('button', { type: 'button', class: 'btn btn-block', id: 'withdraw-submit' }, '撤回信访事项');
  button.addEventListener('click', () => {
    if (!reason.value.trim()) return alertBox('#withdraw-error', '请写明撤回原因');
    if (!window.confirm('撤回后该事项即终止办理，确定撤回吗？')) return null;
    return act('/api/public/withdrawal', { reason: reason.value.trim() }, button, '#withdraw-error');
  });
  return h('details', { class: 'card public-card' }, h('summary', {}, '撤回信访事项'),
    h('p', { class: 'muted small' }, '撤回后，该事项终止办理。'), reason, h('div', { id: 'withdraw-error' }), button);
}

export function render(item) {
  $('#lookup-card').classList.add('hidden');
  const target = $('#item');
  target.classList.remove('hidden');
  replace(target,
    h('section', { class: 'card public-card' },
      h('div', { class: 'muted small' }, '事项编号'),
      h('div', { class: 'item-number', 'data-testid': 'public-number' }, item.number),
      h('div', {}, item.subject),
      h('div', { class: 'status-line' }, '当前状态：', h('strong', { 'data-testid': 'public-status' }, item.statusLabel))),
    timelineCard(item), filesCard(item), deadlinesCard(item), replyCard(item), noticesCard(item), evaluationCard(item),
    requestCard(item),
    withdrawCard(item),
    h('button', { type: 'button', class: 'btn btn-block', id: 'lookup-again' }, '刷新'));
  $('#lookup-again').addEventListener('click', async () => {
    try {
      render(await api('POST', '/api/public/lookup', access));
    } catch (error) {
      alertBox('#lookup-error', said(error));
      $('#lookup-card').classList.remove('hidden');
      target.classList.add('hidden');
    }
  });
}

$('#lookup-form').addEventListener('submit', lookup);
