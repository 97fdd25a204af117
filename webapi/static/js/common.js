// Shared helpers for every page: the REST API over fetch, safe DOM building, Chinese labels and formats,
// form-js field errors, and bpmn-js diagrams. No page builds HTML from strings it did not write itself.

import { installChineseDates, translateForm } from './form_zh.js';

const contextNode = document.getElementById('pf-context');
export const ctx = contextNode ? JSON.parse(contextNode.textContent) : {};
export const me = ctx.user || null;
export const TZ = 'Asia/Shanghai';

// -- labels ----------------------------------------------------------------------------------------------
export const INSTANCE_STATES = { active: '办理中', suspended: '已挂起', completed: '已办结', cancelled: '已撤销' };
export const PETITION_STATUS = {
  registered: '已登记', in_progress: '办理中', closed: '已办结', not_accepted: '不予受理',
  terminated: '已终结', cancelled: '已撤销', withdrawn: '已撤回', channelled: '已导入法定途径', merged: '已合并办理',
};
export const CHANNELS = { letter: '书信', visit: '走访', web: '网上信访', phone: '电话' };
export const CATEGORIES = { suggestion: '建议意见类', accusation: '检举控告类', complaint: '申诉求决类' };
export const ESCALATION_KINDS = { warning: '临期预警', supervision: '督查督办', listing: '挂牌督办', patrol: '网上巡查' };
export const DEADLINE_UNITS = { calendar: '日', working: '个工作日' };
export const EVENT_KINDS = {
  'instance.started': '流程启动', 'instance.completed': '流程结束', 'instance.suspended': '流程挂起',
  'instance.resumed': '流程恢复', 'instance.cancelled': '流程撤销', 'task.created': '生成待办',
  'task.claimed': '认领', 'task.unclaimed': '释放', 'task.assigned': '指派', 'task.completed': '办结',
  'task.comment': '批注', 'task.cancelled': '待办取消', 'activity.completed': '环节完成',
  'timer.fired': '定时触发', 'timer.failed': '定时触发失败（将重试）', 'message.delivered': '消息送达', 'deadline.started': '期限起算',
  'deadline.paused': '期限中止', 'deadline.resumed': '期限恢复', 'deadline.extended': '期限延长',
  'deadline.lapsed': '期限届满', 'deadline.closed': '期限结束',
  'attachment.added': '上传附件', 'document.issued': '出具文书', 'document.served': '登记送达', 'file.downloaded': '下载材料',
  'petition.matter': '重复信访核对', 'petition.linked': '关联同一事项', 'petition.unlinked': '取消关联',
  'petition.merged': '合并办理', 'petition.split': '拆分办理',
  'instance.moved_back': '退回上一环节', 'instance.modified': '调整办理环节', 'instance.migrated': '迁移到新版流程',
  'incident.retried': '异常重试',
};

export function label(map, key, fallback = '—') {
  if (key === null || key === undefined || key === '') return fallback;
  return map[key] || key;
}

// -- DOM -------------------------------------------------------------------------------------------------
/** h('td', {class: 'x', onclick: fn}, 'text', node, [more]) — children are text or nodes, never HTML. */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function badge(text, tone = 'grey', attrs = {}) {
  return h('span', { class: `badge badge-${tone}`, ...attrs }, text);
}

export function emptyRow(columns, text = '暂无数据') {
  return h('tr', { class: 'empty' }, h('td', { colspan: columns }, text));
}

export function loading(text = '正在加载…') {
  return h('div', { class: 'loading' }, text);
}

// -- messages --------------------------------------------------------------------------------------------
export function flash(text, tone = 'info', sticky = false) {
  const area = document.getElementById('flash');
  if (!area) return;
  const item = h('div', { class: `flash flash-${tone}` }, text,
    h('button', { type: 'button', class: 'flash-close', 'aria-label': '关闭', onclick: () => item.remove() }, '×'));
  area.append(item);
  if (!sticky) setTimeout(() => item.remove(), 8000);
}

/** A message to show on the next page (after a redirect). */
export function flashNext(text, tone = 'success') {
  sessionStorage.setItem('pf-flash', JSON.stringify({ text, tone }));
}

// -- the REST API ----------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
    this.code = this.body.error;
    this.details = this.body.details || {};
  }
}

let signingOut = false;

