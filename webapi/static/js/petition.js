// 信访事项: one petition's record, procedures, deadlines and timeline.
import {
  $, INSTANCE_STATES, badge, ctx, deadlineTable, explain, fmtDateTime, get, h, label, papersPanel, petitionPanel,
  processNames, replace, timeline,
} from './common.js';

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
  replace(body, left, h('section', { class: 'card' }, h('h2', {}, '办理过程'), timeline(p.timeline)));
}

load();
