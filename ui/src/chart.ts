// Charts of a printer's history with uPlot: counters over time and supply
// levels over time. Each chart has a text summary next to it (the canvas
// says nothing to a screen reader) and follows its container's width.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, humanKey, num } from './dom';
import { supplyColour } from './components';
import type { PrinterHistory } from './types';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#be185d'];
const PREFERRED = ['total', 'mono', 'color', 'print_total', 'copy_total', 'scan_total', 'duplex', 'fax'];

export interface ChartHandle { el: HTMLElement; destroy(): void }

function t(s: string | null | undefined): number | null {
  if (!s) return null;
  const v = Date.parse(s);
  return Number.isNaN(v) ? null : v / 1000;
}

/** The x range: the readings' span, or an hour either side of a single reading. */
function xRange(u: uPlot, min: number, max: number): uPlot.Range.MinMax {
  // From the data itself: with a single point uPlot hands over a min and max
  // that are not the reading's time (the axis spanned years).
  const xs = (u.data?.[0] ?? []) as number[];
  const lo = xs.length ? xs[0] : min;
  const hi = xs.length ? xs[xs.length - 1] : max;
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [Date.now() / 1000 - 3600, Date.now() / 1000];
  return lo === hi ? [lo - 3600, hi + 3600] : [lo, hi];
}

function mount(container: HTMLElement, opts: Omit<uPlot.Options, 'width' | 'height'>, data: uPlot.AlignedData): () => void {
  let plot: uPlot | null = null;
  const width = () => Math.max(260, Math.floor(container.clientWidth || 600));
  const make = () => {
    plot = new uPlot({ ...opts, width: width(), height: 240 } as uPlot.Options, data, container);
  };
  // The container has its width only once it is in the document.
  const ro = new ResizeObserver(() => {
    if (!container.isConnected) return;
    if (!plot) make();
    else if (Math.abs(plot.width - width()) > 2) plot.setSize({ width: width(), height: 240 });
  });
  ro.observe(container);
  return () => { ro.disconnect(); plot?.destroy(); plot = null; };
}

/** Page counters over time (at most eight, the totals first). */
export function countersChart(hist: PrinterHistory): ChartHandle {
  const points = hist.counters.filter((p) => t(p.at) !== null);
  const names = new Set<string>();
  for (const p of points) for (const k of Object.keys(p.counters)) names.add(k);
  const keys = [...names].sort((a, b) => {
    const ia = PREFERRED.indexOf(a), ib = PREFERRED.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  }).slice(0, 8);
  if (points.length === 0 || keys.length === 0) {
    return { el: h('p', { class: 'muted' }, 'No counters recorded in this period yet.'), destroy() {} };
  }
  const xs = points.map((p) => t(p.at) as number);
  const data: uPlot.AlignedData = [xs, ...keys.map((k) => points.map((p) => p.counters[k] ?? null))];
  const few = points.length < 3;
  const box = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const first = points[0].counters, last = points[points.length - 1].counters;
  const summary = h('ul', { class: 'chart-summary' }, keys.map((k) => {
    const a = first[k], b = last[k];
    const delta = typeof a === 'number' && typeof b === 'number' && points.length > 1 ? ` (${b - a >= 0 ? '+' : ''}${num(b - a)})` : '';
    return h('li', null, `${humanKey(k)}: ${num(b ?? null)}${delta}`);
  }));
  const destroy = mount(box, {
    title: undefined,
    scales: { x: { time: true, range: xRange } },
    series: [{}, ...keys.map((k, i) => ({
      label: humanKey(k), stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
      points: { show: few, size: 7 }, value: (_u: uPlot, v: number | null) => (v === null ? '—' : num(v)),
    }))],
    axes: [{}, { size: 70, values: (_u: uPlot, vals: number[]) => vals.map((v) => num(v)) }],
  }, data);
  return {
    el: h('div', { class: 'chart-block' }, box,
      h('p', { class: 'visually-hidden' }, `Latest counters over ${points.length} reading${points.length === 1 ? '' : 's'}:`), summary,
      few ? h('p', { class: 'hint' }, `Only ${points.length} reading${points.length === 1 ? '' : 's'} so far; the lines fill in with each full read.`) : null),
    destroy,
  };
}

/** Supply levels (percent) over time, each in its colour. */
export function suppliesChart(hist: PrinterHistory): ChartHandle {
  const points = hist.supplies.filter((p) => t(p.at) !== null);
  const names: Array<{ name: string; color: string | null | undefined; kind: string | null | undefined }> = [];
  for (const p of points) for (const s of p.supplies) if (!names.find((n) => n.name === s.name)) names.push({ name: s.name, color: s.color, kind: s.kind });
  const withLevels = names.filter((n) => points.some((p) => p.supplies.some((s) => s.name === n.name && typeof s.percent === 'number')));
  if (points.length === 0 || withLevels.length === 0) {
    return { el: h('p', { class: 'muted' }, 'No supply levels recorded in this period (the printer may not report them in percent).'), destroy() {} };
  }
  const xs = points.map((p) => t(p.at) as number);
  const data: uPlot.AlignedData = [xs, ...withLevels.map((n) => points.map((p) => {
    const s = p.supplies.find((x) => x.name === n.name);
    return s && typeof s.percent === 'number' ? s.percent : null;
  }))];
  const few = points.length < 3;
  const seen = new Map<string, number>();
  const series = withLevels.map((n) => {
    const colour = supplyColour(n.color);
    const i = seen.get(colour) ?? 0;
    seen.set(colour, i + 1);
    return {
      label: n.name, stroke: colour, width: 2, spanGaps: true, dash: i === 0 ? undefined : [6, 4],
      points: { show: few, size: 7 }, value: (_u: uPlot, v: number | null) => (v === null ? '—' : `${Math.round(v)}%`),
    };
  });
  const box = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const lastP = points[points.length - 1];
  const summary = h('ul', { class: 'chart-summary' }, withLevels.map((n) => {
    const s = lastP.supplies.find((x) => x.name === n.name);
    return h('li', null, `${n.name}: ${s && typeof s.percent === 'number' ? `${Math.round(s.percent)}%` : s?.state ?? 'unknown'}`);
  }));
  const destroy = mount(box, {
    scales: { x: { time: true, range: xRange }, y: { range: [0, 100] } },
    series: [{}, ...series],
    axes: [{}, { size: 50, values: (_u: uPlot, vals: number[]) => vals.map((v) => `${v}%`) }],
  }, data);
  return {
    el: h('div', { class: 'chart-block' }, box, h('p', { class: 'visually-hidden' }, 'Latest supply levels:'), summary,
      few ? h('p', { class: 'hint' }, `Only ${points.length} reading${points.length === 1 ? '' : 's'} so far; the lines fill in with each full read.`) : null),
    destroy,
  };
}