/** ``total``: answer ``{ rows, total }`` with the list's X-Total-Count (how many rows all its pages hold). */
export async function api(method, url, body, { form = false, total = false } = {}) {
  // X-Requested-With: the server then leaves out the Basic challenge on 401, so no browser password dialog.
  const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' } };
  if (form) options.body = body;
  else if (body !== undefined) {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  if (response.status === 401 && ctx.page !== 'login' && !signingOut) {
    window.location.assign('/login?next=' + encodeURIComponent(location.pathname + location.search));
    throw new ApiError(401, { message: '登录已失效，请重新登录' });
  }
  const type = response.headers.get('Content-Type') || '';
  const data = response.status === 204 ? null : type.includes('json') ? await response.json() : await response.text();
  if (!response.ok) throw new ApiError(response.status, typeof data === 'object' ? data : { message: data });
  return total ? { rows: data, total: Number(response.headers.get('X-Total-Count') ?? data.length) } : data;
}
export const get = (url) => api('GET', url);
export const getPage = (url) => api('GET', url, undefined, { total: true });
export const post = (url, body) => api('POST', url, body === undefined ? {} : body);

// -- the server's words and settings -----------------------------------------------------------------------
// Deadline titles, group names and the warning window belong to the server (an operator may retitle a deadline
// or move the window), so every signed-in page reads them once here; without them a page shows the keys.
const vocabulary = me ? await get('/api/vocabulary').catch(() => null) : null;
// A unit role (unit:<code>:<position>) reads as the unit's name and the position: 县住建委承办人.
function unitGroupNames(words) {
  const names = {};
  for (const [code, name] of Object.entries(words.units || {})) {
    for (const [position, title] of Object.entries(words.positions || {})) names[`unit:${code}:${position}`] = name + title;
  }
  return names;
}
export const GROUPS = vocabulary ? { ...vocabulary.groups, ...unitGroupNames(vocabulary) } : {};
export const UNIT_NAMES = vocabulary ? vocabulary.units || {} : {};
// A unit typed by its full name (or its code) as the API's unit filters take it: its code.
export function unitCode(text) {
  const found = Object.entries(UNIT_NAMES).find(([, name]) => name === text);
  return found ? found[0] : text;
}
export const POSITION_NAMES = vocabulary ? vocabulary.positions || {} : {};
export const LEVEL_NAMES = vocabulary ? vocabulary.levels || {} : {};
export const KIND_NAMES = vocabulary ? vocabulary.kinds || {} : {};
export const DEADLINE_NAMES = vocabulary
  ? Object.fromEntries(Object.entries(vocabulary.deadlines).map(([name, d]) => [name, d.title])) : {};
export const WARN_BEFORE_DAYS = vocabulary ? vocabulary.warnBeforeDays : 0;
export const SUPERVISION_REASONS = vocabulary ? vocabulary.supervisionReasons || {} : {};

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A failed call as a sentence for the user. */
export function explain(error) {
  const han = /[\u4e00-\u9fff]/;
  if (!(error instanceof ApiError)) {
    // The browser's own failures (no network, a script error) speak English.
    const text = String(error.message || error);
    return `出错了：${han.test(text) ? text : '无法连接服务器或页面出错，请刷新后重试'}`;
  }
  const byStatus = {
    400: '请求有误', 401: '未登录', 403: '无权执行此操作', 404: '未找到（可能已办结或已删除）', 409: '操作冲突',
    413: '内容过大', 422: '提交的数据未通过校验', 429: '操作过于频繁',
  };
  const head = byStatus[error.status] || `服务器错误（${error.status}）`;
  // The server says every failure in Chinese, by its code (engine/errors.py); anything else (a proxy's page) is
  // not for the reader, and the status says enough.
  const message = error.body.message || '';
  return han.test(message) ? `${head}：${message}` : head;
}

// -- field messages in Chinese (form-js and marshmallow name no code for a field, only English text) ----------
const MESSAGES = [
  [/^Field is required\.?$/i, () => '必填项'],
  [/^Missing data for required field\.?$/i, () => '必填项'],
  [/^Field must have minimum length of (\d+)\.?$/i, (m) => `至少 ${m[1]} 个字`],
  [/^Field must have maximum length of (\d+)\.?$/i, (m) => `不能超过 ${m[1]} 个字`],
  [/^Field must have minimum value of (.+?)\.?$/i, (m) => `不能小于 ${m[1]}`],
  [/^Field must have maximum value of (.+?)\.?$/i, (m) => `不能大于 ${m[1]}`],
  [/^Field must match pattern/i, () => '格式不正确'],
  [/^Value is not a number\.?$/i, () => '请输入数字'],
  [/^Value is expected to be an integer\.?$/i, () => '请输入整数'],
  [/^Not a valid date/i, () => '日期格式不正确（应为 年-月-日）'],
  [/^Not a valid (number|integer)/i, () => '请输入数字'],
  [/^Not a valid boolean/i, () => '请选择是或否'],
  [/^Must be one of/i, () => '请从列表中选择'],
  [/^must be one of/i, () => '请从列表中选择'],
  [/cannot be in the future/i, () => '不能晚于今天'],
  [/^Unknown field\.?$/i, () => '表单中没有此项'],
  [/^Field must be a valid email/i, () => '电子邮件格式不正确'],
];

export function translate(message) {
  const text = String(message);
  for (const [pattern, render] of MESSAGES) {
    const match = text.match(pattern);
    if (match) return render(match);
  }
  return text;
}

// -- form-js ---------------------------------------------------------------------------------------------
/** Field key (dotted path as the server reports it; "list[].field" inside a dynamic list) -> component. */
export function fieldIndex(schema) {
  const index = {};
  const walk = (components, prefix) => {
    for (const component of components || []) {
      const own = component.key || component.path;
      const path = own ? (prefix ? `${prefix}.${own}` : own) : prefix;
      if (component.key) index[path] = { id: component.id, label: component.label || component.dateLabel || component.key };
      if (component.type === 'dynamiclist') walk(component.components, `${path}[]`);
      else if (component.components) walk(component.components, component.path ? path : prefix);
    }
  };
  walk(schema.components, '');
  return index;
}

/**
 * Put the server's field errors (details.fields, keyed by field key) on the form-js fields (keyed by component
 * id). Returns the messages that match no field of the form, for a banner.
 */
export function showFieldErrors(form, schema, fields) {
  const index = fieldIndex(schema);
  const errors = {};
  const unmatched = [];
  for (const [key, messages] of Object.entries(fields || {})) {
    const list = (Array.isArray(messages) ? messages : [messages]).flat().map(translate);
    const items = [...key.matchAll(/\[(\d+)\]/g)].map((m) => Number(m[1]));
    const target = index[key.replace(/\[\d+\]/g, '[]')];
    if (!target) {
      // A key the form does not show is a variable name: the reader gets the message, not the name.
      unmatched.push(list.join('；'));
      continue;
    }
    if (!items.length) {
      errors[target.id] = list;
      continue;
    }
    // A field inside a dynamic list: form-js keeps its errors at [componentId, ...item indexes].
    let node = (errors[target.id] = errors[target.id] || {});
    items.slice(0, -1).forEach((i) => { node = (node[i] = node[i] || {}); });
    node[items[items.length - 1]] = list;
  }
  // form-js keeps errors by component id in its state and renders them under each field.
  form._setState({ errors });
  requestAnimationFrame(() => {
    const first = document.querySelector('.fjs-has-errors');
    if (first) first.scrollIntoView({ block: 'center', behavior: 'smooth' });
  });
  return unmatched;
}

/** form-js in Chinese: its widgets, its dates (2026年01月31日, a Chinese calendar) and its validation messages. */
export function createForm(container, { readOnly = false } = {}) {
  installChineseDates();
  translateForm(container);
  // debounce: false — every keystroke reaches the form's data at once, so a quick submit never sends stale values.
  const form = new window.FormViewer.Form({ container, properties: { readOnly }, debounce: false });
  const validator = form.get('validator');
  const original = validator.validateFieldInstance.bind(validator);
  validator.validateFieldInstance = (...args) => original(...args).map(translate);
  return form;
}

// -- dates -------------------------------------------------------------------------------------------------
const parts = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

function pieces(value) {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return null;
  const out = {};
  for (const part of parts.formatToParts(date)) out[part.type] = part.value;
  return out;
}

export function fmtDateTime(value) {
  if (!value) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const p = pieces(value);
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : String(value);
}

/** A deadline's end. One that ends at midnight is shown as its last day's 24:00, as the Civil Code counts it
 * (Art. 203: the last day ends at 24:00), not as the next day's 00:00, which reads as a day more. */
export function fmtDue(value) {
  const p = value && !/^\d{4}-\d{2}-\d{2}$/.test(value) ? pieces(value) : null;
  if (!p || p.hour !== '00' || p.minute !== '00') return fmtDateTime(value);
  const last = pieces(new Date(new Date(value).getTime() - 60_000));
  return `${last.year}-${last.month}-${last.day} 24:00`;
}

export function fmtDate(value) {
  if (!value) return '—';
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const p = pieces(value);
  return p ? `${p.year}-${p.month}-${p.day}` : String(value);
}

/** The engine's clock (deadlines run on it), moving on from when the page was served. */
const servedAt = Date.now();
export function now() {
  const base = ctx.now ? new Date(ctx.now).getTime() : servedAt;
  return new Date(base + (Date.now() - servedAt));
}

const DAY = 24 * 3600 * 1000;
/** { tone, text } for a due time, as the server defines it (engine/urgency.py): overdue (red) once the due
 * time has come, due soon (amber) from the warning moment the server stored (warnAt; else the ladder's window),
 * otherwise green; a step outside any statutory period says so. */
export function dueState(due, warnAt = null) {
  if (!due) return { tone: 'grey', text: '无法定期限', overdue: false };
  const at = now().getTime();
  const left = new Date(due).getTime() - at;
  if (left <= 0) {
    const days = Math.max(1, Math.ceil(-left / DAY));
    return { tone: 'red', text: `超期 ${days} 天`, overdue: true };
  }
  const days = Math.floor(left / DAY);
  const warn = warnAt ? new Date(warnAt).getTime() : new Date(due).getTime() - WARN_BEFORE_DAYS * DAY;
  if (at >= warn) return { tone: 'amber', text: days === 0 ? '今日到期' : `剩余 ${days} 天`, overdue: false };
  return { tone: 'green', text: `剩余 ${days} 天`, overdue: false };
}

// -- common pieces of pages --------------------------------------------------------------------------------
let definitionNames = null;
/** Process key -> Chinese name, from the deployed definitions. */
export async function processNames() {
  if (!definitionNames) {
    definitionNames = get('/api/definitions').then((rows) => {
      const names = {};
      for (const row of rows) if (!names[row.key] || row.latest) names[row.key] = row.name || row.key;
      return { names, rows };
    }).catch(() => ({ names: {}, rows: [] }));
  }
  return definitionNames;
}

export function describeEvent(event, elementNames = {}, people = {}) {
  const data = event.data || {};
  const what = label(EVENT_KINDS, event.kind, event.kind);
  // An element the diagram leaves unnamed, and whose kind no event records, is not shown by its id: ids are
  // the designer's words, not the official's (the id stays on the row's data-element).
  const element = event.elementId ? (elementNames[event.elementId] || data.name || '未命名环节') : null;
  const extra = [];
  if (data.deadline) extra.push(label(DEADLINE_NAMES, data.deadline, data.deadline));
  if (data.due) extra.push(`至 ${fmtDue(data.due)}`);
  if (data.days) extra.push(`${data.days} 日`);
  if (data.assignee) extra.push(`→ ${personName(data.assignee, people)}`);
  if (data.text) extra.push(`“${data.text}”`);
  if (data.fromName) extra.push(`自「${data.fromName}」`);
  if (event.kind === 'instance.migrated' && data.version) extra.push(`第 ${data.version} 版`);
  if (data.reason) extra.push(`原因：${data.reason}`);
  if (data.message) extra.push(`消息 ${data.message}`);
  if (data.file) extra.push(data.file);
  if (data.docNumber || data.number) extra.push(data.docNumber || data.number);
  if (data.candidateGroups && data.candidateGroups.length) extra.push(`候选：${data.candidateGroups.map((g) => label(GROUPS, g)).join('、')}`);
  return { what, element, extra: extra.join('，') };
}

const ELEMENT_TYPES = {
  ParallelGateway: '并行网关', ExclusiveGateway: '排他网关', InclusiveGateway: '包容网关',
  EventBasedGateway: '事件网关', StartEvent: '开始事件', EndEvent: '结束事件', BoundaryEvent: '边界事件',
  IntermediateCatchEvent: '中间事件', IntermediateThrowEvent: '中间事件', UserTask: '人工任务',
  CallActivity: '调用子流程', SubWorkflowTask: '调用子流程', ServiceTask: '服务任务', ScriptTask: '脚本任务',
  ReceiveTask: '接收任务', SendTask: '发送任务', SubProcess: '子流程', TransactionSubprocess: '子流程',
};

/** Element id -> name as the events themselves record it (task.created and activity.completed carry names);
 * an unnamed element by its kind (并行网关) rather than its id. */
export function namesFromEvents(events) {
  const names = {};
  for (const event of events || []) {
    if (!event.elementId || !event.data) continue;
    if (event.data.name) names[event.elementId] = event.data.name;
    else if (event.data.type && !names[event.elementId]) {
      const kind = Object.keys(ELEMENT_TYPES).find((k) => event.data.type.includes(k));
      if (kind) names[event.elementId] = ELEMENT_TYPES[kind];
    }
  }
  return names;
}

// History entries with no meaning for an official: the engine's routing (gateways, start events, unnamed
// events) and a human step's own completion, which its 办结 already records.
const TECHNICAL_TYPES = /Gateway|StartEvent|UserTask|ManualTask|BoundaryEventSplit|Join/;

export function isTechnical(event) {
  if (event.kind !== 'activity.completed') return false;
  const data = event.data || {};
  return !data.name || TECHNICAL_TYPES.test(data.type || '');
}

/** Who acted, as officials know them: display name and unit (``people`` from the API), else the login. */
export function personName(login, people = {}) {
  const person = people[login];
  if (!person) return login;
  return person.unit ? `${person.name}（${person.unit}）` : person.name;
}

/** A case's history, newest first; technical steps hidden unless the toggle above it asks for them. */
export function timeline(events, elementNames = {}, people = {}) {
  if (!events || !events.length) return h('p', { class: 'muted' }, '暂无记录');
  elementNames = { ...namesFromEvents(events), ...elementNames };
  const newest = [...events].sort((a, b) => (b.id || 0) - (a.id || 0) || String(b.at).localeCompare(String(a.at)));
  const technical = newest.filter(isTechnical).length;
  const list = h('ol', { class: 'timeline' }, newest.map((event) => {
    const { what, element, extra } = describeEvent(event, elementNames, people);
    const tone = event.kind.startsWith('deadline.') ? 'deadline'
      : event.kind === 'task.completed' || event.kind === 'instance.completed' ? 'done'
        : event.kind.startsWith('instance.') ? 'instance' : 'task';
    return h('li', { class: `tl tl-${tone}${isTechnical(event) ? ' tl-technical' : ''}`, dataset: { kind: event.kind, element: event.elementId || '' } },
      h('div', { class: 'tl-time' }, fmtDateTime(event.at)),
      h('div', { class: 'tl-body' },
        h('strong', {}, what), element ? h('span', { class: 'tl-element' }, element) : null,
        event.actor ? h('span', { class: 'tl-actor' }, personName(event.actor, people)) : null,
        extra ? h('div', { class: 'tl-extra' }, extra) : null));
  }));
  const box = h('div', { class: 'history', 'data-testid': 'history' });
  const toggle = technical ? h('label', { class: 'check small history-toggle' },
    h('input', { type: 'checkbox', onchange: (event) => box.classList.toggle('show-technical', event.target.checked) }),
    ` 显示技术环节（${technical} 条）`) : null;
  return replace(box, toggle, list);
}

export function definitionList(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([term, value]) => [
    h('dt', {}, term), h('dd', {}, value === null || value === undefined || value === '' ? '—' : value),
  ]));
}

