// 组织机构: the unit tree, a unit's details and its staff; every change goes through /api/units (audited).
import {
  $, KIND_NAMES, LEVEL_NAMES, POSITION_NAMES, emptyRow, explain, flash, get, h, label, api, post, replace,
} from './common.js';

// Leaders' ranks (engine/organisation.py RANKS), lowest first.
const RANKS = { 1: '乡科级副职', 2: '乡科级正职', 3: '县处级副职', 4: '县处级正职', 5: '厅局级副职', 6: '厅局级正职' };
const unitForm = $('#unit-form');
const memberForm = $('#member-form');
let units = [];
let selected = null;

function options(select, entries, blank) {
  replace(select, blank ? h('option', { value: '' }, blank) : null,
    entries.map(([value, text]) => h('option', { value }, text)));
}

/** Units in tree order (parents first), each with its depth. */
function inTreeOrder() {
  const children = {};
  const known = new Set(units.map((u) => u.code));
  for (const u of units) (children[known.has(u.parent) ? u.parent : ''] ||= []).push(u);
  const out = [];
  const walk = (parent, depth) => {
    for (const u of children[parent] || []) {
      out.push([u, depth]);
      walk(u.code, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

function names() {
  return Object.fromEntries(units.map((u) => [u.code, u.name]));
}

function renderTable() {
  const byCode = names();
  const rows = inTreeOrder().map(([u, depth]) => {
    const row = h('tr', { class: u.code === selected ? 'selected' : '', dataset: { unit: u.code } },
      h('td', { style: `padding-left:${0.75 + depth * 1.25}rem` }, h('a', { href: '#' }, u.name)),
      h('td', { class: 'muted small' }, u.code),
      h('td', {}, label(LEVEL_NAMES, u.level)),
      h('td', {}, label(KIND_NAMES, u.kind)),
      h('td', {}, label(byCode, u.reviewOrgan)));
    row.querySelector('a').addEventListener('click', (event) => { event.preventDefault(); select(u.code); });
    return row;
  });
  replace($('#unit-table tbody'), rows.length ? rows : emptyRow(5, '尚无单位'));
  $('#unit-count').textContent = `共 ${units.length} 个`;
}

function fillUnitForm(unit) {
  const others = units.filter((u) => !unit || u.code !== unit.code).map((u) => [u.code, u.name]);
  options(unitForm.parent, others, '（无）');
  options(unitForm.reviewOrgan, others, '（同上级单位）');
  unitForm.code.value = unit ? unit.code : '';
  unitForm.code.readOnly = Boolean(unit);
  unitForm.name.value = unit ? unit.name : '';
  unitForm.level.value = unit ? unit.level : 'county';
  unitForm.kind.value = unit ? unit.kind : 'department';
  unitForm.parent.value = unit && unit.parent ? unit.parent : '';
  unitForm.reviewOrgan.value = unit && unit.reviewOrgan && unit.reviewOrgan !== unit.parent ? unit.reviewOrgan : '';
  $('#unit-form-title').textContent = unit ? `修改单位：${unit.name}` : '新增单位';
}

async function renderStaff() {
  const card = $('#staff-card');
  card.hidden = !selected;
  if (!selected) return;
  let staff = [];
  try {
    staff = await get(`/api/units/${encodeURIComponent(selected)}/staff`);
  } catch (error) {
    flash(explain(error), 'error');
  }
  replace($('#staff-table tbody'), staff.length ? staff.map((m) => {
    const remove = h('button', { type: 'button', class: 'btn btn-sm' }, '解除');
    remove.addEventListener('click', async () => {
      try {
        await api('DELETE', `/api/units/${encodeURIComponent(selected)}/members/${encodeURIComponent(m.login)}/${m.position}`);
        flash(`已解除 ${m.login} 的${label(POSITION_NAMES, m.position)}职务`, 'success');
        renderStaff();
      } catch (error) {
        flash(explain(error), 'error');
      }
    });
    return h('tr', {}, h('td', {}, m.login), h('td', {}, label(POSITION_NAMES, m.position)),
      h('td', {}, m.rank ? label(RANKS, m.rank) : '—'), h('td', {}, remove));
  }) : emptyRow(4, '本单位尚无人员'));
}

function select(code) {
  selected = code;
  fillUnitForm(units.find((u) => u.code === code) || null);
  renderTable();
  renderStaff();
}

async function load() {
  try {
    units = await get('/api/units');
  } catch (error) {
    flash(explain(error), 'error');
  }
  renderTable();
  fillUnitForm(units.find((u) => u.code === selected) || null);
}

unitForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = {
    name: unitForm.name.value.trim(), level: unitForm.level.value, kind: unitForm.kind.value,
    parent: unitForm.parent.value || null, reviewOrgan: unitForm.reviewOrgan.value || null,
  };
  try {
    if (selected) {
      await api('PUT', `/api/units/${encodeURIComponent(selected)}`, body);
      flash('单位已保存', 'success');
    } else {
      const created = await post('/api/units', { code: unitForm.code.value.trim(), ...body });
      selected = created.code;
      flash('单位已新增', 'success');
    }
    await load();
    renderStaff();
  } catch (error) {
    flash(explain(error), 'error');
  }
});

$('#new-unit').addEventListener('click', () => select(null));

memberForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = { login: memberForm.login.value.trim(), position: memberForm.position.value,
    rank: memberForm.rank.value ? Number(memberForm.rank.value) : null };
  try {
    await post(`/api/units/${encodeURIComponent(selected)}/members`, body);
    flash(`已为 ${body.login} 设置职务`, 'success');
    memberForm.reset();
    renderStaff();
  } catch (error) {
    flash(explain(error), 'error');
  }
});

options(unitForm.level, Object.entries(LEVEL_NAMES));
options(unitForm.kind, Object.entries(KIND_NAMES));
options(memberForm.position, Object.entries(POSITION_NAMES));
options(memberForm.rank, Object.entries(RANKS), '（非领导职务）');
load();
