// dom: building elements without innerHTML (text is always text: nothing from the API is parsed
// as markup), and the status line read out by screen readers.
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function say(text, kind = 'info') {
  const s = document.getElementById('status');
  s.textContent = text;
  s.dataset.kind = kind;
}

// A data table: caption, column headings (th scope=col), rows of cells. A row is
// {id, cells: [[text, class], ...]}; the first cell is the row's heading (th scope=row).
export function table(id, caption, headings, rows) {
  return el('table', { id, class: 'data' },
    el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, headings.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.map((r) => el('tr', { id: r.id || null },
      r.cells.map(([text, cls], i) => (i === 0
        ? el('th', { scope: 'row', class: cls || null }, text)
        : el('td', { class: cls || null }, text)))))));
}

// The value of a JSON member, or '' when the API does not give it (the API may grow or differ).
export function pick(obj, ...path) {
  let v = obj;
  for (const k of path) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    v = v[k];
  }
  return v;
}