export function deadlineTable(deadlines) {
  return h('table', { class: 'table table-compact' },
    h('thead', {}, h('tr', {}, h('th', {}, '期限'), h('th', {}, '届满时间'), h('th', {}, '状态'))),
    h('tbody', {}, deadlines && deadlines.length ? deadlines.map((d) => {
      let state;
      if (d.outcome === 'on_time') state = badge('按期办结', 'green');
      else if (d.outcome === 'overdue') state = badge('超期办结', 'red');
      else if (d.pausedAt) state = badge('中止计算', 'grey');
      else { const s = dueState(d.due); state = badge(s.text, s.tone); }
      return h('tr', {},
        h('td', {}, label(DEADLINE_NAMES, d.name, d.name),
          h('div', { class: 'muted small' }, `${d.length} ${label(DEADLINE_UNITS, d.unit, d.unit)}${d.extensionDays ? `（延长 ${d.extensionDays} 日）` : ''}`),
          d.basis ? h('div', { class: 'muted small' }, d.basis) : null),
        h('td', {}, fmtDue(d.due)),
        h('td', {}, state));
    }) : emptyRow(3, '无法定期限')));
}

export function petitionFlags(p) {
  const flags = [];
  if (p.majorUrgent) flags.push(badge('重大紧急', 'red'));
  if (p.matterTerminated) flags.push(badge('已终结事项', 'red'));
  if (p.sameMatterPending) flags.push(badge('同一事项在办', 'amber'));
  if (p.firstTurnedRepeat) flags.push(badge('初信初访转重复', 'amber'));
  else if (p.isRepeat) flags.push(badge('重复信访', 'amber'));
  if (p.refluxCount) flags.push(badge(`回流 ${p.refluxCount} 次`, 'amber'));
  return flags;
}

