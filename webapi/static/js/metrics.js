// 统计分析: the statutory rates per unit and per month as SVG bar charts, with every numerator and
// denominator in the table below.
import { $, UNIT_NAMES, badge, emptyRow, explain, exportButtons, flash, get, h, query, replace, unitCode } from './common.js';
import { barChart, chartLegend } from './chart.js';

const filters = $('#metric-filters');
filters.append(exportButtons(filters, '/api/metrics/export', { byUnit: true, byMonth: true }));
const RATES = [
  { key: 'resolutionRate', name: '化解率', color: '#1a4f9c', num: 'resolved', den: 'packaged' },
  { key: 'onTimeRate', name: '按期办结率', color: '#1e7b34', num: 'handledOnTime', den: 'handlingClosed' },
  { key: 'timelyAcceptanceRate', name: '及时受理率', color: '#e69100', num: 'acceptedOnTime', den: 'acceptanceClosed' },
  { key: 'satisfactionRate', name: '满意率', color: '#b71c1c', num: 'satisfied', den: 'evaluations' },
  { key: 'evaluationRate', name: '参评率', color: '#6a3d9a', num: 'evaluations', den: 'eligible' },
];

function pct(value) {
  return value === null || value === undefined ? '—' : `${(value * 100).toFixed(1)}%`;
}

function rateCell(row, rate) {
  return h('td', { class: 'num' }, pct(row[rate.key]), h('div', { class: 'muted small' }, `${row[rate.num]} / ${row[rate.den]}`));
}

function total(rows, field) {
  return rows.reduce((sum, row) => sum + (row[field] || 0), 0);
}

function stat(text, value, sub) {
  return h('div', { class: 'stat' }, h('div', { class: 'stat-label' }, text), h('div', { class: 'stat-value' }, value),
    h('div', { class: 'muted small' }, sub));
}

async function load() {
  const params = Object.fromEntries(new FormData(filters).entries());
  if (params.unit) params.unit = unitCode(params.unit);
  try {
    const [byUnit, byMonth, detail] = await Promise.all([
      get(`/api/metrics${query({ ...params, byUnit: true, byMonth: false })}`),
      get(`/api/metrics${query({ ...params, byUnit: false, byMonth: true })}`),
      get(`/api/metrics${query({ ...params, byUnit: true, byMonth: true })}`),
    ]);
    replace($('#metric-stats'), RATES.map((rate) => {
      const num = total(byUnit, rate.num);
      const den = total(byUnit, rate.den);
      return stat(rate.name, den ? pct(num / den) : '—', `${num} / ${den}`);
    }));
    const series = (rows) => RATES.map((rate) => ({ ...rate, values: rows.map((r) => r[rate.key]) }));
    replace($('#chart-units'), byUnit.length
      ? [chartLegend(RATES), barChart({ categories: byUnit.map((r) => UNIT_NAMES[r.unit] || r.unit), series: series(byUnit), percent: true, title: '各单位各项比率' })]
      : h('p', { class: 'muted' }, '所选期间没有数据'));
    replace($('#chart-months'), byMonth.length
      ? [chartLegend([{ name: '登记件数', color: '#52606d' }]),
        barChart({ categories: byMonth.map((r) => r.month), series: [{ name: '登记件数', color: '#52606d', values: byMonth.map((r) => r.registered) }], height: 200, title: '各月登记量' }),
        chartLegend(RATES),
        barChart({ categories: byMonth.map((r) => r.month), series: series(byMonth), percent: true, height: 240, title: '各月各项比率' })]
      : h('p', { class: 'muted' }, '所选期间没有数据'));
    replace($('#metric-table tbody'), detail.length ? detail.map((row) => h('tr', {},
      h('td', {}, UNIT_NAMES[row.unit] || row.unit), h('td', { class: 'nowrap' }, row.month), h('td', { class: 'num' }, row.registered),
      h('td', { class: 'num' }, row.overdueNow ? badge(String(row.overdueNow), 'red') : '0'),
      RATES.map((rate) => rateCell(row, rate)))) : emptyRow(9, '所选期间没有数据'));
  } catch (error) {
    flash(explain(error), 'error');
  }
}

filters.addEventListener('submit', (event) => { event.preventDefault(); load(); });
filters.addEventListener('reset', () => setTimeout(load));
load();
