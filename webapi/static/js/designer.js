// 流程设计与部署: deployed definition versions with running-instance counts; upload .bpmn/.form files, validate
// them (engine rules and bpmnlint), preview each diagram with its problems marked, then deploy.
import {
  $, api, badge, diagramTools, emptyRow, explain, fmtDateTime, get, h, replace, showDiagram,
} from './common.js';

const LINT_RULES = {
  'label-required': '元素缺少名称',
  'no-disconnected': '元素没有连线',
  'start-event-required': '缺少开始事件',
  'end-event-required': '缺少结束事件',
  'no-implicit-split': '隐式分支：请改用网关',
  'no-implicit-start': '隐式开始：元素没有入口',
  'no-implicit-end': '隐式结束：元素没有出口',
  'no-gateway-join-fork': '同一网关既汇合又分支',
  'fake-join': '隐式汇合：请改用网关',
  'conditional-flows': '条件流缺少条件或默认流',
  'single-blank-start-event': '多个空开始事件',
  'superfluous-gateway': '多余的网关',
  'no-duplicate-sequence-flows': '重复的顺序流',
  'no-bpmndi': '缺少图形信息（DI），Modeler 中不可见',
  'no-complex-gateway': '不支持复杂网关',
  'no-inclusive-gateway': '不建议使用包容网关',
  'no-overlapping-elements': '元素重叠',
  'single-event-definition': '事件只能有一个定义',
  'sub-process-blank-start-event': '子流程须以空开始事件开始',
  'link-event': '链接事件不匹配',
  'superfluous-termination': '多余的终止结束事件',
  'history-time-to-live': '缺少历史保留期（historyTimeToLive）',
};

let definitions = [];

function filesOf() {
  return [...$('#upload-files').files];
}

function formData(files) {
  const data = new FormData();
  for (const file of files) data.append('files', file, file.name);
  const name = $('#upload-name').value.trim();
  if (name) data.append('name', name);
  return data;
}

/** One list of what the engine and bpmnlint found: engine problems are errors (the engine refuses the file);
 * bpmnlint's errors block deploying too, its warnings do not. */
function findings(validation, lint) {
  const items = validation.problems.map((p) => ({
    file: p.file, line: p.line, element: p.element, severity: 'error', source: '引擎规则', text: p.message, rule: null,
  }));
  for (const result of lint.results) {
    if (result.message) items.push({ file: result.file, line: null, element: null, severity: 'error', source: 'bpmnlint', text: result.message, rule: null });
    for (const p of result.problems) {
      items.push({
        file: result.file, line: null, element: p.element, severity: p.severity, source: 'bpmnlint',
        text: LINT_RULES[p.rule] || p.message, rule: p.rule, detail: LINT_RULES[p.rule] ? p.message : null,
      });
    }
  }
  return items;
}

function problemTable(items) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table table-compact', 'data-testid': 'validation-problems' },
    h('thead', {}, h('tr', {}, h('th', {}, '级别'), h('th', {}, '来源'), h('th', {}, '文件'), h('th', {}, '行'), h('th', {}, '元素'), h('th', {}, '问题'))),
    h('tbody', {}, items.map((p) => h('tr', { class: `finding-${p.severity}` },
      h('td', { class: `severity-${p.severity}` }, p.severity === 'error' ? '错误' : '警告'),
      h('td', { class: 'small' }, p.source),
      h('td', { class: 'problem-file' }, p.file), h('td', { class: 'num' }, p.line ?? '—'),
      h('td', { class: 'mono' }, p.element || '—'),
      h('td', {}, p.text, p.rule ? h('div', { class: 'muted small mono' }, p.rule, p.detail ? `：${p.detail}` : '') : null))))));
}

/** A preview section for an uploaded diagram; its draw() runs once the section is in the page (bpmn-js needs
 * a laid-out container to fit the diagram). */
async function preview(file, items) {
  const box = h('div', { class: 'diagram', style: 'height:380px' });
  const tools = h('div', { class: 'actions' });
  const section = h('div', {}, h('div', { class: 'card-head preview-title' }, h('h3', {}, `图形预览：${file.name}`), tools), box);
  let xml = null;
  try {
    xml = await file.text();
  } catch (error) {
    replace(box, h('div', { class: 'alert alert-error', style: 'margin:16px' }, `无法读取 ${file.name}：${error.message}`));
  }
  const draw = async () => {
    if (xml === null) return;
    try {
      const viewer = await showDiagram(box, xml);
      const registry = viewer.get('elementRegistry');
      const canvas = viewer.get('canvas');
      const overlays = viewer.get('overlays');
      const counts = {};
      for (const id of items.map((p) => p.element)) {
        if (id) counts[id] = (counts[id] || 0) + 1;
      }
      for (const [id, count] of Object.entries(counts)) {
        if (!registry.get(id)) continue;
        canvas.addMarker(id, 'pf-error');
        overlays.add(id, 'pf-problem', {
          position: { top: -14, right: 10 }, scale: { min: 1 },
          html: h('div', { class: 'overlay-badge', 'data-testid': `problem-${id}` }, h('span', { class: 'ob-error' }, `${count} 个问题`)),
        });
      }
      replace(tools, diagramTools(viewer));
      box.dataset.ready = 'true';
    } catch (error) {
      replace(box, h('div', { class: 'alert alert-error', style: 'margin:16px' }, `流程图无法解析：${error.message}`));
    }
  };
  return { section, draw };
}