export function petitionStatusBadge(status) {
  const tone = { registered: 'blue', in_progress: 'blue', closed: 'green', not_accepted: 'grey',
    terminated: 'grey', cancelled: 'grey', withdrawn: 'grey', channelled: 'green', merged: 'grey' }[status] || 'grey';
  return badge(label(PETITION_STATUS, status, status), tone);
}

/** The petition's record, deadlines and timeline (the side panel of a task, and the petition page). */
export function petitionPanel(p, { withTimeline = true } = {}) {
  return h('div', { class: 'petition-panel' },
    h('section', { class: 'card' },
      h('div', { class: 'card-head' }, h('h2', {}, '信访事项'), petitionStatusBadge(p.status)),
      h('div', { class: 'flags' }, petitionFlags(p)),
      definitionList([
        ['编号', h('a', { href: `/petitions/${encodeURIComponent(p.number)}` }, p.number)],
        ['信访人', p.petitionerName],
        ['联系电话', p.phone],
        ['渠道', label(CHANNELS, p.channel)],
        ['收到日期', p.receivedAt],
        ['类别', label(CATEGORIES, p.category, '待定')],
        ['涉及单位', p.involvedUnit],
        ['问题属地', p.place],
        ['人数', p.peopleCount],
        ['标题', p.subject],
      ]),
      p.content ? h('div', { class: 'content-text' }, p.content) : null),
    h('section', { class: 'card' }, h('h2', {}, '法定期限'), deadlineTable(p.deadlines)),
    withTimeline ? h('section', { class: 'card' }, h('h2', {}, '办理过程'), timeline(p.timeline, {}, p.people)) : null);
}

