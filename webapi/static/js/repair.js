// 修复案件: the reason dialog every repair asks through, and the instance page's repair buttons (退回上一环节,
// 取消环节, 从某环节开始), which call /api/instances/{id}/move-back and /modification.
import { explain, flash, h, post } from './common.js';

/**
 * A modal form with the given fields and a required reason (原因). ``onSubmit(values)`` runs on 确定; the
 * dialog stays open with the server's message when it fails.
 */
export function reasonDialog({ title, fields = [], submitText = '确定', onSubmit }) {
  const reason = h('textarea', { name: 'reason', rows: '3', maxlength: '500', 'data-testid': 'repair-reason', placeholder: '将记入案件的办理过程' });
  const error = h('div', { class: 'field-error', role: 'alert' });
  const dialog = h('dialog', { class: 'pf-dialog', 'aria-label': title });
  const close = () => { dialog.close(); dialog.remove(); };
  const form = h('form', { method: 'dialog' },
    fields.map((f) => h('label', {}, f.label, f.input)),
    h('label', {}, '原因（必填）', reason),
    error,
    h('div', { class: 'dialog-actions' },
      h('button', { type: 'button', class: 'btn', onclick: close }, '取消'),
      h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'repair-submit' }, submitText)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = reason.value.trim();
    if (!text) { error.textContent = '请填写原因'; reason.focus(); return; }
    const values = Object.fromEntries(fields.map((f) => [f.name, f.input.value]));
    try {
      await onSubmit({ ...values, reason: text });
      close();
    } catch (failure) {
      error.textContent = explain(failure);
    }
  });
  dialog.append(h('h2', {}, title), form);
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function select(name, options) {
  return h('select', { name, 'data-testid': `repair-${name}` },
    options.map(([value, text]) => h('option', { value }, text)));
}

/**
 * The repair buttons of a running instance. ``active``: [id, name] of the steps it is at; ``targets``: a function
 * giving [id, name] of every step of its diagram (known once the diagram is drawn); ``reload`` after a change.
 */
export function repairButtons(instance, { active, targets, reload }) {
  const url = `/api/instances/${encodeURIComponent(instance.id)}`;
  const done = async (text) => { flash(text, 'success'); await reload(); };
  const moveBack = () => reasonDialog({
    title: '退回上一环节',
    submitText: '退回',
    onSubmit: async ({ reason }) => {
      await post(`${url}/move-back`, { reason });
      await done('已退回上一环节');
    },
  });
  const cancelStep = () => reasonDialog({
    title: '取消环节',
    submitText: '取消该环节',
    fields: [{ name: 'activityId', label: '要取消的环节', input: select('activityId', active) }],
    onSubmit: async ({ activityId, reason }) => {
      await post(`${url}/modification`, { reason, instructions: [{ type: 'cancel', activityId }] });
      await done('已取消该环节');
    },
  });
  const startAt = () => reasonDialog({
    title: '从某环节开始',
    submitText: '开始',
    fields: [
      { name: 'activityId', label: '从哪个环节开始', input: select('activityId', targets()) },
      { name: 'where', label: '开始位置', input: select('where', [['startBeforeActivity', '在该环节之前（办理该环节）'], ['startAfterActivity', '在该环节之后（跳过该环节）']]) },
      { name: 'cancel', label: '当前环节', input: select('cancel', [['yes', '同时取消当前环节'], ['no', '保留当前环节（并行办理）']]) },
    ],
    onSubmit: async ({ activityId, where, cancel, reason }) => {
      const instructions = cancel === 'yes' ? active.map(([id]) => ({ type: 'cancel', activityId: id })) : [];
      instructions.push({ type: where, activityId });
      await post(`${url}/modification`, { reason, instructions });
      await done('已从所选环节开始办理');
    },
  });
  return [
    h('button', { type: 'button', class: 'btn', 'data-testid': 'move-back', onclick: moveBack }, '退回上一环节'),
    active.length ? h('button', { type: 'button', class: 'btn', 'data-testid': 'cancel-step', onclick: cancelStep }, '取消环节') : null,
    h('button', { type: 'button', class: 'btn', 'data-testid': 'start-at', onclick: startAt }, '从某环节开始'),
  ];
}