async function check(deploy) {
  const files = filesOf();
  const out = $('#upload-result');
  if (!files.length) {
    replace(out, h('div', { class: 'alert alert-warning', style: 'margin-top:12px' }, '请先选择 .bpmn 或 .form 文件'));
    return;
  }
  for (const button of [$('#validate-button'), $('#deploy-button')]) button.disabled = true;
  replace(out, h('div', { class: 'loading' }, '正在校验…'));
  try {
    const [validation, lint] = await Promise.all([
      api('POST', '/api/deployments/validate', formData(files), { form: true }),
      api('POST', '/ui/lint', formData(files), { form: true })
        .catch((error) => ({ available: false, message: explain(error), results: [] })),
    ]);
    const items = findings(validation, lint);
    const errors = items.filter((p) => p.severity === 'error').length;
    const warnings = items.length - errors;
    const parts = [];
    if (!errors) {
      parts.push(h('div', { class: 'alert alert-success', 'data-testid': 'validation-summary' },
        h('h3', {}, `校验通过：${files.length} 个文件没有错误`),
        warnings ? `${warnings} 个警告（不阻止部署，建议在 Modeler 中修正）。` : null));
    } else {
      parts.push(h('div', { class: 'alert alert-error', 'data-testid': 'validation-summary' },
        h('h3', {}, `校验未通过：${items.length} 个问题（${errors} 个错误，${warnings} 个警告）${deploy ? '，未部署' : ''}`),
        '错误须在 Camunda Modeler 中修正后重新上传；警告不阻止部署。'));
    }
    if (!lint.available) {
      parts.push(h('div', { class: 'alert alert-warning', 'data-testid': 'lint-unavailable' }, `bpmnlint 未运行：${lint.message}`));
    }
    if (items.length) parts.push(problemTable(items));
    const previews = [];
    for (const file of files.filter((f) => f.name.toLowerCase().endsWith('.bpmn'))) {
      previews.push(await preview(file, items.filter((p) => p.file === file.name)));
    }
    parts.push(previews.map((p) => p.section));
    if (deploy && !errors) {
      const result = await api('POST', '/api/deployments', formData(files), { form: true });
      const fresh = result.definitions.filter((d) => d.new);
      parts.unshift(h('div', { class: 'alert alert-success', 'data-testid': 'deploy-result' },
        h('h3', {}, result.created ? `已部署：${result.name}` : '内容未变化，没有新建部署'),
        h('ul', {}, result.definitions.map((d) => h('li', {}, `${d.name || d.key}（${d.key}）第 ${d.version} 版 ${d.new ? '— 新版本' : '— 未变化'}`)),
          Object.entries(result.forms || {}).map(([key, version]) => h('li', {}, `表单 ${key} 第 ${version} 版`))),
        fresh.length ? '新版本对新启动的案件生效；在途案件仍按原版本办理。' : null));
      await loadDefinitions();
    }
    replace(out, parts);
    for (const p of previews) await p.draw();
  } catch (error) {
    const problems = error.details && error.details.problems;
    replace(out, h('div', { class: 'alert alert-error', 'data-testid': 'validation-summary' }, h('h3', {}, '操作失败'), explain(error)),
      Array.isArray(problems) ? problemTable(problems) : null);
  } finally {
    for (const button of [$('#validate-button'), $('#deploy-button')]) button.disabled = false;
  }
}

