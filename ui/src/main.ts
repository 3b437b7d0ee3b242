// PrintScout's web UI: boot, the shell (skip link, header with the engine's
// state, navigation) and the hash router (#/printers, #/printers/<id>,
// #/add, #/networks, #/sync, #/settings).
//
// Invariants: one screen is mounted at a time and its cleanup runs before
// the next mounts (timers, live listeners); after navigation focus moves to
// the screen's <h1>; without a token (browser) only the sign-in screen shows.

import './locale';
import './style.css';
import { api, errorText, hasToken, initApi, inTauri, onSignedOut, signOut } from './api';
import { h, fill, parseTime, relative } from './dom';
import { loadThresholds } from './components';
import { onEvent, onLiveState, startLive, stopLive, type LiveState } from './live';
import type { Status } from './types';
import { printersScreen } from './screens/printers';
import { printerScreen } from './screens/printer';
import { addScreen } from './screens/add';
import { networksScreen } from './screens/networks';
import { syncScreen } from './screens/sync';
import { settingsScreen } from './screens/settings';
import { signInScreen } from './screens/signin';

export type Cleanup = (() => void) | void;
export type Screen = (root: HTMLElement, params: string[]) => Cleanup;

const app = document.getElementById('app') as HTMLElement;
let cleanup: Cleanup;
let shellCleanup: Array<() => void> = [];
let main: HTMLElement | null = null;
let navLinks: HTMLAnchorElement[] = [];

const ROUTES: Array<[RegExp, Screen, string]> = [
  [/^\/printers\/?$/, printersScreen, '#/printers'],
  [/^\/printers\/(\d+)\/?$/, printerScreen, '#/printers'],
  [/^\/add\/?$/, addScreen, '#/add'],
  [/^\/networks\/?$/, networksScreen, '#/networks'],
  [/^\/sync\/?$/, syncScreen, '#/sync'],
  [/^\/settings\/?$/, settingsScreen, '#/settings'],
];

