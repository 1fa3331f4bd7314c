/** A child of {@link el}: a node, text, or nothing. */
export type Child = Node | string | number | undefined | null | false;

/** Builds an element: `el('td', { class: 'num' }, '42')`. Text is always set as text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Readonly<Record<string, string | boolean | undefined>> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? '' : value);
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

/** The element with this id; a missing one is a bug of the page, so it throws. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Node, ...children: Child[]): void {
  while (parent.firstChild !== null) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** A table body's rows, or one row saying there is nothing. */
export function fillRows(
  body: HTMLTableSectionElement,
  rows: readonly HTMLTableRowElement[],
  columns: number,
  empty: string,
): void {
  replaceChildren(
    body,
    ...(rows.length > 0
      ? rows
      : [el('tr', {}, el('td', { class: 'empty', colspan: String(columns) }, empty))]),
  );
}

/** True when the key press is meant for a text field, not a shortcut. */
export function isTyping(event: KeyboardEvent): boolean {
  const target = event.target as HTMLElement | null;
  if (target === null) return false;
  const tag = target.tagName;
  return (
    target.isContentEditable ||
    tag === 'TEXTAREA' ||
    tag === 'SELECT' ||
    (tag === 'INPUT' && (target as HTMLInputElement).type !== 'checkbox')
  );
}
