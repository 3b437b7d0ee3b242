// Pieces the screens share: supply bars, status badges, "waiting for…"
// and "error, retry" blocks, and the thresholds cache.

import { api, errorText } from './api';
import { h, type Child } from './dom';
import type { SettingsView, SupplyBar } from './types';

const COLOURS: Record<string, string> = {
  cyan: '#00a6d6',
  magenta: '#d1168a',
  yellow: '#f0c400',
  black: '#1f1f1f',
};
const GREY = '#8a9099';

/** The CSS colour for a supply (cyan, magenta, yellow, black; other → grey). */
export function supplyColour(c: string | null | undefined): string {
  return (c && COLOURS[c.toLowerCase()]) || GREY;
}

let lowPercent = 20;
let thresholdsLoaded = false;
/** The supply-low threshold (from settings; 20 % until they load). */
export function supplyLow(): number { return lowPercent; }
export async function loadThresholds(force = false): Promise<void> {
  if (thresholdsLoaded && !force) return;
  try {
    const s = await api<SettingsView>('GET', 'settings');
    lowPercent = s.thresholds.supply_low_percent;
    thresholdsLoaded = true;
  } catch { /* keep the default */ }
}
export function setThresholds(s: SettingsView): void {
  lowPercent = s.thresholds.supply_low_percent;
  thresholdsLoaded = true;
}

function isReceptacle(kind: string | null | undefined): boolean {
  return !!kind && /waste|receptacle/i.test(kind);
}

/** What to write for a supply's level, never a made-up percent. */
export function supplyWords(s: SupplyBar): { text: string; pct: number | null; tone: 'ok' | 'low' | 'empty' | 'unknown' } {
  const state = (s.state ?? '').toLowerCase();
  const p = typeof s.percent === 'number' ? s.percent : null;
  if (isReceptacle(s.kind)) {
    if (state === 'full') return { text: 'full', pct: 100, tone: 'empty' };
    if (p !== null) return { text: `${Math.round(p)}% full`, pct: p, tone: p >= 90 ? 'low' : 'ok' };
  }
  if (state === 'empty') return { text: 'empty', pct: 0, tone: 'empty' };
  if (p !== null) {
    const low = p <= supplyLow();
    return { text: `${Math.round(p)}%${low ? ' (low)' : ''}`, pct: p, tone: p <= 0 ? 'empty' : low ? 'low' : 'ok' };
  }
  if (state === 'low') return { text: 'low', pct: null, tone: 'low' };
  if (state === 'ok' || state === 'some_remaining') return { text: state === 'ok' ? 'ok' : 'some left', pct: null, tone: 'ok' };
  if (state === 'not_applicable') return { text: 'not applicable', pct: null, tone: 'unknown' };
  return { text: 'unknown', pct: null, tone: 'unknown' };
}

/** One supply: its name, a bar in its colour and the level in words. */
export function supplyBar(s: SupplyBar, compact = false): HTMLElement {
  const w = supplyWords(s);
  const fillEl = h('span', { class: 'fill' });
  if (w.pct !== null) {
    fillEl.style.width = `${Math.max(0, Math.min(100, w.pct))}%`;
    fillEl.style.background = supplyColour(s.color);
  }
  const bar = h('span', { class: `bar tone-${w.tone}${w.pct === null ? ' no-level' : ''}`, 'aria-hidden': 'true' }, fillEl);
  if (s.color) bar.style.borderColor = supplyColour(s.color);
  return h('div', { class: `supply${compact ? ' compact' : ''}`, title: compact ? `${s.name}: ${w.text}` : null },
    h('span', { class: compact ? 'supply-name visually-hidden' : 'supply-name' }, s.name, compact ? ': ' : null),
    bar,
    h('span', { class: `supply-level tone-${w.tone}` }, w.text),
  );
}

const STATUS_WORDS: Record<string, string> = {
  ok: 'OK', warning: 'Warning', error: 'Error', offline: 'Offline', unknown: 'Unknown',
};
export function statusBadge(status: string): HTMLElement {
  const s = status.toLowerCase();
  return h('span', { class: `badge status-${s}` }, STATUS_WORDS[s] ?? status);
}

/** "Waiting for …" with a spinner; announced politely. */
export function waiting(text: string): HTMLElement {
  return h('p', { class: 'waiting', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** An error in words with a Retry button. */
export function errorBox(what: string, e: unknown, retry?: () => void): HTMLElement {
  return h('div', { class: 'notice error', role: 'alert' },
    h('p', null, h('strong', null, what), ' ', errorText(e)),
    retry ? h('button', { type: 'button', onclick: retry }, 'Retry') : null,
  );
}

export function notice(kind: 'ok' | 'error' | 'info' | 'warning', ...children: Child[]): HTMLElement {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

/** A `<dl>` of label → value rows, skipping empty values. */
export function facts(rows: Array<[string, Child]>): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of rows) {
    if (v === null || v === undefined || v === '') continue;
    dl.append(h('div', null, h('dt', null, k), h('dd', null, v)));
  }
  return dl;
}

/** The screen's heading; focused after navigation so keyboard and screen reader users land on it. */
export function heading(text: string, ...extra: Child[]): HTMLElement {
  return h('div', { class: 'screen-head' }, h('h1', { tabindex: '-1' }, text), ...extra);
}

// ---- 3D printers ---------------------------------------------------------

const FAB_WORDS: Record<string, string> = {
  idle: 'Idle', printing: 'Printing', paused: 'Paused', finished: 'Finished',
  error: 'Error', offline: 'Offline', maintenance: 'Maintenance',
};
const FAB_TONES: Record<string, string> = {
  idle: 'idle', printing: 'printing', paused: 'warning', finished: 'ok',
  error: 'error', offline: 'offline', maintenance: 'warning',
};

/** A 3D printer's state in words ("Printing"); a word the UI does not know is shown as it is. */
export function fabWord(state: string): string {
  return FAB_WORDS[state.toLowerCase()] ?? state;
}

/** The state as a badge, coloured by what it means. */
export function fabBadge(state: string): HTMLElement {
  const tone = FAB_TONES[state.toLowerCase()] ?? 'unknown';
  return h('span', { class: `badge fab-${tone}` }, fabWord(state));
}

/** A job's progress: a real `<progress>` labelled with the percent in text. */
export function progressBar(percent: number | null | undefined, label: string, compact = false): HTMLElement {
  if (typeof percent !== 'number' || !Number.isFinite(percent)) {
    return h('span', { class: 'muted' }, 'progress not reported');
  }
  const p = Math.max(0, Math.min(100, percent));
  const text = `${p < 10 && p % 1 ? p.toFixed(1) : Math.round(p)}%`;
  return h('div', { class: `job-progress${compact ? ' compact' : ''}` },
    h('progress', { max: 100, value: p, 'aria-label': label, title: `${label}: ${text}` }),
    h('span', { class: 'progress-text' }, text));
}

/** Seconds as "1 h 02 min", "14 min", "40 s". */
export function duration(total: number | null | undefined): string {
  if (typeof total !== 'number' || !Number.isFinite(total) || total < 0) return '—';
  const s = Math.round(total);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(hrs / 24)} days ${hrs % 24} h`;
}

/** "61.2 °C (target 60 °C)", "21 °C (off)". */
export function temperatureWords(actual: number | null | undefined, target: number | null | undefined): string {
  const t = (v: number) => `${Number.isInteger(v) ? v : v.toFixed(1)} °C`;
  const now = typeof actual === 'number' ? t(actual) : 'unknown';
  if (typeof target !== 'number') return now;
  return target === 0 ? `${now} (off)` : `${now} (target ${t(target)})`;
}
