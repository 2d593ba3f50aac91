// Small DOM helpers for the view modules: writes happen only when something changed.

export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

export function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export function span(doc, className) {
  const el = doc.createElement('span');
  el.className = className;
  return el;
}