// -- bpmn-js -----------------------------------------------------------------------------------------------
export async function showDiagram(container, xml) {
  const viewer = new window.BpmnJS({ container });
  await viewer.importXML(xml);
  // Fitting needs a laid-out container; a hidden one keeps the default zoom.
  if (container.clientWidth && container.clientHeight) viewer.get('canvas').zoom('fit-viewport', 'auto');
  return viewer;
}

export function elementNames(viewer) {
  const names = {};
  for (const element of viewer.get('elementRegistry').getAll()) {
    const bo = element.businessObject;
    if (bo && bo.id && bo.name) names[bo.id] = bo.name.replace(/\s+/g, ' ');
  }
  return names;
}

/** Zoom buttons for a diagram (the wheel zooms too, with Ctrl). */
export function diagramTools(viewer, focusIds = []) {
  const canvas = viewer.get('canvas');
  const zoomBy = (factor) => canvas.zoom(canvas.zoom() * factor);
  const buttons = [
    h('button', { type: 'button', class: 'btn btn-sm', onclick: () => zoomBy(1.25) }, '放大'),
    h('button', { type: 'button', class: 'btn btn-sm', onclick: () => zoomBy(0.8) }, '缩小'),
    h('button', { type: 'button', class: 'btn btn-sm', onclick: () => canvas.zoom('fit-viewport', 'auto') }, '全图'),
  ];
  const registry = viewer.get('elementRegistry');
  const targets = focusIds.map((id) => registry.get(id)).filter(Boolean);
  if (targets.length) {
    buttons.push(h('button', {
      type: 'button', class: 'btn btn-sm', onclick: () => {
        canvas.zoom(1);
        const box = canvas.viewbox();
        const t = targets[0];
        canvas.viewbox({ x: t.x + t.width / 2 - box.width / 2, y: t.y + t.height / 2 - box.height / 2, width: box.width, height: box.height });
      },
    }, '定位当前环节'));
  }
  return buttons;
}

