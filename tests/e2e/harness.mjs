//! The browser tests' harness: starts the SNMP lab and upload receiver
//! (`target/debug/printscout-e2e-lab`), the real service (`target/debug/printscout run
//! --data-dir <tmp> --api-port 0 --ui-dir ui/dist`) and headless Chromium
//! (`/usr/bin/chromium` through playwright-core), and stops all of them.
//!
//! Invariants:
//! - **Stopped by PID.** Every process is one we spawned; each test registers its
//!   cleanup with `t.after` (runs on failure too), and a process `exit` hook SIGKILLs
//!   whatever is still registered should the test runner itself end early. Nothing is
//!   ever found or killed by name.
//! - **Loopback only.** The lab listens on 127.0.93.0/24 and 127.0.0.1; the service is
//!   configured with broadcast, DNS-SD and local print queues off, no rediscovery
//!   networks and no proxy; the browser resolves no name but localhost and gets no
//!   proxy; and `guardNetwork` aborts (and records) any request from the page that would
//!   make the service send packets elsewhere: `POST /networks/gateway` (asks the real
//!   gateway), and a scan, network selection or printer address outside 127.0.0.0/8.
//! - **Temp only.** The data directory, the service's log and the browser profile live in
//!   a per-test temp dir removed at the end; only screenshots are written to the tree.

import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'target', 'debug');
export const UI_DIR = process.env.PRINTSCOUT_E2E_UI_DIR || join(ROOT, 'ui', 'dist');
export const SCREENSHOTS = join(ROOT, 'tests', 'e2e', 'screenshots');
export const CHROMIUM = process.env.PRINTSCOUT_CHROMIUM || '/usr/bin/chromium';

/** Environment variables that would send the service or the browser through a proxy. */
const PROXY_VARS = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY',
  'http_proxy', 'https_proxy', 'all_proxy', 'no_proxy'];

/** With `PRINTSCOUT_E2E_TRACE=1`: timings on stderr. */
export function trace(text) {
  if (process.env.PRINTSCOUT_E2E_TRACE) console.error(`e2e: ${text}`);
}

// ---------------------------------------------------------------------------
// Processes stopped by PID

/** PIDs still to stop if the runner exits before a test's cleanup ran. */
const live = new Set();
function killAllLive() {
  for (const pid of live) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
  live.clear();
}
process.on('exit', killAllLive);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(signal, () => {
    killAllLive();
    process.exit(128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1 })[signal]);
  });
}

function alive(pid) {
  try {
    // A zombie still answers kill(0): look at its state.
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

/** SIGTERM (or `signal`), wait up to `graceMs`, then SIGKILL; by PID only. */
export async function stopPid(pid, { signal = 'SIGTERM', graceMs = 3000 } = {}) {
  if (!pid) return;
  try { process.kill(pid, signal); } catch { live.delete(pid); return; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(50);
  if (alive(pid)) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    const hard = Date.now() + 2000;
    while (alive(pid) && Date.now() < hard) await sleep(50);
  }
  live.delete(pid);
}

function track(child) {
  live.add(child.pid);
  child.once('exit', () => live.delete(child.pid));
  return child;
}

function cleanEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const v of PROXY_VARS) delete env[v];
  return env;
}

// ---------------------------------------------------------------------------
// The lab

/**
 * Starts `printscout-e2e-lab` (snmpsim agents on the /29 at `base`, one per recording,
 * and the HTTPS upload receiver) and resolves with its manifest plus `command(line)`
 * and `stop()`.
 */
