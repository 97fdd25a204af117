// Small SVG bar charts, drawn here (no chart library, nothing from a CDN).
const SVG = 'http://www.w3.org/2000/svg';

function el(tag, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== null) node.textContent = text;
  return node;
}

function niceMax(value) {
  if (value <= 5) return 5;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * Grouped bars: categories along x, one bar per series in each group.
 * series: [{ name, color, values: [number|null] }]; percent: values are 0..1 shown as %.
 */
export function barChart({ categories, series, percent = false, height = 280, title = '' }) {
  const width = 640;
  const margin = { top: 18, right: 12, bottom: 58, left: 46 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  const max = percent ? 1 : niceMax(Math.max(1, ...all));
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title });
  const ticks = 4;
  for (let i = 0; i <= ticks; i += 1) {
    const value = (max / ticks) * i;
    const y = margin.top + plotH - (value / max) * plotH;
    svg.append(el('line', { x1: margin.left, x2: width - margin.right, y1: y, y2: y, class: i ? 'gridline' : 'axis' }));
    svg.append(el('text', { x: margin.left - 6, y: y + 4, 'text-anchor': 'end' },
      percent ? `${Math.round(value * 100)}%` : `${Math.round(value)}`));
  }
  const n = Math.max(1, categories.length);
  const group = plotW / n;
  const bar = Math.min(26, (group * 0.78) / series.length);
  const rotate = categories.some((c) => String(c).length * 12 > group);
  categories.forEach((category, index) => {
    const start = margin.left + index * group + (group - bar * series.length) / 2;
    series.forEach((s, k) => {
      const value = s.values[index];
      const x = start + k * bar;
      if (value === null || value === undefined) {
        svg.append(el('text', { x: x + bar / 2, y: margin.top + plotH - 4, 'text-anchor': 'middle', class: 'value' }, '–'));
        return;
      }
      const h = Math.max(1, (value / max) * plotH);
      const y = margin.top + plotH - h;
      const rect = el('rect', { x: x + 1, y, width: Math.max(2, bar - 2), height: h, fill: s.color, rx: 2 });
      rect.append(el('title', {}, `${category} ${s.name}：${percent ? `${(value * 100).toFixed(1)}%` : value}`));
      svg.append(rect);
      if (bar >= 18 || series.length === 1) {
        svg.append(el('text', { x: x + bar / 2, y: y - 4, 'text-anchor': 'middle', class: 'value' },
          percent ? `${Math.round(value * 100)}` : `${value}`));
      }
    });
    const cx = margin.left + index * group + group / 2;
    const labelY = margin.top + plotH + 16;
    const text = String(category);
    const short = text.length > 10 ? `${text.slice(0, 9)}…` : text;
    svg.append(rotate
      ? el('text', { x: cx, y: labelY, 'text-anchor': 'end', transform: `rotate(-30 ${cx} ${labelY})` }, short)
      : el('text', { x: cx, y: labelY, 'text-anchor': 'middle' }, short));
  });
  return svg;
}

export function chartLegend(series) {
  const box = document.createElement('div');
  box.className = 'chart-legend';
  for (const s of series) {
    const item = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = s.color;
    item.append(swatch, s.name);
    box.append(item);
  }
  return box;
}
