// 流程定义: one deployed version's diagram exactly as deployed, its other versions and the forms it uses.
import {
  $, api, badge, ctx, diagramTools, emptyRow, explain, fmtDateTime, get, h, me, replace, showDiagram,
} from './common.js';

async function lint(definition, xml) {
  if (!me.roles.includes('designer') && !me.roles.includes('admin')) return;
  const data = new FormData();
  data.append('files', new Blob([xml], { type: 'application/xml' }), definition.resource || 'diagram.bpmn');
  try {
    const result = await api('POST', '/ui/lint', data, { form: true });
    if (!result.available) {
      replace($('#lint-box'), h('div', { class: 'alert alert-warning' }, `bpmnlint 未运行：${result.message}`));
      return;
    }
    const problems = result.results.flatMap((r) => r.problems);
    replace($('#lint-box'), h('h3', { class: 'preview-title' }, 'bpmnlint 检查'),
      problems.length ? h('ul', { class: 'notes' }, problems.map((p) => h('li', {}, h('span', { class: 'mono' }, p.element), `：${p.message}（${p.rule}）`)))
        : h('p', {}, badge('bpmnlint 通过', 'green')));
  } catch (error) {
    replace($('#lint-box'), h('p', { class: 'muted' }, explain(error)));
  }
}

async function load() {
  let definitions;
  try {
    definitions = await get('/api/definitions');
  } catch (error) {
    replace($('#diagram'), h('div', { class: 'alert alert-error', style: 'margin:16px' }, explain(error)));
    return;
  }
  const definition = definitions.find((d) => d.id === ctx.definitionId);
  if (!definition) {
    replace($('#diagram'), h('div', { class: 'alert alert-warning', style: 'margin:16px' }, '没有这个流程定义'));
    return;
  }
  $('#definition-title').textContent = `${definition.name || definition.key} · 第 ${definition.version} 版`;
  replace($('#definition-sub'), h('span', { class: 'mono' }, definition.key), ` · ${definition.resource} · 部署于 ${fmtDateTime(definition.createdAt)} · 在途实例 ${definition.runningInstances} `,
    definition.latest ? badge('最新版本', 'green') : badge('历史版本', 'grey'));
  replace($('#definition-links'),
    h('a', { class: 'btn', href: `/cockpit/processes?id=${encodeURIComponent(definition.id)}` }, '在办分布'),
    h('a', { class: 'btn', href: `/api/definitions/${encodeURIComponent(definition.id)}/xml`, download: definition.resource }, '下载 XML'));
  const versions = definitions.filter((d) => d.key === definition.key);
  replace($('#version-table tbody'), versions.length ? versions.map((d) => h('tr', {},
    h('td', {}, d.id === definition.id ? h('strong', {}, `第 ${d.version} 版`) : h('a', { href: `/definitions/${encodeURIComponent(d.id)}` }, `第 ${d.version} 版`),
      ' ', d.latest ? badge('最新', 'green') : null),
    h('td', { class: 'nowrap' }, fmtDateTime(d.createdAt)),
    h('td', { class: 'mono' }, d.resource),
    h('td', { class: 'num' }, d.runningInstances))) : emptyRow(4));
  replace($('#form-refs'), (definition.formRefs || []).length
    ? h('div', { class: 'flags' }, definition.formRefs.map((f) => badge(f, 'blue')))
    : h('p', { class: 'muted' }, '不引用表单'));
  try {
    const xml = await get(`/api/definitions/${encodeURIComponent(definition.id)}/xml`);
    const viewer = await showDiagram($('#diagram'), xml);
    replace($('#diagram-tools'), diagramTools(viewer));
    $('#diagram').dataset.ready = 'true';
    lint(definition, xml);
  } catch (error) {
    replace($('#diagram'), h('div', { class: 'alert alert-error', style: 'margin:16px' }, `无法显示流程图：${explain(error)}`));
  }
}

load();
