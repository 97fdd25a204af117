// 流程迁移: choose a diagram and two of its versions, try the migration (each running case's steps before and
// after, and which cannot move and why), map the steps the new version lacks, then migrate in batches: in the
// background by default (a batch the scheduler works off, its progress polled here), or within the request.
import { $, badge, emptyRow, explain, flash, fmtDateTime, get, h, post, replace } from './common.js';

const POLL_MS = 1000;
let definitions = [];
let mapping = {};
let lastReport = null;
let polling = null;
// The batch started from the preview on screen: its rows show each case's outcome once it completes.
let watched = null;

const versions = (key) => definitions.filter((d) => d.key === key).sort((a, b) => b.version - a.version);

function fillKeys() {
  const keys = [...new Set(definitions.map((d) => d.key))].filter((k) => versions(k).length > 1);
  replace($('#migration-key'), keys.length
    ? keys.map((k) => h('option', { value: k }, versions(k)[0].name || k))
    : h('option', { value: '' }, '没有多个版本的流程'));
  fillVersions();
}

function fillVersions() {
  const list = versions($('#migration-key').value);
  replace($('#migration-source'), list.map((d) => h('option', { value: d.id, selected: d.runningInstances > 0 && d !== list[0] },
    `第 ${d.version} 版（${d.runningInstances} 件办理中）`)));
  replace($('#migration-target'), list.map((d) => h('option', { value: d.id }, `第 ${d.version} 版${d.latest ? '（最新）' : ''}`)));
  reset();
}

function reset() {
  mapping = {};
  lastReport = null;
  watched = null;
  $('#execute').disabled = true;
  replace($('#migration-table tbody'));
  $('#migration-summary').textContent = '选择流程和版本后点击“试迁移”。';
}

function steps(item) {
  const moved = item.activities.map((a) => `${a.sourceActivityName || a.sourceActivityId} → ${a.targetActivityName || a.targetActivityId}`);
  return h('div', {}, moved.map((text) => h('div', {}, text)), item.problems.map((text) => h('div', { class: 'migration-problem' }, text)));
}

function result(item, dryRun) {
  if (item.migrated) return badge('已迁移', 'green');
  if (item.error) return h('span', {}, badge('迁移失败', 'red'), ` ${item.error}`);
  if (!item.canMigrate) return badge('不能迁移', 'red');
  return badge(dryRun ? '可以迁移' : '未迁移', dryRun ? 'blue' : 'grey');
}

/** A select per step the new version lacks: which of its steps the cases go to. */
function mappingRows(report) {
  const unmapped = new Map();
  for (const item of report.instances) for (const a of item.unmappedActivities) unmapped.set(a.id, a.name || a.id);
  return [...unmapped].map(([id, name]) => h('label', { class: 'mapping' }, `「${name}」对应新版本的`,
    h('select', {
      'data-testid': `mapping-${id}`,
      onchange: (event) => { mapping[id] = event.target.value; if (!event.target.value) delete mapping[id]; },
    }, h('option', { value: '' }, '（请选择环节）'), report.targetActivities.map((t) => h('option', { value: t.id, selected: mapping[id] === t.id }, t.name)))));
}

function show(report) {
  lastReport = report;
  const movable = report.instances.filter((i) => i.canMigrate).length;
  const migrated = report.instances.filter((i) => i.migrated).length;
  const summary = report.dryRun
    ? `办理中 ${report.instances.length} 件：可以迁移 ${movable} 件，不能迁移 ${report.instances.length - movable} 件。`
    : `已迁移 ${migrated} 件（分 ${report.batches} 批），未迁移 ${report.instances.length - migrated} 件。`;
  replace($('#migration-summary'), h('div', {}, summary), report.dryRun ? mappingRows(report) : null);
  replace($('#migration-table tbody'), report.instances.length ? report.instances.map((item) => h('tr', { dataset: { instance: item.instanceId } },
    h('td', {}, h('a', { href: `/instances/${encodeURIComponent(item.instanceId)}` }, item.businessKey || '查看案件')),
    h('td', {}, steps(item)),
    h('td', {}, result(item, report.dryRun)))) : emptyRow(3, '该版本没有办理中的案件'));
  $('#execute').disabled = !(report.dryRun && movable > 0);
  $('#migration-table').dataset.ready = report.dryRun ? 'dry-run' : 'done';
}

function versionName(id) {
  const d = definitions.find((each) => each.id === id);
  return d ? `${d.name || d.key} 第 ${d.version} 版` : '已删除的版本';
}

