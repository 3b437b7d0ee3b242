// Sync: where the data goes (HTTPS server and/or e-mail), the last success,
// the queue by kind, errors in words, the proxy in use; "Test connection"
// (POST /proxy/test), "Sync now" (POST /sync) and "Send a test report"
// (POST /report/send). Refreshes itself every 5 s.

import { api, ApiError, errorText } from '../api';
import { errorBox, facts, heading, notice, waiting } from '../components';
import { bytes, fill, h, num, seconds, timeEl } from '../dom';
import { onResync } from '../live';
import type { Cleanup } from '../main';
import type { ProxyReport, ProxyTestResult, ReportSendResult, SettingsView, SyncNowResult, SyncView } from '../types';

const CODE_WORDS: Record<string, string> = {
  ok: 'OK', token_rejected: 'the server refused the site token', proxy_auth_failed: 'the proxy refused its user or password',
  tls_error: 'the secure connection failed (certificate)', connect_failed: 'could not connect', dns_failed: 'the name could not be looked up',
  timeout: 'no answer in time', proxy_invalid: 'the proxy setting is not usable', failed: 'failed',
};
const PATH_WORDS: Record<string, string> = { direct: 'Direct', environment: 'Proxy from the environment', system: 'System proxy', manual: 'Manual proxy' };