function route(): void {
  if (!main) return;
  const hash = location.hash;
  if (hash === '#main') return; // the skip link (handled in its click)
  const path = hash.startsWith('#/') ? hash.slice(1) : '/printers';
  let found: [Screen, string[], string] | null = null;
  for (const [re, screen, nav] of ROUTES) {
    const m = re.exec(path);
    if (m) { found = [screen, m.slice(1), nav]; break; }
  }
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  const root = h('div', { class: 'screen' });
  fill(main, root);
  for (const a of navLinks) {
    if (found && a.getAttribute('href') === found[2]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!found) {
    document.title = 'Not found — PrintScout';
    fill(root, h('h1', { tabindex: '-1' }, 'Page not found'), h('p', null, 'There is no page at this address. ', h('a', { href: '#/printers' }, 'Go to the start page'), '.'));
  } else {
    cleanup = found[0](root, found[1]);
  }
  const h1 = root.querySelector('h1');
  if (h1) {
    document.title = `${h1.textContent ?? ''} — PrintScout`;
    if (navigatedByUser) h1.focus({ preventScroll: true });
  }
  navigatedByUser = true;
  window.scrollTo(0, 0);
}
let navigatedByUser = false;

function engineHeader(): HTMLElement {
  const text = h('span', { class: 'engine-text' }, 'Loading the engine state…');
  const liveEl = h('span', { class: 'live-state' }, 'Connecting to the event stream…');
  const button = h('button', { type: 'button', class: 'secondary small', hidden: true });
  let status: Status | null = null;
  let busy = false;

  const render = () => {
    if (!status) return;
    const d = status.devices;
    const e = status.engine;
    const paused = e.state === 'paused';
    const lastUp = parseTime(status.sync.last_upload);
    const sync = !status.sync.upload_configured ? 'sync off'
      : status.sync.last_error ? 'sync failing'
      : lastUp ? `synced ${relative(lastUp)}` : 'not synced yet';
    fill(text,
      h('span', { class: `engine-state state-${e.state}` }, paused ? 'Paused' : e.state === 'running' ? 'Running' : e.state),
      ' · ',
      `${d.total} printer${d.total === 1 ? '' : 's'}: `,
      h('span', { class: 'count-ok' }, `${d.ok} ok`), ', ',
      h('span', { class: d.warning ? 'count-warning' : '' }, `${d.warning} warning`), ', ',
      h('span', { class: d.error ? 'count-error' : '' }, `${d.error} error`), ', ',
      h('span', { class: d.offline ? 'count-offline' : '' }, `${d.offline} offline`),
      ' · ', sync,
    );
    button.hidden = false;
    button.textContent = paused ? 'Resume monitoring' : 'Pause monitoring';
    button.disabled = busy;
  };
  const load = async () => {
    try {
      status = await api<Status>('GET', 'status');
      render();
    } catch (e) {
      fill(text, h('span', { class: 'count-error' }, `Engine state unavailable: ${errorText(e)}`));
    }
  };
  button.addEventListener('click', async () => {
    if (!status) return;
    busy = true; render();
    try {
      status = await api<Status>('POST', status.engine.state === 'paused' ? 'engine/resume' : 'engine/pause', {});
    } catch (e) {
      fill(text, h('span', { class: 'count-error' }, errorText(e)));
    } finally { busy = false; render(); }
  });
  load();
  const every = window.setInterval(load, 15_000);
  let debounce: number | undefined;
  const offEvent = onEvent(() => { window.clearTimeout(debounce); debounce = window.setTimeout(load, 800); });
  const liveWords: Record<LiveState, string> = {
    connecting: 'Connecting to the event stream…', open: 'Live', retrying: 'Reconnecting to the event stream…', stopped: 'Not live',
  };
  const offLive = onLiveState((s) => { liveEl.textContent = liveWords[s]; liveEl.className = `live-state live-${s}`; });
  shellCleanup.push(() => { window.clearInterval(every); offEvent(); offLive(); });
  return h('div', { class: 'engine', role: 'status', 'aria-live': 'off' }, text, liveEl, button);
}

function renderShell(): void {
  const links: Array<[string, string]> = [
    ['#/printers', 'Printers'], ['#/add', 'Add a printer'], ['#/networks', 'Networks'], ['#/sync', 'Sync'], ['#/settings', 'Settings'],
  ];
  navLinks = links.map(([href, text]) => h('a', { href }, text));
  main = h('main', { id: 'main', tabindex: '-1' });
  fill(app,
    h('header', { class: 'top' },
      h('div', { class: 'brand-row' },
        h('a', { class: 'brand', href: '#/printers', 'aria-label': 'PrintScout home' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'PrintScout'),
        engineHeader(),
        inTauri() ? null : h('button', { type: 'button', class: 'link-button', onclick: () => signOut() }, 'Sign out'),
      ),
      h('nav', { 'aria-label': 'Main' }, h('ul', null, navLinks.map((a) => h('li', null, a)))),
    ),
    main,
  );
  startLive();
  loadThresholds();
  route();
}

function renderSignIn(): void {
  for (const f of shellCleanup) f();
  shellCleanup = [];
  stopLive();
  if (typeof cleanup === 'function') cleanup();
  cleanup = undefined;
  main = null;
  const root = h('main', { id: 'main', class: 'signin-main', tabindex: '-1' });
  fill(app, root);
  signInScreen(root, () => {
    renderShell();
    (document.querySelector('main h1') as HTMLElement | null)?.focus();
  });
  document.title = 'Sign in — PrintScout';
}

async function boot(): Promise<void> {
  document.getElementById('skip-link')?.addEventListener('click', (e) => {
    e.preventDefault();
    const m = document.getElementById('main');
    m?.focus();
    m?.scrollIntoView();
  });
  try {
    await initApi();
  } catch (e) {
    fill(app, h('main', { id: 'main', class: 'signin-main' },
      h('h1', null, 'PrintScout cannot start its interface'),
      h('p', null, `The desktop app did not say where its API is: ${errorText(e)}`),
      h('button', { type: 'button', onclick: () => location.reload() }, 'Retry')));
    return;
  }
  if (inTauri()) {
    try {
      const { listen } = await import('@tauri-apps/api/event');
      await listen<string>('navigate', (ev) => {
        if (typeof ev.payload === 'string' && ev.payload.startsWith('#/')) location.hash = ev.payload;
      });
    } catch { /* no event bridge: notifications cannot open pages */ }
  }
  onSignedOut(() => renderSignIn());
  window.addEventListener('hashchange', route);
  if (hasToken()) renderShell();
  else renderSignIn();
}

boot();