export async function startLab({ base = '127.0.93.0', community = 'e2e-lab', recordings, fab } = {}) {
  const args = ['--base', base, '--community', community];
  if (recordings) args.push('--recordings', recordings.join(','));
  // `fab: 'prusalink'`: also a 3D printer (manifest `fab`: url, key, job, serial).
  if (fab) args.push('--fab', fab);
  const child = track(spawn(join(BIN, 'printscout-e2e-lab'), args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: cleanEnv(),
  }));
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: child.stdout });
  const queue = [];
  const waiters = [];
  lines.on('line', (line) => {
    const w = waiters.shift();
    if (w) w.resolve(line); else queue.push(line);
  });
  const exited = new Promise((res) => child.once('exit', (code, sig) => res({ code, sig })));
  const nextLine = (what, ms) => new Promise((res, rej) => {
    if (queue.length) return res(queue.shift());
    const timer = setTimeout(() => rej(new Error(`the lab did not answer ${what} within ${ms} ms\n${stderr}`)), ms);
    const w = { resolve: (l) => { clearTimeout(timer); res(l); } };
    waiters.push(w);
    exited.then(({ code, sig }) => {
      clearTimeout(timer);
      rej(new Error(`the lab exited (${code ?? sig}) before answering ${what}\n${stderr}`));
    });
  });
  let manifest;
  try {
    manifest = JSON.parse(await nextLine('its manifest', 90_000));
  } catch (e) {
    await stopPid(child.pid, { signal: 'SIGKILL' });
    throw e;
  }
  live.add(manifest.snmpsim_pid);
  const lab = {
    ...manifest,
    /** Sends one command line (`receiver down`…) and resolves with its answer. */
    async command(line) {
      child.stdin.write(`${line}\n`);
      const answer = await nextLine(`"${line}"`, 15_000);
      if (!answer.startsWith('ok')) throw new Error(`lab: ${line}: ${answer}`);
      return answer;
    },
    /** Closes stdin (the lab stops its peers), then makes sure both PIDs are gone. */
    async stop() {
      child.stdin.end();
      const deadline = Date.now() + 5000;
      while (alive(child.pid) && Date.now() < deadline) await sleep(50);
      await stopPid(child.pid, { signal: 'SIGKILL' });
      if (alive(manifest.snmpsim_pid)) await stopPid(manifest.snmpsim_pid, { signal: 'SIGKILL' });
      live.delete(manifest.snmpsim_pid);
    },
    stderr: () => stderr,
  };
  return lab;
}

// ---------------------------------------------------------------------------
// The service

/**
 * The configuration file of a run: the lab's SNMP port, nothing that leaves loopback,
 * the file secret store; `credentials` (profiles with their secrets) and `upload`
 * (`{url, ca_file}`) when given.
 */
export function configText(lab, { credentials = [], upload = null, statusEvery = '30s' } = {}) {
  let text = `[schedule]\nstatus_every = "${statusEvery}"\nmeters_every = "1h"\n\n`
    + `[snmp]\nport = ${lab.snmp.port}\ntimeout = "700ms"\nretries = 0\n\n`;
  for (const c of credentials) {
    text += '[[credentials]]\n';
    for (const [k, v] of Object.entries(c)) text += `${k} = ${JSON.stringify(v)}\n`;
    text += '\n';
  }
  text += '[discovery]\nnetworks = []\nbroadcast = false\ndns_sd = false\nlocal_queues = false\n\n'
    + '[proxy]\nmode = "none"\n\n'
    + '[secrets]\nstore = "file"\n\n';
  if (upload) {
    text += `[upload]\nurl = ${JSON.stringify(upload.url)}\n`
      + `ca_file = ${JSON.stringify(upload.ca_file)}\nevery = "1h"\n\n`;
  }
  return text;
}

/**
 * Starts `printscout run` over a fresh temp data directory with `config` as its
 * configuration file; `secrets` (`{name: value}`) are stored first with
 * `printscout secret set NAME --stdin`. Resolves once `api.json` names the port.
 */