async function loadDefinitions() {
  const body = $('#definition-table tbody');
  try {
    definitions = await get('/api/definitions');
  } catch (error) {
    replace(body, emptyRow(9, explain(error)));
    return;
  }
  $('#definition-count').textContent = `${new Set(definitions.map((d) => d.key)).size} 个流程，${definitions.length} 个版本`;
  replace(body, definitions.length ? definitions.map((d) => h('tr', { dataset: { definition: d.id } },
    h('td', {}, h('a', { href: `/definitions/${encodeURIComponent(d.id)}` }, d.name || d.key)),
    h('td', { class: 'mono' }, d.key),
    h('td', { class: 'nowrap' }, `第 ${d.version} 版 `, d.latest ? badge('最新', 'green') : badge('历史', 'grey')),
    h('td', { class: 'mono' }, d.resource),
    h('td', { class: 'mono', title: d.deploymentId }, d.deploymentId.slice(0, 8)),
    h('td', { class: 'nowrap' }, fmtDateTime(d.createdAt)),
    h('td', { class: 'num' }, d.runningInstances ? badge(String(d.runningInstances), 'blue') : '0'),
    h('td', { class: 'small' }, (d.formRefs || []).length ? `${d.formRefs.length} 张` : '—'),
    h('td', {}, h('div', { class: 'actions' },
      h('a', { class: 'btn btn-sm', href: `/definitions/${encodeURIComponent(d.id)}` }, '流程图'),
      h('a', { class: 'btn btn-sm', href: `/cockpit/processes?id=${encodeURIComponent(d.id)}` }, '监控'),
      h('a', { class: 'btn btn-sm', href: `/api/definitions/${encodeURIComponent(d.id)}/xml`, download: d.resource }, 'XML'),
      h('button', { type: 'button', class: 'btn btn-sm', dataset: { dryRun: d.id } }, '试运行'),
      d.runningInstances ? null : h('button', { type: 'button', class: 'btn btn-sm btn-danger', dataset: { undeploy: d.id } }, '删除此版本'))))) : emptyRow(9, '尚未部署任何流程'));
}

$('#upload-files').addEventListener('change', () => {
  const files = filesOf();
  $('#upload-chosen').textContent = files.length ? `已选择 ${files.length} 个文件：${files.map((f) => f.name).join('、')}` : '未选择文件';
});
/** Remove a version nobody ran (a test deployment); the server refuses once any instance exists. */
async function undeploy(id) {
  const found = definitions.find((d) => d.id === id);
  if (!found || !window.confirm(`删除“${found.name || found.key}”第 ${found.version} 版？只能删除从未启动过案件的版本，表单保留。`)) return;
  const note = $('#definition-note');
  try {
    await api('DELETE', `/api/definitions/${encodeURIComponent(id)}`);
    replace(note, h('div', { class: 'alert alert-success', 'data-testid': 'undeploy-result' }, `已删除“${found.name || found.key}”第 ${found.version} 版`));
  } catch (error) {
    replace(note, h('div', { class: 'alert alert-error', 'data-testid': 'undeploy-result' }, `无法删除：${explain(error)}`));
  }
  await loadDefinitions();
}

const OUTCOMES = {
  completed: ['到达结束事件', 'green'], waiting: ['停在等待处', 'amber'], refused: ['示例数据被表单拒绝', 'red'],
  failed: ['流程出错', 'red'], too_long: ['步数过多', 'amber'],
};

/** Walk the version's paths with its forms' example data (nothing is stored) and list each path's end. */
async function dryRun(id) {
  const found = definitions.find((d) => d.id === id);
  const note = $('#definition-note');
  replace(note, h('div', { class: 'loading' }, `正在试运行“${found ? found.name || found.key : id}”…`));
  try {
    const result = await api('POST', `/api/definitions/${encodeURIComponent(id)}/dry-run`);
    replace(note, h('div', { class: 'card', 'data-testid': 'dry-run-result' },
      h('h3', {}, `试运行：${result.paths.length} 条路径${result.complete ? '' : '（已达上限，未走完全部分支）'}`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'table table-compact' },
        h('thead', {}, h('tr', {}, h('th', {}, '结果'), h('th', {}, '结束或停止于'), h('th', {}, '经过的任务'), h('th', {}, '说明'))),
        h('tbody', {}, result.paths.map((p) => h('tr', { class: `dry-run-${p.outcome}` },
          h('td', {}, badge(...(OUTCOMES[p.outcome] || [p.outcome, 'grey']))),
          h('td', { class: 'mono' }, p.stoppedAt || '—'),
          h('td', { class: 'small' }, p.steps.map((s) => `${s.name || s.element}${s.choice ? `（${s.choice}）` : ''}`).join(' → ') || '—'),
          h('td', { class: 'small' }, p.message || ''))))))));
  } catch (error) {
    replace(note, h('div', { class: 'alert alert-error', 'data-testid': 'dry-run-result' }, `试运行失败：${explain(error)}`));
  }
}

$('#definition-table').addEventListener('click', (event) => {
  const button = event.target.closest('button[data-undeploy], button[data-dry-run]');
  if (button && button.dataset.undeploy) undeploy(button.dataset.undeploy);
  else if (button) dryRun(button.dataset.dryRun);
});
$('#validate-button').addEventListener('click', () => check(false));
$('#deploy-button').addEventListener('click', () => check(true));
loadDefinitions();