export function diagramLegend(items) {
  return h('div', { class: 'legend' }, items.map(([cls, text]) => h('span', { class: 'legend-item' },
    h('span', { class: `legend-swatch ${cls}` }), text)));
}

// -- page frame ----------------------------------------------------------------------------------------------
/** The unread count on the header's 通知 link (the inbox, engine/inbox.py). */
export async function refreshInboxCount() {
  const counter = document.getElementById('inbox-count');
  if (!counter || !me) return;
  try {
    const { unread } = await get('/api/notifications/count');
    counter.textContent = unread > 99 ? '99+' : String(unread);
    counter.hidden = unread === 0;
    document.getElementById('inbox-link').setAttribute('aria-label', unread ? `站内通知，${unread} 条未读` : '站内通知');
  } catch { /* the header keeps its last count; the page itself reports failures */ }
}

function frame() {
  // On a narrow screen the navigation folds behind the 菜单 button.
  const toggle = document.getElementById('menu-toggle');
  const nav = document.getElementById('mainnav');
  if (toggle && nav) {
    toggle.addEventListener('click', () => {
      const open = nav.classList.toggle('open');
      toggle.setAttribute('aria-expanded', String(open));
    });
  }
  if (me) {
    refreshInboxCount();
    setInterval(refreshInboxCount, 60_000);
  }
  const logout = document.getElementById('logout');
  if (logout) {
    logout.addEventListener('click', async () => {
      // A list refresh still in flight meets the ended session with a 401: it must not send the official to
      // "log in again and come back here" while they are leaving.
      signingOut = true;
      try { await api('DELETE', '/api/session'); } finally { window.location.assign('/login'); }
    });
  }
  const clock = document.getElementById('server-now');
  if (clock && ctx.now) clock.textContent = fmtDateTime(ctx.now);
  const pending = sessionStorage.getItem('pf-flash');
  if (pending) {
    sessionStorage.removeItem('pf-flash');
    try { const { text, tone } = JSON.parse(pending); flash(text, tone); } catch { /* ignore */ }
  }
}
frame();

