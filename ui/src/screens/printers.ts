// Printers: every monitored printer in a table (cards under 640 px) with a
// filter box and sortable columns; rows link to the printer page. A 3D
// printer shows its state word (and its job's progress while printing) where
// office printers show supply bars. Reloads on the event stream (debounced)
// and every 60 s.

import { api } from '../api';
import { errorBox, fabBadge, fabWord, heading, progressBar, statusBadge, supplyBar, waiting } from '../components';
import { h, fill, num, parseTime, timeEl, type Child } from '../dom';
import { onEvent, onResync } from '../live';
import type { PrinterSummary } from '../types';
import type { Cleanup } from '../main';

type Key = 'name' | 'model' | 'address' | 'status' | 'supplies' | 'total' | 'seen';
const COLUMNS: Array<[Key, string]> = [
  ['name', 'Name'], ['model', 'Model'], ['address', 'Address'], ['status', 'Status'],
  ['supplies', 'Supplies'], ['total', 'Total pages'], ['seen', 'Last seen'],
];
const STATUS_ORDER: Record<string, number> = { error: 0, offline: 1, warning: 2, unknown: 3, ok: 4 };

// Kept across visits to the screen.
let filterText = '';
let sortKey: Key = 'name';
let sortAsc = true;

function minSupply(p: PrinterSummary): number {
  let m = 101;
  for (const s of p.supplies) if (typeof s.percent === 'number' && !/waste/i.test(s.kind ?? '')) m = Math.min(m, s.percent);
  return m;
}

function sortValue(p: PrinterSummary, k: Key): string | number {
  switch (k) {
    case 'name': return p.display_name.toLowerCase();
    case 'model': return `${p.vendor ?? ''} ${p.model ?? ''}`.toLowerCase();
    case 'address': return addressKey(p.address);
    case 'status': return STATUS_ORDER[p.offline ? 'offline' : p.status] ?? 5;
    case 'supplies': return minSupply(p);
    case 'total': return p.total_pages ?? -1;
    case 'seen': return parseTime(p.last_seen)?.getTime() ?? 0;
  }
}

function addressKey(a: string | null | undefined): string {
  if (!a) return '~';
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?::(\d+))?$/.exec(a);
  if (!m) return a.toLowerCase();
  return m.slice(1, 5).map((x) => x.padStart(3, '0')).join('.') + ':' + (m[5] ?? '').padStart(5, '0');
}