export async function startService(config, { secrets = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'printscout-e2e-'));
  const data = join(dir, 'data');
  mkdirSync(data, { mode: 0o700 });
  const configFile = join(data, 'printscout.toml');
  writeFileSync(configFile, config, { mode: 0o600 });
  chmodSync(configFile, 0o600);
  const env = cleanEnv({
    PRINTSCOUT_DATA_DIR: data,
    PRINTSCOUT_CONFIG: configFile,
    PRINTSCOUT_LOG: 'info',
    NO_COLOR: '1',
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'share'),
  });
  delete env.DBUS_SESSION_BUS_ADDRESS;
  for (const [name, value] of Object.entries(secrets)) {
    execFileSync(join(BIN, 'printscout'), ['secret', 'set', name, '--stdin'], {
      input: value, env, stdio: ['pipe', 'ignore', 'pipe'],
    });
  }
  const log = join(dir, 'service.log');
  const { openSync } = await import('node:fs');
  const fd = openSync(log, 'a');
  const child = track(spawn(join(BIN, 'printscout'), [
    'run', '--data-dir', data, '--config', configFile, '--api-port', '0', '--ui-dir', UI_DIR,
  ], { stdio: ['ignore', fd, fd], env }));
  const apiJson = join(data, 'api.json');
  const deadline = Date.now() + 30_000;
  let api;
  while (!api) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`printscout run exited (${child.exitCode ?? child.signalCode}):\n${tail(log)}`);
    }
    if (existsSync(apiJson)) {
      try { api = JSON.parse(readFileSync(apiJson, 'utf8')); } catch { /* being written */ }
    }
    if (!api) {
      if (Date.now() > deadline) {
        await stopPid(child.pid);
        throw new Error(`printscout run wrote no api.json within 30 s:\n${tail(log)}`);
      }
      await sleep(100);
    }
  }
  const base = api.url.replace(/\/$/, '');
  const token = readFileSync(api.token_file, 'utf8').trim();
  const service = {
    base, token, data, dir, configFile, pid: child.pid,
    log: () => readFileSync(log, 'utf8'),
    logTail: () => tail(log),
    /** A call to the API with the token, from Node (not the page). */
    async api(method, path, body) {
      const headers = { authorization: `Bearer ${token}` };
      if (method !== 'GET') headers['content-type'] = 'application/json';
      const r = await fetch(`${base}/api/v1${path}`, {
        method, headers, body: body === undefined ? (method === 'GET' ? undefined : '{}') : JSON.stringify(body),
      });
      const text = await r.text();
      let json = null;
      try { json = JSON.parse(text); } catch { /* not JSON */ }
      return { status: r.status, json, text };
    },
    async stop() {
      await stopPid(child.pid, { graceMs: 5000 });
    },
  };
  return service;
}

