// form-js in Chinese. form-js 1.23 has no translation service (bpmn-io/form-js#77, #1169): its widgets carry a
// few English words of their own, its date fields take their format from the browser's locale through
// `new Intl.DateTimeFormat('default')`, and the flatpickr calendar it bundles starts in English. This module
// gives each of those its Chinese: the calendar through flatpickr's own zh locale (node_modules, served as a
// vendor file), the date format through the one Intl call form-js makes for it, and the widget words by
// translating them where form-js puts them into the page. Data keep ISO dates: only the display changes.

// What form-js 1.23 writes itself (components/form-fields), as text, placeholder, title or aria-label.
const WORDS = {
  Select: '请选择',
  Search: '搜索',
  'No results': '无匹配项',
  'All values selected': '已全部选择',
  'Remove tag': '移除',
  'Skip to search': '跳到搜索',
  Browse: '选择文件',
  'No files selected': '未选择文件',
  'Nothing to show.': '暂无内容',
  'Next page': '下一页',
  'Previous page': '上一页',
  Increment: '增加',
  Decrement: '减少',
  'hh:mm': '时:分',
  'hh:mm --': '时:分',
  'This is an image placeholder': '图片',
  'Powered by bpmn.io': '由 bpmn.io 提供',
};
// The readable format form-js derives from our date format (yyyy年mm月dd日) is no sentence for a reader.
const DATE_PLACEHOLDER = /^y+年m+月d+日$/;
const DATE_HINT = '选择或输入日期';
const ATTRIBUTES = ['placeholder', 'title', 'aria-label'];

function chinese(text) {
  if (Object.hasOwn(WORDS, text)) return WORDS[text];
  if (DATE_PLACEHOLDER.test(text)) return DATE_HINT;
  return null;
}

function translateNode(node) {
  if (node.nodeType === Node.TEXT_NODE) {
    const said = chinese(node.data.trim());
    if (said !== null) node.data = said;
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  for (const name of ATTRIBUTES) {
    const value = node.getAttribute(name);
    const said = value === null ? null : chinese(value);
    if (said !== null) node.setAttribute(name, said);
  }
  for (const child of node.childNodes) translateNode(child);
}

// A date typed the way officials write it (2026-11-2, 2026/11/02, 2026.11.2, 2026年11月2日) in the one format
// the calendar reads, before the calendar or form-js looks at it (capture phase, on leaving or on Enter).
const TYPED_DATE = /^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*$/;

function normaliseTypedDate(event) {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.closest('.fjs-datepicker')) return;
  if (event.type === 'keydown' && event.key !== 'Enter') return;
  const match = input.value.match(TYPED_DATE);
  if (match) input.value = `${match[1]}年${match[2].padStart(2, '0')}月${match[3].padStart(2, '0')}日`;
}

/** Keep everything form-js renders into ``container`` in Chinese, now and after every re-render. */
export function translateForm(container) {
  container.addEventListener('keydown', normaliseTypedDate, true);
  container.addEventListener('blur', normaliseTypedDate, true);
  translateNode(container);
  // A translated word is no key of WORDS, so the observer's own changes end the chain at once.
  new MutationObserver((records) => {
    for (const record of records) {
      if (record.type === 'childList') record.addedNodes.forEach(translateNode);
      else translateNode(record.target);
    }
  }).observe(container, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ATTRIBUTES });
}

let installed = false;

/** Dates as 2026年01月31日 with a Chinese calendar (weeks from Monday), for every form made after this call. */
export function installChineseDates() {
  if (installed) return;
  installed = true;
  const picker = window.flatpickr;
  if (picker && picker.l10ns && picker.l10ns.zh) {
    // flatpickr's zh leaves the labels for readers in English (Month, Year, Hour, Minute).
    picker.localize({
      ...picker.l10ns.zh, firstDayOfWeek: 1,
      monthAriaLabel: '月', yearAriaLabel: '年', hourAriaLabel: '时', minuteAriaLabel: '分', amPM: ['上午', '下午'],
    });
    picker.setDefaults({ ariaDateFormat: 'Y年n月j日' });
  }
  const Native = Intl.DateTimeFormat;
  const local = new Native('zh-CN', { year: 'numeric', month: '2-digit', day: '2-digit' });
  const parts = (date) => {
    const p = Object.fromEntries(Native.prototype.formatToParts.call(local, date).map((part) => [part.type, part.value]));
    return [
      { type: 'year', value: p.year }, { type: 'literal', value: '年' },
      { type: 'month', value: p.month }, { type: 'literal', value: '月' },
      { type: 'day', value: p.day }, { type: 'literal', value: '日' },
    ];
  };
  // `format` is a getter of the prototype: own properties shadow both methods on this one formatter.
  Object.defineProperty(local, 'formatToParts', { value: parts });
  Object.defineProperty(local, 'format', { value: (date) => parts(date).map((part) => part.value).join('') });
  // form-js asks `new Intl.DateTimeFormat('default')` (no options) for the order and padding of a date; every
  // other call, with a locale or options (ours, luxon's), reaches the browser's own formatter unchanged.
  function DateTimeFormat(locales, options) {
    if ((locales === undefined || locales === 'default') && options === undefined) return local;
    return new Native(locales, options);
  }
  DateTimeFormat.prototype = Native.prototype;
  DateTimeFormat.supportedLocalesOf = Native.supportedLocalesOf.bind(Native);
  Intl.DateTimeFormat = DateTimeFormat;
}