// -- a petition's papers: attachments, written notices, service, the case file -----------------------------
/** A file field whose button and "nothing chosen" speak Chinese: the browser's own file button speaks the
 * browser's language ("Choose Files"), so the input is hidden and its label is the button. */
function filePicker(caption, { name, id, multiple = false }) {
  const input = h('input', { type: 'file', name, id, multiple, class: 'visually-hidden' });
  const chosen = h('span', { class: 'muted small file-chosen', 'aria-live': 'polite' }, '未选择文件');
  input.addEventListener('change', () => {
    const names = [...input.files].map((file) => file.name);
    chosen.textContent = names.length ? `已选择 ${names.length} 个：${names.join('、')}` : '未选择文件';
  });
  return h('span', { class: 'file-field' }, h('span', { class: 'file-caption' }, caption), input,
    h('label', { class: 'btn btn-small file-pick', for: id }, '选择文件'), chosen);
}

export const NOTICE_KINDS = {
  acceptance: '受理告知书', non_acceptance: '不予受理告知书', not_again: '不再受理告知书', transfer: '转送（交办）函',
  extension: '延期办理告知书', handling_opinion: '信访处理意见书', review_opinion: '复查意见书',
  recheck_opinion: '复核意见书', hearing_notice: '听证通知书', supervision: '督办函',
};
export const SERVICE_METHODS = { in_person: '当面送达', post: '邮寄送达', online: '网上告知', sms: '短信告知', phone: '电话告知' };
const ORIGINS = { petition: '登记材料', task: '办理材料', petitioner: '信访人提交', receipt: '送达回执' };
// The notice a step issues, by the step's element id (the issuer may pick another).
const STEP_NOTICES = {
  notice_acceptance: 'acceptance', notice_skip_level: 'non_acceptance', notice_same_matter: 'non_acceptance',
  notice_no_review: 'non_acceptance', notice_other_channel: 'non_acceptance', notice_other_authority: 'non_acceptance',
  notice_statutory_route: 'non_acceptance', notice_terminated: 'not_again', issue_opinion: 'handling_opinion',
  extension_notice: 'extension', hearing_notice: 'hearing_notice',
};
const PREVIEWABLE = ['image/png', 'image/jpeg', 'application/pdf'];