function tail(file, n = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---------------------------------------------------------------------------
// The browser

/** Headless Debian Chromium: no proxy, no name resolution but localhost. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or set PRINTSCOUT_CHROMIUM)`);
  }
  const env = cleanEnv({ NO_AT_BRIDGE: '1' });
  delete env.DISPLAY;
  delete env.DBUS_SESSION_BUS_ADDRESS;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    env,
    args: [
      '--no-sandbox',
      '--no-proxy-server',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
      '--disable-features=MediaRouter,OptimizationHints,Translate',
      '--no-first-run',
    ],
  });
  const pid = browser.process?.()?.pid;
  if (pid) live.add(pid);
  return {
    browser,
    async close() {
      await Promise.race([browser.close().catch(() => {}), sleep(5000, undefined, { ref: false })]);
      if (pid) {
        if (alive(pid)) await stopPid(pid, { signal: 'SIGKILL' });
        live.delete(pid);
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Guards and records on the page

const LOOPBACK = /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}(\/\d{1,2}|-\d{1,3}(\.\d{1,3}){0,3})?(:\d+)?$/;

/** True when every network or address named is inside 127.0.0.0/8. */
export function loopbackOnly(list) {
  return list.every((n) => typeof n === 'string' && LOOPBACK.test(n.trim()));
}

/** True for an empty URL or one whose host is in 127.0.0.0/8 or localhost. */
export function loopbackUrl(url) {
  if (!url) return true;
  try {
    const host = new URL(url).hostname;
    return host === 'localhost' || loopbackOnly([host]);
  } catch {
    return false; // the service refuses it too; nothing is sent
  }
}

/**
 * True when a settings change keeps every packet on loopback: no broadcast, DNS-SD or
 * print-queue discovery turned on, rediscovery networks, upload, SMTP and proxy URLs
 * on loopback only.
 */
export function loopbackSettings(patch) {
  const d = patch.discovery ?? {};
  if (d.broadcast === true || d.dns_sd === true || d.local_queues === true) return false;
  if (Array.isArray(d.networks) && !loopbackOnly(d.networks)) return false;
  if (!loopbackUrl(patch.upload?.url)) return false;
  if (!loopbackUrl(patch.email?.smtp_url)) return false;
  if (!loopbackUrl(patch.proxy?.url)) return false;
  if (patch.proxy?.mode && patch.proxy.mode !== 'none' && patch.proxy.mode !== 'manual') return false;
  return true;
}

/**
 * Routes the page's API requests that would make the service send packets, and aborts
 * those that would leave loopback: `POST /networks/gateway` always; `PUT
 * /networks/selection`, `POST /scans`, `POST /printers` and `POST /printers/test` whose
 * networks or address are not in 127.0.0.0/8. Returns the list of what was blocked
 * (a test asserts it is empty).
 */
export async function guardNetwork(page) {
  const blocked = [];
  await page.route('**/api/v1/**', async (route) => {
    const req = route.request();
    const path = new URL(req.url()).pathname.replace(/^\/api\/v1/, '');
    const method = req.method();
    let body = null;
    try { body = req.postDataJSON(); } catch { body = null; }
    let bad = false;
    if (method === 'POST' && path === '/networks/gateway') bad = true;
    if (method === 'PUT' && path === '/networks/selection') bad = !loopbackOnly(body?.networks ?? []);
    if (method === 'POST' && path === '/scans' && body && Array.isArray(body.networks)) {
      bad = !loopbackOnly(body.networks);
    }
    if (method === 'POST' && path === '/scans' && body && !Array.isArray(body.networks)) {
      // `{}` scans the selected networks: only loopback ones are ever selected here.
      bad = false;
    }
    if (method === 'POST' && (path === '/printers' || path === '/printers/test')) {
      const address = String(body?.address ?? '');
      // A printer URL (ipp://, prusalink://…) must name a loopback host.
      bad = address.includes('://') ? !loopbackUrl(address) : !loopbackOnly([address]);
    }
    if (method === 'POST' && path === '/proxy/test' && body?.url) bad = !loopbackUrl(body.url);
    if (method === 'PATCH' && path === '/settings' && body) bad = !loopbackSettings(body);
    if (bad) {
      blocked.push(`${method} ${path} ${JSON.stringify(body)}`);
      await route.abort('blockedbyclient');
    } else {
      await route.continue();
    }
  });
  return blocked;
}

/**
 * Keeps the text of every response the page receives (API bodies, HTML, scripts), for
 * the secret checks. `await seen.settle()` waits for the bodies still being read; a GET
 * whose body Chromium does not hand over within 1.5 s (a response the page never
 * read) is fetched again from Node with the token, so no body is left out. The event
 * stream (`text/event-stream`) stays open while the page lives, so it is not read here.
 */
export function recordResponses(page, service) {
  const seen = [];
  const pending = new Set();
  page.on('response', (response) => {
    const type = response.headers()['content-type'] ?? '';
    if (type.includes('text/event-stream')) return;
    const p = response.text()
      .then((text) => { seen.push({ url: response.url(), status: response.status(), text }); })
      .catch(() => { /* a redirect or a page gone: no body */ })
      .finally(() => pending.delete(p));
    p.url = response.url();
    p.method = response.request().method();
    pending.add(p);
  });
  seen.settle = async () => {
    await Promise.race([Promise.allSettled([...pending]), sleep(1500, undefined, { ref: false })]);
    for (const p of [...pending]) {
      if (p.method !== 'GET' || !p.url.startsWith(`${service.base}/`)) continue;
      const r = await fetch(p.url, { headers: { authorization: `Bearer ${service.token}` } });
      seen.push({ url: p.url, status: r.status, text: await r.text(), refetched: true });
      trace(`refetched ${p.url}: the page did not read its body`);
    }
    return seen;
  };
  return seen;
}

// ---------------------------------------------------------------------------
// One test's world

/**
 * Starts a lab, a service configured by `configure(lab)` (its result: `{config,
 * secrets}`) and a browser page on the UI, signed in unless `signIn: false`; registers
 * the cleanup with `t.after`. Resolves with `{lab, service, page, blocked, responses}`.
 */
export async function world(t, { lab: labOptions = {}, configure = (lab) => ({ config: configText(lab) }), signIn: doSignIn = true, viewport = { width: 1280, height: 860 } } = {}) {
  const started = Date.now();
  const cleanups = [];
  t.after(async () => {
    const t0 = Date.now();
    for (const f of cleanups.reverse()) {
      try { await f(); } catch (e) { console.error(`cleanup: ${e.message}`); }
    }
    trace(`cleanup ${Date.now() - t0} ms`);
  });
  const lab = await startLab(labOptions);
  trace(`lab up at ${Date.now() - started} ms`);
  cleanups.push(() => lab.stop());
  const { config, secrets } = configure(lab);
  const service = await startService(config, { secrets });
  cleanups.push(async () => {
    await service.stop();
    if (process.env.PRINTSCOUT_E2E_KEEP) {
      console.error(`kept ${service.dir}`);
    } else {
      rmSync(service.dir, { recursive: true, force: true });
    }
  });
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  const context = await browser.browser.newContext({ viewport, serviceWorkers: 'block' });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const blocked = await guardNetwork(page);
  const responses = recordResponses(page, service);
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  trace(`lab, service and browser up in ${Date.now() - started} ms`);
  if (doSignIn) await signIn(page, service);
  const ready = Date.now() - started;
  trace(`signed in at ${ready} ms`);
  return { lab, service, page, context, browser, blocked, responses, consoleErrors, ready };
}

/**
 * One test with its own world: `body(w)` gets what `world` returns. On failure it saves
 * `screenshots/FAILED-<slug>.png` and adds the service log's tail to the error.
 */
export function scenario(name, options, body) {
  return test(name, { timeout: 120_000 }, async (t) => {
    const w = await world(t, options);
    try {
      await body(w, t);
      if (w.blocked.length) throw new Error(`the page asked for packets outside loopback: ${w.blocked.join('; ')}`);
    } catch (e) {
      const slug = name.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase().slice(0, 60);
      try { await screenshot(w.page, `FAILED-${slug}`); } catch { /* page gone */ }
      console.error(`--- ${name} failed: ${e.message}\n--- screenshot: tests/e2e/screenshots/FAILED-${slug}.png\n`
        + `--- page errors: ${w.consoleErrors.join(' | ') || 'none'}\n--- service log tail:\n${w.service.logTail()}`);
      throw e;
    }
  });
}

// ---------------------------------------------------------------------------
// The UI

/**
 * Opens the UI and signs in with the API token, as a person would paste it from
 * `<data dir>/api-token` into the sign-in screen.
 */
export async function signIn(page, service, token = service.token) {
  await page.goto(`${service.base}/`);
  const field = page.getByLabel(/token/i);
  await field.fill(token);
  await page.getByRole('button', { name: /sign in/i }).click();
}

/** Follows a nav link by its name ("Printers", "Add a printer", …). */
export async function nav(page, name) {
  await page.getByRole('navigation').getByRole('link', { name, exact: true }).first().click();
}

/** Saves a full-page screenshot as `tests/e2e/screenshots/<name>.png`. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/**
 * The same screen at 360 px wide (a phone, or a narrow window), saved as
 * `<name>-360.png`; the viewport is put back afterwards.
 */
export async function narrowScreenshot(page, name) {
  const before = page.viewportSize();
  await page.setViewportSize({ width: 360, height: 740 });
  await sleep(200);
  await screenshot(page, `${name}-360`);
  if (before) await page.setViewportSize(before);
}

/** Polls `fn` until it returns a truthy value (resolved with it) or `ms` pass. */
export async function eventually(what, fn, ms = 20_000, every = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms (last: ${last?.message ?? JSON.stringify(last)})`);
    await sleep(every);
  }
}

// ---------------------------------------------------------------------------
// What the lab's recordings hold (tests/recordings/README.md)

/** The recordings' identities, as the UI should show them. */
export const FACTS = {
  'colour-mfp': { model: 'bizhub C300i', serial: 'AA2JZZ00042', total: 182340, supply: 'Toner (Cyan)', percent: 62 },
  'mono-laser': { model: 'LaserJet Pro M404dn', serial: 'VNBZZ00421', total: 48213 },
  'alerts-errors': { model: 'CS421dn' },
  'sentinel-supplies': { model: 'MP C3004' },
};

/** A value unlikely to occur anywhere by chance (a secret to look for). */
export function sentinel(kind) {
  return `${kind}-${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
}

/** `1234567` → the ways the UI may write it: `1234567`, `1,234,567`, `1 234 567`. */
export function numberPattern(n) {
  const s = String(n);
  const grouped = s.replace(/\B(?=(\d{3})+(?!\d))/g, '[,.\u202f\u00a0 ]?');
  return new RegExp(grouped);
}

/**
 * Waits until the screen has loaded: its `<h1>` is there and no "Loading…" spinner
 * (`.waiting`) is visible, then lets the layout settle for a moment.
 */
export async function loaded(page, ms = 15_000) {
  await page.getByRole('heading', { level: 1 }).first().waitFor({ timeout: ms });
  await eventually('the screen finished loading', async () => (await page.locator('.waiting:visible').count()) === 0, ms, 100);
  await sleep(300);
}
