// Live updates: `GET /api/v1/events/stream` read with fetch + a streaming
// Server-Sent Events parser (EventSource cannot send the Authorization
// header), dispatched to the screens.
//
// Invariants:
// - one stream per page; it reconnects with capped exponential backoff and
//   full jitter (1 s … 30 s), and after a reconnect fetches
//   `GET /events?after=<last id>` so no stored event is missed;
// - after a reconnect or a `lagged` event, `resync` listeners run so
//   screens reload what they show;
// - a 401 stops it (the API client then shows sign-in).

import { api, ApiError, openStream } from './api';
import type { EventItem, ScanView } from './types';

export type LiveState = 'connecting' | 'open' | 'retrying' | 'stopped';

type Listener<T> = (v: T) => void;
const eventListeners = new Set<Listener<EventItem>>();
const scanListeners = new Set<Listener<ScanView>>();
const resyncListeners = new Set<() => void>();
const stateListeners = new Set<Listener<LiveState>>();

let state: LiveState = 'stopped';
let lastId: number | null = null;
let controller: AbortController | null = null;
let attempt = 0;
let timer: number | undefined;

export function liveState(): LiveState { return state; }

function setState(s: LiveState): void {
  state = s;
  for (const f of stateListeners) f(s);
}

export function onEvent(f: Listener<EventItem>): () => void { eventListeners.add(f); return () => eventListeners.delete(f); }
export function onScan(f: Listener<ScanView>): () => void { scanListeners.add(f); return () => scanListeners.delete(f); }
export function onResync(f: () => void): () => void { resyncListeners.add(f); return () => resyncListeners.delete(f); }
export function onLiveState(f: Listener<LiveState>): () => void { stateListeners.add(f); return () => stateListeners.delete(f); }

function emitEvent(e: EventItem): void {
  if (lastId !== null && e.id <= lastId) return;
  lastId = e.id;
  for (const f of eventListeners) f(e);
}

function resync(): void {
  for (const f of resyncListeners) f();
}

export function startLive(): void {
  if (controller) return;
  attempt = 0;
  connect(false);
}

export function stopLive(): void {
  controller?.abort();
  controller = null;
  window.clearTimeout(timer);
  setState('stopped');
}

async function catchUp(): Promise<void> {
  if (lastId === null) return;
  for (let page = 0; page < 20; page++) {
    const items = await api<EventItem[]>('GET', `events?after=${lastId}&limit=500`);
    for (const e of items) emitEvent(e);
    if (items.length < 500) break;
  }
}

async function connect(reconnecting: boolean): Promise<void> {
  const ctl = new AbortController();
  controller = ctl;
  setState(reconnecting ? 'retrying' : 'connecting');
  try {
    const res = await openStream(ctl.signal);
    if (!res.body) throw new ApiError(0, 'no_stream', 'this browser cannot read a stream');
    setState('open');
    attempt = 0;
    if (reconnecting) {
      await catchUp().catch(() => undefined);
      resync();
    }
    await read(res.body, ctl.signal);
  } catch (e) {
    if (ctl.signal.aborted) return;
    if (e instanceof ApiError && e.status === 401) { stopLive(); return; }
  }
  if (ctl.signal.aborted || controller !== ctl) return;
  // The stream ended or failed: try again after a backoff with full jitter.
  attempt += 1;
  const cap = Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
  const delay = 500 + Math.random() * cap;
  setState('retrying');
  timer = window.setTimeout(() => { if (controller === ctl) connect(true); }, delay);
}

/** Reads `text/event-stream` from `body` until it ends. */
async function read(body: ReadableStream<Uint8Array>, signal: AbortSignal): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  let event = '';
  let data: string[] = [];
  let id = '';
  const dispatch = () => {
    if (data.length === 0) { event = ''; return; }
    const kind = event || 'message';
    const text = data.join('\n');
    event = ''; data = [];
    handle(kind, text, id);
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) break;
      buf += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') { dispatch(); continue; }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const name = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (name === 'event') event = val;
        else if (name === 'data') data.push(val);
        else if (name === 'id') id = val;
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function handle(kind: string, text: string, _id: string): void {
  let payload: unknown;
  try { payload = JSON.parse(text); } catch { return; }
  if (kind === 'scan') {
    for (const f of scanListeners) f(payload as ScanView);
  } else if (kind === 'lagged') {
    catchUp().catch(() => undefined).finally(resync);
  } else if (payload && typeof payload === 'object' && 'id' in payload) {
    emitEvent(payload as EventItem);
  }
}