function progressLine(batch) {
  const worked = batch.migrated + batch.failed;
  return batch.state === 'running'
    ? `正在迁移：已处理 ${worked} / ${batch.totalJobs} 件（已迁移 ${batch.migrated} 件，失败 ${batch.failed} 件）`
    : `迁移完成：共 ${batch.totalJobs} 件，已迁移 ${batch.migrated} 件，失败 ${batch.failed} 件`;
}

function batchItem(batch) {
  const running = batch.state === 'running';
  const tone = running ? 'blue' : (batch.failed ? 'amber' : 'green');
  return h('li', { class: 'migration-batch', dataset: { batch: batch.id, state: batch.state } },
    h('div', { class: 'batch-head' },
      badge(running ? '进行中' : '已完成', tone),
      h('strong', {}, `${versionName(batch.sourceDefinitionId)} → ${versionName(batch.targetDefinitionId)}`),
      h('span', { class: 'muted' }, `${fmtDateTime(batch.startTime)} 发起，原因：${batch.reason}`)),
    h('progress', { max: batch.totalJobs, value: batch.migrated + batch.failed }),
    h('div', { class: 'batch-line' }, progressLine(batch)),
    batch.failures.length ? h('ul', { class: 'batch-failures' }, batch.failures.map((f) => h('li', {},
      h('a', { href: `/instances/${encodeURIComponent(f.instanceId)}` }, f.businessKey || '查看案件'), `：${f.reason}`))) : null);
}

/** The preview's rows once the batch started from them has completed: migrated, or failed and why. */
function settle(batch) {
  const failed = new Map(batch.failures.map((f) => [f.instanceId, f.reason]));
  for (const item of lastReport.instances) {
    if (!watched.ids.includes(item.instanceId)) continue;
    item.error = failed.get(item.instanceId) || null;
    item.migrated = !failed.has(item.instanceId);
  }
  show({ ...lastReport, dryRun: false, batches: Math.ceil(batch.totalJobs / batch.invocationsPerBatchJob) });
  watched = null;
}

async function refreshBatches() {
  clearTimeout(polling);
  let list;
  try {
    list = await get('/api/migrations?limit=5');
  } catch (error) {
    flash(explain(error), 'error');
    return;
  }
  replace($('#batch-list'), list.length ? list.map(batchItem) : h('li', { class: 'muted' }, '暂无后台迁移'));
  const mine = watched && list.find((b) => b.id === watched.id);
  if (mine && mine.state !== 'running') settle(mine);
  if (list.some((b) => b.state === 'running')) polling = setTimeout(refreshBatches, POLL_MS);
}

async function run(dryRun) {
  const body = {
    sourceDefinitionId: $('#migration-source').value,
    targetDefinitionId: $('#migration-target').value,
    mapping,
    dryRun,
    batchSize: Number($('#migration-batch').value) || 50,
  };
  if (!dryRun) {
    body.reason = $('#migration-reason').value.trim();
    if (!body.reason) { flash('请填写迁移原因', 'error'); $('#migration-reason').focus(); return; }
    if (!window.confirm(`确定将 ${lastReport.instances.filter((i) => i.canMigrate).length} 件案件迁移到新版本？`)) return;
  }
  const background = !dryRun && $('#migration-async').checked;
  if (background) {
    body.async = true;
    body.instanceIds = lastReport.instances.filter((i) => i.canMigrate).map((i) => i.instanceId);
  }
  try {
    const answer = await post('/api/migrations', body);
    if (background) {
      watched = { id: answer.id, ids: body.instanceIds };
      $('#execute').disabled = true;
      $('#migration-table').dataset.ready = 'running';
      replace($('#migration-summary'), h('div', {}, `已在后台开始迁移 ${answer.totalJobs} 件案件，进度见下方“后台迁移”。`));
      flash('已开始在后台迁移', 'success');
      await refreshBatches();
      return;
    }
    show(answer);
    if (!dryRun) flash('迁移已执行', 'success');
  } catch (error) {
    flash(explain(error), 'error');
  }
}

$('#migration-key').addEventListener('change', fillVersions);
$('#migration-source').addEventListener('change', reset);
$('#migration-target').addEventListener('change', reset);
$('#dry-run').addEventListener('click', () => run(true));
$('#execute').addEventListener('click', () => run(false));

try {
  definitions = await get('/api/definitions');
  fillKeys();
  await refreshBatches();
} catch (error) {
  flash(explain(error), 'error');
}