export function syncScreen(root: HTMLElement): Cleanup {
  let alive = true;
  let sync: SyncView | null = null;
  let proxy: ProxyReport | null = null;
  let settings: SettingsView | null = null;
  let loadError: unknown = null;

  const whereBox = h('div', null, waiting('Loading sync status…'));
  const statusBox = h('div');
  const queueBox = h('div');
  const proxyBox = h('div');
  const actionMsg = h('div', { class: 'action-result', 'aria-live': 'polite' });
  const testBtn = h('button', { type: 'button', class: 'secondary' }, 'Test connection');
  const syncBtn = h('button', { type: 'button' }, 'Sync now');
  const reportBtn = h('button', { type: 'button', class: 'secondary' }, 'Send a test report');

  fill(root,
    heading('Sync'),
    h('p', { class: 'lead' }, 'Where PrintScout sends its readings and reports, and how it is going. This page refreshes itself.'),
    h('div', { class: 'actions' }, syncBtn, testBtn, reportBtn),
    actionMsg,
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'sec-where' }, h('h2', { id: 'sec-where' }, 'Where data goes'), whereBox),
      h('section', { class: 'card', 'aria-labelledby': 'sec-status' }, h('h2', { id: 'sec-status' }, 'Upload status'), statusBox)),
    h('div', { class: 'grid-2' },
      h('section', { class: 'card', 'aria-labelledby': 'sec-queue' }, h('h2', { id: 'sec-queue' }, 'Queue'), queueBox),
      h('section', { class: 'card', 'aria-labelledby': 'sec-proxy' }, h('h2', { id: 'sec-proxy' }, 'Proxy'), proxyBox)),
  );

  const render = () => {
    if (!sync) {
      if (loadError) fill(whereBox, errorBox('Could not load the sync status.', loadError, load));
      return;
    }
    const s = sync;
    const email = settings?.email;
    fill(whereBox, facts([
      ['HTTPS server', s.upload_configured && s.url ? h('span', { class: 'mono' }, s.url) : h('span', null, 'not configured — ', h('a', { href: '#/settings' }, 'set an upload URL'))],
      ['E-mail reports', email ? (email.smtp_url ? `${email.to.length ? email.to.join(', ') : 'no recipients'} via ${email.smtp_url}` : h('span', null, 'not configured — ', h('a', { href: '#/settings' }, 'set up SMTP'))) : '…'],
      ['Upload every', seconds(s.every_s)],
    ]));
    const err = s.error;
    fill(statusBox,
      !s.upload_configured ? h('p', { class: 'muted' }, 'Uploads are off (no upload URL).') : null,
      err ? notice('error',
        h('p', null, h('strong', null, 'The last upload failed: '), err.message),
        h('p', { class: 'sub' }, `Code ${err.code}${err.status ? `, HTTP ${err.status}` : ''}; ${err.failures} failure${err.failures === 1 ? '' : 's'} in a row. `,
          err.retry ? 'PrintScout retries by itself with growing delays.' : 'This needs a person: fix the setting, then Sync now (it is also retried hourly).'),
        err.at ? h('p', { class: 'sub' }, 'Since ', timeEl(err.at)) : null)
        : s.upload_configured ? notice('ok', s.last_success ? 'Uploads are working.' : 'No upload has completed yet.') : null,
      facts([
        ['Last success', timeEl(s.last_success)],
        ['Next attempt', s.running ? 'running now…' : timeEl(s.next_attempt, 'not scheduled')],
        ['Last round sent', s.last_sent.batches ? `${num(s.last_sent.items)} items in ${num(s.last_sent.batches)} batch${s.last_sent.batches === 1 ? '' : 'es'} (${bytes(s.last_sent.body_bytes)})` : 'nothing'],
        ['Path', s.path ?? (s.upload_configured ? 'not decided yet' : null)],
      ]),
      s.checks.length ? h('div', null, h('h3', null, 'Last connectivity check'), checksList(s.checks.map((c) => ({ ...c, elapsed_ms: -1 })))) : null,
    );
    const q = s.queue;
    fill(queueBox,
      h('p', { class: 'big-number' }, num(q.queued), h('span', { class: 'sub' }, ` item${q.queued === 1 ? '' : 's'} waiting`)),
      q.by_kind.length ? h('table', { class: 'kv' }, h('tbody', null, q.by_kind.map((k) => h('tr', null, h('th', { scope: 'row' }, k.kind), h('td', { class: 'num' }, num(k.count)))))) : null,
      facts([
        ['Oldest waiting', q.oldest ? h('span', null, timeEl(q.oldest), q.oldest_age_s !== null && q.oldest_age_s !== undefined ? ` (${seconds(q.oldest_age_s)})` : '') : null],
        ['Dropped (outbox full)', q.dropped ? h('strong', { class: 'error-text' }, num(q.dropped)) : '0'],
        ['Refused by the server', q.rejected ? h('strong', { class: 'error-text' }, num(q.rejected)) : '0'],
        ['Waiting for an answer', q.pending_batch ? `${q.pending_batch.items} items, attempt ${q.pending_batch.attempts}` : null],
      ]),
    );
    if (proxy) {
      fill(proxyBox, facts([
        ['In use', h('span', null, PATH_WORDS[proxy.in_use.path] ?? proxy.in_use.path, proxy.in_use.url ? h('span', { class: 'mono' }, ` ${proxy.in_use.url}`) : null)],
        ['Why', proxy.in_use.reason],
        ['Setting', `proxy mode “${proxy.mode}”`],
      ]), proxy.manual.error ? notice('warning', proxy.manual.error) : null, h('p', { class: 'hint' }, h('a', { href: '#/settings' }, 'Change the proxy setting'), '.'));
    } else fill(proxyBox, waiting('Loading the proxy in use…'));
  };

  let shown = '';
  const load = async () => {
    try {
      const [s, p] = await Promise.all([api<SyncView>('GET', 'sync'), api<ProxyReport>('GET', 'proxy').catch(() => proxy)]);
      if (!alive) return;
      sync = s; proxy = p; loadError = null;
    } catch (e) { loadError = e; }
    if (!settings) { try { settings = await api<SettingsView>('GET', 'settings'); } catch { /* shown as … */ } }
    // Re-render only when something changed, so keyboard focus stays put.
    const now = JSON.stringify([sync, proxy, settings?.email, loadError ? errorText(loadError) : null, Math.floor(Date.now() / 60_000)]);
    if (alive && now !== shown) { shown = now; render(); }
  };

  syncBtn.addEventListener('click', async () => {
    syncBtn.disabled = true;
    fill(actionMsg, waiting('Uploading… (waits up to a minute for the round to finish)'));
    try {
      const r = await api<SyncNowResult>('POST', 'sync', { wait_s: 60 });
      sync = r.sync; shown = ''; render();
      fill(actionMsg, r.ok ? notice('ok', 'Sync done: the queue is empty.') : notice('error', `The round ended with items still waiting${r.sync.error ? `: ${r.sync.error.message}` : '.'}`));
    } catch (e) {
      fill(actionMsg, notice('error', e instanceof ApiError && e.code === 'not_configured' ? 'There is no upload URL yet: set one in Settings.' : `Sync failed: ${errorText(e)}`));
    } finally { syncBtn.disabled = false; }
  });

  testBtn.addEventListener('click', async () => {
    testBtn.disabled = true;
    fill(actionMsg, waiting('Testing the connection to the upload server (directly and through each proxy found)…'));
    try {
      const r = await api<ProxyTestResult>('POST', 'proxy/test', {});
      fill(actionMsg, h('div', { class: 'card' }, h('h2', { class: 'h3' }, `Connection test to ${r.target}`), checksList(r.paths)));
    } catch (e) {
      fill(actionMsg, notice('error', `The test could not run: ${errorText(e)}`));
    } finally { testBtn.disabled = false; }
  });

  reportBtn.addEventListener('click', async () => {
    reportBtn.disabled = true;
    fill(actionMsg, waiting('Sending a test report by e-mail…'));
    try {
      const r = await api<ReportSendResult>('POST', 'report/send', {});
      fill(actionMsg, r.ok ? notice('ok', `Report sent to ${r.recipients.join(', ')}${r.sent ? ` via ${r.sent.server}` : ''}.`)
        : notice('error', h('p', null, h('strong', null, 'Not sent: '), r.message), h('p', { class: 'sub' }, `Code ${r.code}.`)));
    } catch (e) {
      const words: Record<string, string> = {
        email_not_configured: 'E-mail is not set up yet: give an SMTP server and recipients in Settings.',
        smtp_password_missing: 'The SMTP password is not set: type it in Settings.',
      };
      fill(actionMsg, notice('error', e instanceof ApiError && words[e.code] ? words[e.code] : `Not sent: ${errorText(e)}`));
    } finally { reportBtn.disabled = false; }
  });

  load();
  const every = window.setInterval(load, 5000);
  const off = onResync(load);
  return () => { alive = false; window.clearInterval(every); off(); };
}

function checksList(paths: Array<{ path: string; code: string; ok: boolean; message: string; proxy?: string | null; status?: number | null; elapsed_ms: number }>): HTMLElement {
  return h('ul', { class: 'checks' }, paths.map((p) => h('li', { class: p.ok ? 'ok' : 'bad' },
    h('span', { class: `badge ${p.ok ? 'status-ok' : 'status-error'}` }, p.ok ? 'OK' : 'Failed'), ' ',
    h('strong', null, PATH_WORDS[p.path] ?? p.path), p.proxy ? h('span', { class: 'mono' }, ` ${p.proxy}`) : null, ': ',
    p.ok ? p.message : `${CODE_WORDS[p.code] ?? p.code} — ${p.message}`,
    p.status ? ` (HTTP ${p.status})` : '', p.elapsed_ms >= 0 ? h('span', { class: 'sub' }, ` ${p.elapsed_ms} ms`) : null)));
}
