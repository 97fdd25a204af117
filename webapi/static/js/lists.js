// Server-side lists: one page at a time with the total over all pages (X-Total-Count), headers that sort on
// the server (th[data-sort] names the API's sort field), a pager, and the user's saved filters of a list.
import { $$, api, emptyRow, explain, flash, get, getPage, h, post, query, replace } from './common.js';

function pagerControls(state, limit, load) {
  const pages = Math.max(1, Math.ceil(state.total / limit));
  const page = Math.floor(state.offset / limit) + 1;
  return [
    h('span', { class: 'muted small', 'data-testid': 'list-total' }, `共 ${state.total} 条，第 ${page} / ${pages} 页`),
    h('button', { type: 'button', class: 'btn btn-sm', disabled: page <= 1, onclick: () => load(state.offset - limit) }, '上一页'),
    h('button', { type: 'button', class: 'btn btn-sm', disabled: page >= pages, 'data-testid': 'next-page', onclick: () => load(state.offset + limit) }, '下一页'),
  ];
}

/**
 * A list page's table fed by ``path``: the filter ``form``'s values and ``extra()`` as query parameters,
 * ``render(row)`` for each row of the page, ``columns`` for the empty row. Returns ``load(offset)`` (the rows
 * shown) and the list's state (offset, sort, total).
 */
export function pagedList({ path, form, table, pager, render, columns, empty, limit = 20, extra = () => ({}), sort = '', onLoad = null }) {
  const state = { offset: 0, sort, total: 0 };
  const body = table.tBodies[0];
  const headers = $$('th[data-sort]', table);
  function markSorted() {
    for (const th of headers) {
      th.classList.toggle('sorted-asc', state.sort === th.dataset.sort);
      th.classList.toggle('sorted-desc', state.sort === `-${th.dataset.sort}`);
    }
  }
  async function load(offset = state.offset) {
    state.offset = Math.max(0, offset);
    const params = { ...Object.fromEntries(new FormData(form).entries()), ...extra(), limit, offset: state.offset, sort: state.sort };
    try {
      const { rows, total } = await getPage(`${path}${query(params)}`);
      state.total = total;
      replace(body, rows.length ? rows.map(render) : emptyRow(columns, empty));
      replace(pager, pagerControls(state, limit, load));
      if (onLoad) onLoad(rows, state);
      return rows;
    } catch (error) {
      replace(body, emptyRow(columns, explain(error)));
      replace(pager);
      return [];
    }
  }
  for (const th of headers) {
    th.title = '点击排序';
    th.addEventListener('click', () => {
      state.sort = state.sort === th.dataset.sort ? `-${th.dataset.sort}` : th.dataset.sort;
      markSorted();
      load(0);
    });
  }
  markSorted();
  form.addEventListener('submit', (event) => { event.preventDefault(); load(0); });
  form.addEventListener('reset', () => setTimeout(() => load(0)));
  return { load, state };
}

/** Put saved ``criteria`` into the filter form (fields it does not name are emptied). */
function apply(form, criteria) {
  form.reset();
  for (const element of form.elements) {
    if (!element.name || !(element.name in criteria)) continue;
    const value = criteria[element.name];
    if (element.type === 'checkbox') element.checked = value === true || value === 'true' || value === element.value;
    else element.value = value;
  }
}

/**
 * 我的筛选 above a list (Camunda Tasklist's filters): the user's saved filters of ``list`` as buttons that
 * apply them, each with a delete button, and 保存当前筛选 that saves the form's values under a name.
 */
export async function savedFilters(box, list, form, reload) {
  async function render() {
    let filters = [];
    try {
      filters = await get(`/api/filters${query({ list })}`);
    } catch (error) {
      replace(box, h('span', { class: 'muted small' }, explain(error)));
      return;
    }
    replace(box,
      h('span', { class: 'muted small' }, '我的筛选：'),
      filters.length ? null : h('span', { class: 'muted small' }, '暂无'),
      filters.map((f) => h('span', { class: 'saved-filter', dataset: { filter: f.name } },
        h('button', { type: 'button', class: 'btn btn-sm', onclick: () => { apply(form, f.criteria); reload(); } }, f.name),
        h('button', {
          type: 'button', class: 'btn btn-sm', title: `删除筛选“${f.name}”`, 'aria-label': `删除筛选“${f.name}”`,
          onclick: async () => {
            try { await api('DELETE', `/api/filters/${f.id}`); flash(`已删除筛选：${f.name}`, 'info'); } catch (error) { flash(explain(error), 'error'); }
            render();
          },
        }, '×'))),
      h('button', {
        type: 'button', class: 'btn btn-sm', 'data-testid': 'save-filter',
        onclick: async () => {
          const name = (window.prompt('为当前筛选条件命名（如：本周超期）') || '').trim();
          if (!name) return;
          const criteria = Object.fromEntries([...new FormData(form).entries()].filter(([, v]) => v !== ''));
          try {
            await post('/api/filters', { list, name, criteria });
            flash(`已保存筛选：${name}`, 'success');
          } catch (error) { flash(explain(error), 'error'); }
          render();
        },
      }, '保存当前筛选'));
  }
  await render();
}

/** The cell of a list's 当前环节 column: where a case stands, innermost first (调查核实 over 调查核实并出具处理意见). */
export function stepsCell(steps, waiting = '—') {
  if (!steps || !steps.length) return waiting;
  return steps.map((s) => h('div', { class: 'step', dataset: { element: s.elementId } },
    h('span', { class: 'step-name' }, s.name), ' ',
    h('span', { class: 'muted small' }, s.processName)));
}
