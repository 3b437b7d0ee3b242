// DOM helpers: a tiny element builder (no framework, no innerHTML with data,
// so nothing the API returns is ever parsed as HTML) and the formatters every
// screen shares (times, numbers, words for codes).

import { LOCALE } from './locale';
export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (ev: any) => void;
export type Attrs = Record<string, string | number | boolean | null | undefined | Handler>;

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'indeterminate', 'max', 'multiple', 'readOnly', 'required']);

/** Builds an element: `h('button', {type: 'button', onclick: f}, 'Save')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') {
        el.addEventListener(k.slice(2), v as EventListener);
      } else if (PROPS.has(k)) {
        (el as any)[k] = v;
      } else if (k === 'class') {
        el.className = String(v);
      } else if (k === 'for') {
        (el as HTMLLabelElement).htmlFor = String(v);
      } else {
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let uid = 0;
/** A unique element id with a readable prefix. */
export function nextId(prefix: string): string {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field: label, control, optional hint and an error slot. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: Child): HTMLDivElement {
  if (!control.id) control.id = nextId('f');
  const hintId = `${control.id}-hint`;
  const errId = `${control.id}-error`;
  const describedBy = [hint ? hintId : '', errId].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', describedBy);
  return h('div', { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('p', { class: 'field-error', id: errId, hidden: true }),
  );
}

/** A checkbox with its label after it. */
export function checkbox(label: string, input: HTMLInputElement, hint?: string): HTMLDivElement {
  input.type = 'checkbox';
  if (!input.id) input.id = nextId('c');
  return h('div', { class: 'check' }, input, h('label', { for: input.id }, label), hint ? h('span', { class: 'hint' }, ' ', hint) : null);
}

/** Marks the field that holds `control` as invalid with `message` (or clears it). */
export function setFieldError(control: Element, message: string | null): void {
  const err = document.getElementById(`${control.id}-error`);
  if (message) {
    control.setAttribute('aria-invalid', 'true');
    if (err) { err.textContent = message; err.hidden = false; }
  } else {
    control.removeAttribute('aria-invalid');
    if (err) { err.textContent = ''; err.hidden = true; }
  }
}

// ---- formatting ----------------------------------------------------------

const nf = new Intl.NumberFormat(LOCALE);
export function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : nf.format(n);
}

export function parseTime(s: string | null | undefined): Date | null {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "3 min ago", "in 2 h", "just now". */
export function relative(d: Date, now = Date.now()): string {
  const s = Math.round((d.getTime() - now) / 1000);
  const a = Math.abs(s);
  const fmt = (v: number, u: string) => (s < 0 ? `${v} ${u} ago` : `in ${v} ${u}`);
  if (a < 45) return 'just now';
  if (a < 3600) return fmt(Math.round(a / 60), 'min');
  if (a < 86400 * 2) return fmt(Math.round(a / 3600), 'h');
  return fmt(Math.round(a / 86400), 'days');
}

export function absolute(d: Date): string {
  return d.toLocaleString(LOCALE, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A `<time>` showing the relative time, the absolute one on hover. */
export function timeEl(s: string | null | undefined, never = 'never'): HTMLElement {
  const d = parseTime(s);
  if (!d) return h('span', { class: 'muted' }, never);
  return h('time', { datetime: d.toISOString(), title: absolute(d) }, relative(d));
}

export function seconds(total: number | null | undefined): string {
  if (total === null || total === undefined) return '—';
  if (total < 90) return `${total} s`;
  if (total < 5400) return `${Math.round(total / 60)} min`;
  if (total < 86400 * 2) return `${Math.round(total / 3600)} h`;
  return `${Math.round(total / 86400)} days`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** "pages_color" → "Pages color". */
export function humanKey(k: string): string {
  const s = k.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}