export function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} 字节`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Attachments and notices of petition ``number``; with ``task`` (a step the user acts on) files go to that
 * step and a notice can be issued there. ``onChange`` runs after anything was added. */
export async function papersPanel(number, { task = null, onChange = null } = {}) {
  const base = `/api/petitions/${encodeURIComponent(number)}`;
  const card = h('section', { class: 'card', id: 'papers', 'data-testid': 'papers' });
  const preview = h('div', { class: 'paper-preview', id: 'paper-preview' });
  const changed = async () => { await fill(); if (onChange) onChange(); };

  async function fill() {
    let attachments; let documents;
    try {
      [attachments, documents] = await Promise.all([get(`${base}/attachments`), get(`${base}/documents`)]);
    } catch (error) {
      replace(card, h('h2', {}, '附件与文书'), h('div', { class: 'alert alert-warning' }, explain(error)));
      return;
    }
    replace(card,
      h('div', { class: 'card-head' }, h('h2', {}, '附件与文书'),
        h('a', { class: 'btn btn-small', href: `${base}/case-file`, id: 'case-file', download: '' }, '下载卷宗')),
      h('h3', {}, `附件（${attachments.length}）`),
      attachments.length ? h('ul', { class: 'papers', id: 'attachment-list' }, attachments.map(attachmentItem)) : h('p', { class: 'muted' }, '暂无附件'),
      uploadForm(),
      h('h3', {}, `文书（${documents.length}）`),
      documents.length ? h('ul', { class: 'papers', id: 'document-list' }, documents.map(documentItem)) : h('p', { class: 'muted' }, '暂无文书'),
      task ? issueForm() : null,
      preview);
  }

  function attachmentItem(a) {
    const url = `${base}/attachments/${a.id}/content`;
    const show = () => {
      replace(preview, a.mediaType === 'application/pdf'
        ? h('iframe', { src: url, title: a.filename, class: 'pdf-frame', 'data-testid': 'pdf-preview' })
        : h('img', { src: url, alt: a.filename, class: 'image-preview', 'data-testid': 'image-preview' }));
    };
    return h('li', { dataset: { attachment: a.id } },
      a.mediaType.startsWith('image/') && PREVIEWABLE.includes(a.mediaType)
        ? h('img', { src: url, alt: '', class: 'thumb' }) : null,
      h('strong', {}, a.filename),
      h('span', { class: 'muted small' }, ` ${label(ORIGINS, a.origin)} · ${fileSize(a.size)} · ${a.uploadedBy || '—'} · ${fmtDateTime(a.uploadedAt)}`),
      ' ',
      PREVIEWABLE.includes(a.mediaType) ? h('button', { type: 'button', class: 'btn btn-small', onclick: show }, '预览') : null,
      h('a', { class: 'btn btn-small', href: `${url}?download=true` }, '下载'));
  }

  function documentItem(d) {
    const url = `${base}/documents/${d.id}/content`;
    const served = d.servedOn
      ? badge(`已送达 ${d.servedOn}（${label(SERVICE_METHODS, d.serviceMethod)}，${d.receiver}）`, 'green')
      : badge('未送达', 'amber');
    return h('li', { dataset: { document: d.id } },
      h('strong', {}, label(NOTICE_KINDS, d.kind, d.title)), ' ', h('span', { class: 'doc-number' }, d.number), ' ', served,
      h('span', { class: 'muted small' }, ` 签发 ${fmtDateTime(d.issuedAt)} ${d.issuedBy || ''}`), ' ',
      h('button', { type: 'button', class: 'btn btn-small',
        onclick: () => replace(preview, h('iframe', { src: url, title: d.number, class: 'pdf-frame', 'data-testid': 'pdf-preview' })) }, '预览'),
      h('a', { class: 'btn btn-small', href: `${url}?download=true`, 'data-testid': 'document-download' }, '下载'),
      d.servedOn ? null : serviceForm(d));
  }

  function uploadForm() {
    const form = h('form', { class: 'filters', id: 'attach-form' },
      filePicker(task ? '上传本环节材料' : '上传附件', { name: 'files', id: 'attach-files', multiple: true }),
      h('button', { type: 'submit', class: 'btn' }, '上传'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const input = form.querySelector('input[type=file]');
      if (!input.files.length) { flash('请先选择文件', 'info'); return; }
      const body = new FormData();
      for (const file of input.files) body.append('files', file);
      if (task) body.append('taskId', task.id);
      try {
        await api('POST', `${base}/attachments`, body, { form: true });
        flash(`已上传 ${input.files.length} 个文件`, 'success');
        await changed();
      } catch (error) {
        flash(explain(error), 'error', true);
      }
    });
    return form;
  }

  function serviceForm(d) {
    const form = h('form', { class: 'filters service-form', dataset: { service: d.id } },
      h('label', {}, '送达方式', h('select', { name: 'method' },
        Object.entries(SERVICE_METHODS).map(([value, text]) => h('option', { value }, text)))),
      h('label', {}, '送达日期', h('input', { type: 'date', name: 'servedOn', required: true, value: ctx.today })),
      h('label', {}, '受送达人', h('input', { type: 'text', name: 'receiver', required: true, maxlength: 100 })),
      filePicker('送达回执扫描件', { name: 'receipt', id: `receipt-${d.id}` }),
      h('button', { type: 'submit', class: 'btn btn-small' }, '登记送达'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = new FormData(form);
      if (!form.receipt.files.length) body.delete('receipt');
      try {
        await api('POST', `${base}/documents/${d.id}/service`, body, { form: true });
        flash('送达已登记', 'success');
        await changed();
      } catch (error) {
        flash(explain(error), 'error', true);
      }
    });
    return form;
  }

  function issueForm() {
    const chosen = STEP_NOTICES[task.elementId] || 'acceptance';
    const form = h('form', { class: 'filters', id: 'issue-form' },
      h('label', {}, '文书种类', h('select', { name: 'kind', id: 'issue-kind' },
        Object.entries(NOTICE_KINDS).map(([value, text]) => h('option', { value, selected: value === chosen }, text)))),
      h('label', { style: 'flex:1' }, '补充内容（可不填）', h('textarea', { name: 'text', rows: 2, maxlength: 4000, style: 'width:100%' })),
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'issue-notice' }, '出具文书'));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      try {
        const doc = await post(`${base}/documents`, { kind: form.kind.value, taskId: task.id, text: form.text.value });
        flash(`已出具${doc.title}，文号 ${doc.number}`, 'success');
        await changed();
      } catch (error) {
        flash(explain(error), 'error', true);
      }
    });
    return form;
  }

  await fill();
  return card;
}

/** 导出 Excel / 导出 CSV for a list: the server's export of ``path`` with the filter form's current values. */
export function exportButtons(form, path, extra = {}) {
  const link = (format, text) => h('a', {
    class: 'btn', href: `${path}${query({ ...extra, format })}`, dataset: { export: format },
    onclick: (event) => {
      const params = Object.fromEntries(new FormData(form).entries());
      event.currentTarget.href = `${path}${query({ ...params, ...extra, format })}`;
    },
  }, text);
  return h('span', { class: 'export-links' }, link('xlsx', '导出 Excel'), link('csv', '导出 CSV'));
}