function matches(p: PrinterSummary, q: string): boolean {
  if (!q) return true;
  const hay = [p.display_name, p.name, p.model, p.vendor, p.address, p.added_as, p.serial, p.location, p.mac, p.status, p.offline ? 'offline' : '',
    p.protocol, p.fab ? `3d ${p.fab.state} ${fabWord(p.fab.state)} ${p.fab.state_text ?? ''} ${p.fab.job?.name ?? ''}` : '']
    .filter(Boolean).join(' ').toLowerCase();
  return q.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

export function printersScreen(root: HTMLElement): Cleanup {
  let printers: PrinterSummary[] | null = null;
  let loadError: unknown = null;
  const body = h('div', { class: 'printers-body' }, waiting('Loading printers…'));
  const count = h('p', { class: 'count', role: 'status' });
  const filter = h('input', { type: 'search', id: 'printer-filter', value: filterText, placeholder: 'name, model, address, serial…', autocomplete: 'off' });
  filter.addEventListener('input', () => { filterText = filter.value; render(); });

  fill(root,
    heading('Printers', h('a', { class: 'button', href: '#/add' }, 'New printer…')),
    h('div', { class: 'toolbar' },
      h('div', { class: 'field inline' }, h('label', { for: 'printer-filter' }, 'Filter printers'), filter),
      count,
    ),
    body,
  );

  const render = () => {
    if (loadError && !printers) { fill(body, errorBox('Could not load the printers.', loadError, load)); fill(count); return; }
    if (!printers) return;
    if (printers.length === 0) {
      fill(count);
      fill(body, h('div', { class: 'empty card' },
        h('p', null, 'No printers yet.'),
        h('p', null, h('a', { href: '#/add' }, 'Add one by its address'), ', or ', h('a', { href: '#/networks' }, 'scan for them'), '.')));
      return;
    }
    const shown = printers.filter((p) => matches(p, filterText));
    shown.sort((a, b) => {
      const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
      const c = x < y ? -1 : x > y ? 1 : a.display_name.localeCompare(b.display_name);
      return sortAsc ? c : -c;
    });
    count.textContent = filterText ? `${shown.length} of ${printers.length} printers` : `${printers.length} printer${printers.length === 1 ? '' : 's'}`;
    const headRow = h('tr', null, COLUMNS.map(([k, label]) => {
      const active = k === sortKey;
      const btn = h('button', { type: 'button', class: 'sort' }, label, h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (sortAsc ? ' ▲' : ' ▼') : ''));
      btn.addEventListener('click', () => {
        if (sortKey === k) sortAsc = !sortAsc; else { sortKey = k; sortAsc = k !== 'seen' && k !== 'total'; }
        render();
      });
      return h('th', { scope: 'col', 'data-key': k, 'aria-sort': active ? (sortAsc ? 'ascending' : 'descending') : 'none' }, btn);
    }));
    const rows = shown.map((p) => h('tr', { class: `row-${p.offline ? 'offline' : p.status}` },
      cell('Name', 'name',
        h('a', { href: `#/printers/${p.id}` }, p.display_name),
        p.location ? h('span', { class: 'sub' }, p.location) : null),
      cell('Model', '', [p.vendor, p.model].filter(Boolean).join(' ') || h('span', { class: 'muted' }, 'unknown')),
      cell('Address', 'mono', p.address ?? h('span', { class: 'muted' }, 'none')),
      cell('Status', '', statusBadge(p.offline ? 'offline' : p.status),
        p.open_alerts ? h('span', { class: 'sub' }, `${p.open_alerts} open alert${p.open_alerts === 1 ? '' : 's'}`) : null,
        p.last_error ? h('span', { class: 'sub error-text' }, p.last_error) : null),
      p.fab ? cell('State', 'supplies fab-cell', fabNow(p)) : cell('Supplies', 'supplies',
        p.supplies.length ? p.supplies.map((s) => supplyBar(s, true)) : h('span', { class: 'muted' }, 'none reported')),
      cell('Total pages', 'num', num(p.total_pages)),
      cell('Last seen', '', timeEl(p.last_seen)),
    ));
    const focused = focusSelector(body);
    fill(body,
      shown.length === 0 ? h('p', { class: 'empty' }, `No printer matches “${filterText}”.`) : null,
      h('div', { class: 'table-wrap' }, h('table', { class: 'printers responsive' },
        h('caption', { class: 'visually-hidden' }, 'Printers; the column buttons sort the table'),
        h('thead', null, headRow), h('tbody', null, rows))),
    );
    if (focused) (body.querySelector(focused) as HTMLElement | null)?.focus();
  };

  let inflight = false;
  const load = async () => {
    if (inflight) return;
    inflight = true;
    if (loadError && !printers) fill(body, waiting('Loading printers…'));
    try {
      printers = await api<PrinterSummary[]>('GET', 'printers');
      loadError = null;
    } catch (e) {
      loadError = e;
    } finally { inflight = false; }
    render();
  };
  load();
  let debounce: number | undefined;
  const soon = () => { window.clearTimeout(debounce); debounce = window.setTimeout(load, 500); };
  const off1 = onEvent(soon);
  const off2 = onResync(soon);
  const every = window.setInterval(load, 60_000);
  return () => { off1(); off2(); window.clearInterval(every); window.clearTimeout(debounce); };
}

/** A selector for the focused control inside `body`, to focus it again after a re-render. */
function focusSelector(body: HTMLElement): string | null {
  const a = document.activeElement;
  if (!a || !body.contains(a)) return null;
  const th = a.closest('th[data-key]');
  if (th) return `th[data-key="${th.getAttribute('data-key')}"] button`;
  const href = a.getAttribute('href');
  if (href) return `a[href="${href}"]`;
  return null;
}

/** A 3D printer's state now: the word, the printer's own words, and the job's progress while it runs. */
function fabNow(p: PrinterSummary): Child[] {
  const f = p.fab;
  if (!f) return [];
  const inJob = f.state === 'printing' || f.state === 'paused';
  return [
    h('span', { class: 'fab-state' }, fabBadge(f.state),
      f.state_text && f.state_text.toLowerCase() !== f.state ? h('span', { class: 'sub' }, ` “${f.state_text}”`) : null),
    inJob && f.job ? progressBar(f.job.progress_percent, `Progress of ${f.job.name ?? 'the job'} on ${p.display_name}`, true) : null,
    inJob && f.job?.name ? h('span', { class: 'sub job-name' }, f.job.name) : null,
  ];
}

/** A table cell whose content is one block (so the card layout has two columns: label, content). */
function cell(label: string, cls: string, ...children: Child[]): HTMLTableCellElement {
  return h('td', { 'data-label': label, class: cls || null }, h('div', { class: 'cell' }, ...children));
}
