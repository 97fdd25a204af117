// 任务办理: the task's Camunda Form (form-js) with its data; claim, submit, server field errors on the fields;
// the petition's record, deadlines and timeline beside it.
import {
  $, ApiError, GROUPS, POSITION_NAMES, UNIT_NAMES, badge, createForm, ctx, definitionList, dueState, explain, fieldIndex,
  flash, flashNext, fmtDateTime, fmtDue, get, h, label, me, papersPanel, petitionPanel, post, processNames, replace, showFieldErrors,
  timeline,
} from './common.js';

const taskId = ctx.taskId;
const url = `/api/tasks/${encodeURIComponent(taskId)}`;
let task = null;
let form = null;

function errorBanner(title, lines = []) {
  replace($('#form-errors'), h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'form-errors' },
    h('h3', {}, title), lines.length ? h('ul', {}, lines.map((line) => h('li', {}, line))) : null));
}

function clearBanner() {
  replace($('#form-errors'));
}

async function claim() {
  try {
    await post(`${url}/claim`, { userId: me.username });
    flash('已认领，可以办理', 'success');
  } catch (error) {
    flash(error.status === 409 ? '该任务已被他人认领' : explain(error), 'error');
  }
  await load();
}

async function release() {
  try {
    await post(`${url}/unclaim`);
    flashNext('已释放任务，退回组内待认领', 'info');
    window.location.assign('/tasks');
  } catch (error) {
    flash(explain(error), 'error');
  }
}

async function submit(button) {
  clearBanner();
  let data = {};
  if (form) {
    const result = form.submit();
    const count = Object.keys(result.errors || {}).length;
    if (count) {
      errorBanner(`有 ${count} 项需要填写或修改，已在表单中标出`);
      return;
    }
    data = result.data;
  }
  button.disabled = true;
  try {
    const result = await post(`${url}/complete`, { variables: data });
    const next = result.state === 'completed' ? '流程已办结' : `已生成 ${result.createdTasks.length} 项后续任务`;
    flashNext(`已提交：${task.name || task.elementId}。${next}`, 'success');
    window.location.assign('/tasks');
  } catch (error) {
    button.disabled = false;
    if (error instanceof ApiError && error.status === 422 && error.details.fields && form) {
      const unmatched = showFieldErrors(form, task.form, error.details.fields);
      const count = Object.keys(error.details.fields).length;
      errorBanner(`服务器校验未通过：${count} 项需要修改，已在表单中标出`, unmatched);
    } else {
      errorBanner(error.status === 409 ? '无法提交' : '提交失败', [explain(error)]);
    }
  }
}

function header(names) {
  const due = dueState(task.due, task.warnAt);
  $('#task-title').textContent = task.name || task.elementId;
  document.title = `${task.name || task.elementId} · 信访事项办理系统`;
  replace($('#task-sub'),
    `${names[task.definitionKey] || task.definitionKey}`,
    task.businessKey ? ` · 信访事项 ${task.businessKey}` : '',
    ` · 候选：${(task.candidateGroups || []).map((g) => label(GROUPS, g)).join('、') || '—'}`,
    ` · 到期 ${fmtDue(task.due)} `, badge(due.text, due.tone));
  replace($('#task-links'),
    h('a', { class: 'btn', href: `/instances/${encodeURIComponent(task.instanceId)}` }, '查看流程图'),
    h('a', { class: 'btn', href: '/tasks' }, '返回待办'));
}

function controls() {
  const mine = task.assignee === me.username;
  const state = $('#task-state');
  const note = $('#claim-note');
  const actions = $('#form-actions');
  if (mine) {
    replace(state, badge('本人办理中', 'blue'));
    replace(note);
    const submitButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'submit-task' }, '提交办理');
    submitButton.addEventListener('click', () => submit(submitButton));
    replace(actions, submitButton,
      h('button', { type: 'button', class: 'btn', id: 'release-task', onclick: release }, '释放任务'),
      h('span', { class: 'spacer' }),
      h('span', { class: 'muted small' }, '提交后由服务器按同一表单再次校验'));
  } else if (!task.assignee) {
    replace(state, badge('待认领', 'grey'));
    replace(note, h('div', { class: 'alert alert-info readonly-note' }, '此任务尚未认领。认领后方可填写和提交；认领期间组内其他人不能办理。'));
    replace(actions, h('button', { type: 'button', class: 'btn btn-primary', id: 'claim-task', onclick: claim }, '认领任务'),
      h('a', { class: 'btn', href: '/tasks' }, '返回待办'));
  } else {
    replace(state, badge(`${task.assignee} 办理中`, 'amber'));
    replace(note, h('div', { class: 'alert alert-warning readonly-note' }, `此任务已由 ${task.assignee} 认领，仅可查看。`));
    replace(actions, h('a', { class: 'btn', href: '/tasks' }, '返回待办'));
  }
}

