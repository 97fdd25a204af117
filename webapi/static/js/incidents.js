// 异常处理: failed timer fires of running cases within the supervisor's jurisdiction, retried one by one or
// several at once (/api/incidents).
import { $, $$, badge, emptyRow, explain, flash, fmtDateTime, get, h, post, processNames, replace } from './common.js';

let incidents = [];

function selected() {
  return $$('#incidents tbody input[type=checkbox]:checked').map((box) => Number(box.value));
}

function updateSelection() {
  $('#retry-selected').disabled = selected().length === 0;
}

async function retry(ids) {
  try {
    const results = await post('/api/incidents/retry', { ids });
    const failed = results.filter((r) => !r.resolved);
    // Why, as officials read it: failed again, or the case is suspended and must be resumed first.
    const reasons = [...new Set(failed.map((r) => r.reason))].join('；');
    if (failed.length) flash(`已重试 ${results.length} 件，${results.length - failed.length} 件已恢复，${failed.length} 件仍然失败：${reasons}`, 'error');
    else flash(`已重试 ${results.length} 件，全部恢复办理`, 'success');
  } catch (error) {
    flash(explain(error), 'error');
  }
  await load();
}

function row(incident, processes) {
  const element = incident.elementName || '流程环节';
  return h('tr', { dataset: { incident: String(incident.id), instance: incident.instanceId } },
    h('td', {}, h('input', { type: 'checkbox', value: String(incident.id), 'aria-label': '选择', onchange: updateSelection })),
    h('td', {}, h('a', { href: `/instances/${encodeURIComponent(incident.instanceId)}` }, incident.businessKey || '查看案件')),
    h('td', {}, processes[incident.definitionKey] || incident.definitionKey),
    h('td', {}, element),
    h('td', { class: 'nowrap' }, fmtDateTime(incident.failedAt)),
    h('td', {}, badge(`${incident.attempts} 次`, incident.attempts > 1 ? 'red' : 'amber')),
    // The engine's own message (``message`` in the API) is for operators and the log, not for officials.
    h('td', {}, `定时触发后流程在「${element}」处运行出错，案件未作改变`),
    h('td', {}, h('button', { type: 'button', class: 'btn btn-sm', 'data-testid': 'retry-one', onclick: () => retry([incident.id]) }, '重试')));
}

async function load() {
  const { names } = await processNames();
  try {
    incidents = await get('/api/incidents?limit=200');
  } catch (error) {
    replace($('#incidents tbody'), emptyRow(8, explain(error)));
    return;
  }
  replace($('#incidents tbody'), incidents.length ? incidents.map((i) => row(i, names)) : emptyRow(8, '没有待处理的异常'));
  $('#select-all').checked = false;
  updateSelection();
  $('#incidents').dataset.ready = 'true';
}

$('#select-all').addEventListener('change', (event) => {
  for (const box of $$('#incidents tbody input[type=checkbox]')) box.checked = event.target.checked;
  updateSelection();
});
$('#retry-selected').addEventListener('click', () => retry(selected()));
load();