async function renderForm() {
  const container = $('#task-form');
  container.dataset.ready = '';
  if (form) { form.destroy(); form = null; }
  replace(container);
  if (!task.form) {
    replace(container, h('p', { class: 'muted' }, '此环节没有表单，确认后提交即可。'));
    container.dataset.ready = 'true';
    return;
  }
  form = createForm(container, { readOnly: task.assignee !== me.username });
  await form.importSchema(task.form, task.variables || {});
  await offerStaff(container);
  container.dataset.ready = 'true';
}

// 承办人 is one of the unit's staff: the fields that name them offer the unit's list (the server checks it too).
const STAFF_FIELDS = ['handler', 'substituteHandler'];
let staff = null;

async function unitStaff() {
  if (staff === null) {
    try {
      staff = await get(`/api/units/${encodeURIComponent(task.unitCode)}/staff`);
    } catch (error) {
      staff = [];
      flash(explain(error), 'error');
    }
  }
  return staff;
}

async function offerStaff(container) {
  const index = fieldIndex(task.form);
  const fields = STAFF_FIELDS.filter((key) => index[key]);
  if (!task.unitCode || !fields.length) return;
  const members = await unitStaff();
  const list = h('datalist', { id: 'unit-staff' },
    members.map((m) => h('option', { value: m.login }, `${m.login}（${label(POSITION_NAMES, m.position)}）`)));
  container.append(list);
  for (const key of fields) {
    const input = container.querySelector(`input[id$="${index[key].id}"]`);
    if (input) input.setAttribute('list', 'unit-staff');
  }
}

// The head of the task's unit hands it to a colleague while its holder is away.
async function reassignControls() {
  const card = $('#reassign-card');
  const heads = (me.positions || []).some((p) => p.unit === task.unitCode && ['head', 'deputy_head'].includes(p.position));
  if (!task.unitCode || !heads) {
    card.hidden = true;
    return;
  }
  const members = await unitStaff();
  const select = h('select', { name: 'userId', id: 'reassign-user' },
    members.filter((m) => m.login !== task.assignee)
      .map((m) => h('option', { value: m.login }, `${m.login}（${label(POSITION_NAMES, m.position)}）`)));
  const button = h('button', { type: 'submit', class: 'btn', id: 'reassign-task' }, '改派');
  const formNode = h('form', { class: 'filters' },
    h('label', {}, `改派给${label(UNIT_NAMES, task.unitCode)}的同事 `, select), button);
  formNode.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await post(`${url}/assign`, { userId: select.value });
      flash(`已改派给 ${select.value}`, 'success');
      await load();
    } catch (error) {
      flash(explain(error), 'error');
    }
  });
  replace($('#reassign-body'), formNode);
  card.hidden = false;
}

async function side() {
  const aside = $('#side');
  if (task.businessKey) {
    try {
      const petition = await get(`/api/petitions/${encodeURIComponent(task.businessKey)}`);
      replace(aside, petitionPanel(petition));
      return;
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 404) {
        replace(aside, h('div', { class: 'alert alert-warning' }, explain(error)));
        return;
      }
    }
  }
  // No registered petition behind this instance: what the instance itself records.
  try {
    const inst = await get(`/api/instances/${encodeURIComponent(task.instanceId)}`);
    replace(aside,
      h('section', { class: 'card' }, h('h2', {}, '流程实例'), definitionList([
        ['业务编号', inst.businessKey], ['开始时间', fmtDateTime(inst.startedAt)], ['发起人', inst.startedBy],
      ])),
      h('section', { class: 'card' }, h('h2', {}, '办理过程'), timeline(inst.history, {}, inst.people)));
  } catch (error) {
    replace(aside, h('div', { class: 'alert alert-warning' }, explain(error)));
  }
}

async function load() {
  try {
    task = await get(url);
  } catch (error) {
    replace($('#task-form'), h('div', { class: 'alert alert-warning' },
      error.status === 404 ? '该任务不存在或已办结。' : explain(error), ' ', h('a', { href: '/tasks' }, '返回待办')));
    replace($('#form-actions'));
    replace($('#side'));
    return;
  }
  const { names } = await processNames();
  header(names);
  controls();
  staff = null;
  await renderForm();
  reassignControls();
  side();
  papers();
}

async function papers() {
  const slot = $('#papers-slot');
  if (!task.businessKey) { replace(slot); return; }
  const acting = task.assignee === me.username ? task : null;
  // A notice issued or served here fills in this step's form (its number, its service date): show it.
  replace(slot, await papersPanel(task.businessKey, {
    task: acting,
    onChange: async () => { task = await get(url); await renderForm(); side(); },
  }));
}

$('#comment-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const text = event.target.text.value.trim();
  if (!text) return;
  try {
    await post(`${url}/comments`, { text });
    event.target.reset();
    flash('批注已记录', 'success');
    side();
  } catch (error) {
    flash(explain(error), 'error');
  }
});

load();
