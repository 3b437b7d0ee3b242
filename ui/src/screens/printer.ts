// The printer page: identity, supplies, counters, charts of counters and
// supply levels over time, open alerts, recent events, "Read now", name and
// location, and "Stop monitoring". A 3D printer's page shows instead its
// state (with the printer's own words), the current job with a progress bar,
// elapsed and remaining time, temperatures, errors and its jobs
// (GET /printers/{id}/jobs). Reloads when an event about it arrives.

import { api, ApiError, errorText } from '../api';
import { countersChart, suppliesChart, type ChartHandle } from '../chart';
import { duration, errorBox, fabBadge, facts, heading, notice, progressBar, statusBadge, supplyBar, temperatureWords, waiting } from '../components';
import { field, fill, h, humanKey, num, parseTime, timeEl } from '../dom';
import { onEvent, onResync } from '../live';
import type { Cleanup } from '../main';
import type { EventItem, JobItem, PrinterDetail, PrinterHistory, PrinterJobs } from '../types';

/** The protocols of 3D printers (`devices.protocol`). */
export const FAB_PROTOCOLS = ['octoprint', 'moonraker', 'prusalink', 'bambu', 'ultimaker'];
const PROTOCOL_NAMES: Record<string, string> = {
  snmp: 'SNMP', ipp: 'IPP', ipps: 'IPP over TLS (ipps)', octoprint: 'OctoPrint', moonraker: 'Moonraker (Klipper)',
  prusalink: 'PrusaLink', bambu: 'Bambu Lab LAN mode', ultimaker: 'Ultimaker',
};

const PERIODS: Array<[string, number]> = [['Last 7 days', 7], ['Last 30 days', 30], ['Last 90 days', 90], ['Last year', 365]];
let periodDays = 30;

export function printerScreen(root: HTMLElement, params: string[]): Cleanup {
  const id = Number(params[0]);
  let detail: PrinterDetail | null = null;
  let charts: ChartHandle[] = [];
  let alive = true;
  let editEl: HTMLElement | null = null;
  const top = h('div', null, heading('Printer'), waiting('Loading printer…'));
  const flash = h('div', { class: 'flash', 'aria-live': 'polite' });
  const content = h('div');
  const historyBox = h('div', { class: 'history' });
  const jobsBox = h('div', { class: 'jobs' }, waiting('Loading jobs…'));
  let jobsLoaded = false;
  const isFab = () => !!detail && (!!detail.printer.fab || FAB_PROTOCOLS.includes(detail.printer.protocol ?? ''));
  fill(root, top, flash, content);

  const readNow = h('button', { type: 'button' }, 'Read now');
  readNow.addEventListener('click', async () => {
    readNow.disabled = true;
    const before = detail?.printer.last_read ?? null;
    fill(flash, notice('info', 'Reading the printer… the page updates when the read is done.'));
    try {
      await api('POST', `printers/${id}/poll`, {});
      for (let i = 0; i < 30 && alive; i++) {
        await new Promise((r) => window.setTimeout(r, 1000));
        const d = await api<PrinterDetail>('GET', `printers/${id}`);
        if (d.printer.last_read !== before || d.printer.last_error) { detail = d; render(); if (isFab()) loadJobs(); else loadHistory(); break; }
      }
      if (alive) fill(flash, notice('ok', 'Read done.'));
    } catch (e) {
      if (alive) fill(flash, notice('error', `Could not read it: ${errorText(e)}`));
    } finally { readNow.disabled = false; }
  });

  const render = () => {
    if (!detail) return;
    if (isFab()) { renderFab(); return; }
    const p = detail.printer;
    const r = detail.reading;
    const status = p.offline ? 'offline' : p.status;
    fill(top,
      h('p', { class: 'crumbs' }, h('a', { href: '#/printers' }, '← Back to the list')),
      heading(p.display_name, statusBadge(status), readNow),
      h('p', { class: 'lead' }, [p.vendor, p.model].filter(Boolean).join(' ') || 'Unknown model', p.location ? ` · ${p.location}` : ''),
    );
    document.title = `${p.display_name} — PrintScout`;
    const ident = facts([
      ['Name', p.name ?? h('span', { class: 'muted' }, `not set (shown as ${p.display_name})`)],
      ['Vendor', p.vendor], ['Model', p.model], ['Serial number', p.serial], ['MAC address', p.mac],
      ['Address', p.address], ['Added as', p.added_as], ['Location', p.location],
      ['Firmware', detail.firmware], ['Credential', p.credential], ['sysObjectID', detail.sys_object_id],
      ['Host name', r?.identity?.hostname], ['Description', r?.identity?.description],
      ['First seen', timeEl(detail.first_seen)], ['Last seen', timeEl(p.last_seen)], ['Last full read', timeEl(p.last_read)],
    ]);
    const counters = Object.entries(detail.counters).sort(([a], [b]) => (a === 'total' ? -1 : b === 'total' ? 1 : a.localeCompare(b)));
    const events = detail.events.slice(0, 50);
    fill(content,
      p.last_error ? notice('error', h('strong', null, 'The last read failed: '), p.last_error) : null,
      h('div', { class: 'grid-2' },
        h('section', { class: 'card', 'aria-labelledby': 'sec-alerts' }, h('h2', { id: 'sec-alerts' }, 'Open alerts'),
          detail.alerts.length === 0 ? h('p', { class: 'muted' }, 'None — nothing needs attention.')
            : h('ul', { class: 'alerts' }, detail.alerts.map((a) => h('li', { class: `sev-${a.severity}` },
              h('span', { class: `badge sev-${a.severity}` }, a.severity), ' ', a.message, a.since ? h('span', { class: 'sub' }, ' since ', timeEl(a.since)) : null)))),
        h('section', { class: 'card', 'aria-labelledby': 'sec-supplies' }, h('h2', { id: 'sec-supplies' }, 'Supplies'),
          p.supplies.length ? h('div', { class: 'supply-list' }, p.supplies.map((s) => supplyBar(s))) : h('p', { class: 'muted' }, 'The printer reports no supplies.')),
      ),
      h('section', { class: 'card', 'aria-labelledby': 'sec-history' },
        h('div', { class: 'section-head' }, h('h2', { id: 'sec-history' }, 'History'), periodSelect()),
        historyBox),
      h('div', { class: 'grid-2' },
        h('section', { class: 'card', 'aria-labelledby': 'sec-counters' }, h('h2', { id: 'sec-counters' }, 'Counters'),
          counters.length === 0 ? h('p', { class: 'muted' }, 'No counters read yet.')
            : h('table', { class: 'kv' }, h('tbody', null, counters.map(([k, v]) => h('tr', null, h('th', { scope: 'row' }, humanKey(k)), h('td', { class: 'num' }, num(v))))))),
        h('section', { class: 'card', 'aria-labelledby': 'sec-identity' }, h('h2', { id: 'sec-identity' }, 'Identity'), ident),
      ),
      h('section', { class: 'card', 'aria-labelledby': 'sec-events' }, h('h2', { id: 'sec-events' }, 'Recent events'),
        events.length === 0 ? h('p', { class: 'muted' }, 'No events yet.') : eventList(events)),
      detail.addresses.length > 1 ? h('section', { class: 'card', 'aria-labelledby': 'sec-addr' }, h('h2', { id: 'sec-addr' }, 'Addresses over time'),
        h('ul', null, detail.addresses.map((a) => h('li', null, h('span', { class: 'mono' }, a.address), ' — last seen ', timeEl(a.last_seen))))) : null,
      (editEl ??= editForm()),
    );
  };

  const renderFab = () => {
    if (!detail) return;
    const p = detail.printer;
    const f = p.fab;
    const status = p.offline ? 'offline' : p.status;
    fill(top,
      h('p', { class: 'crumbs' }, h('a', { href: '#/printers' }, '← Back to the list')),
      heading(p.display_name, f ? fabBadge(f.state) : statusBadge(status), readNow),
      h('p', { class: 'lead' }, '3D printer', [p.vendor, p.model].filter(Boolean).length ? ` · ${[p.vendor, p.model].filter(Boolean).join(' ')}` : '',
        p.protocol ? ` · ${PROTOCOL_NAMES[p.protocol] ?? p.protocol}` : '', p.location ? ` · ${p.location}` : ''),
    );
    document.title = `${p.display_name} — PrintScout`;
    const job = f?.job;
    const inJob = f && (f.state === 'printing' || f.state === 'paused');
    const now = h('section', { class: 'card', 'aria-labelledby': 'sec-now' }, h('h2', { id: 'sec-now' }, 'Now'),
      !f ? h('p', { class: 'muted' }, 'Not read yet: PrintScout shows its state after the first answer.')
        : [
          h('p', { class: 'fab-now' }, fabBadge(f.state), ' ',
            f.state_text ? h('span', null, 'The printer says ', h('q', { class: 'mono' }, f.state_text), '.') : null),
          h('h3', null, inJob ? 'Current job' : 'Last job'),
          job ? [
            h('p', { class: 'job-name' }, job.name ?? h('span', { class: 'muted' }, 'a job without a name')),
            progressBar(job.progress_percent, 'Job progress'),
            facts([
              ['Elapsed', duration(job.elapsed_s)],
              ['Remaining', inJob ? duration(job.remaining_s) : null],
              ['Started', job.started_at ? timeEl(job.started_at) : null],
              ['Material', job.material],
            ]),
          ] : h('p', { class: 'muted' }, 'No job on the printer.'),
        ]);
    const temps = h('section', { class: 'card', 'aria-labelledby': 'sec-temps' }, h('h2', { id: 'sec-temps' }, 'Temperatures'),
      !f || f.temperatures.length === 0 ? h('p', { class: 'muted' }, 'The printer reports no temperatures.')
        : h('table', { class: 'kv' }, h('tbody', null, f.temperatures.map((t) =>
          h('tr', null, h('th', { scope: 'row' }, humanKey(t.name)), h('td', null, temperatureWords(t.actual, t.target)))))));
    const errors = h('section', { class: 'card', 'aria-labelledby': 'sec-errors' }, h('h2', { id: 'sec-errors' }, 'Errors'),
      !f || f.errors.length === 0 ? h('p', { class: 'muted' }, 'The printer reports no errors.')
        : h('ul', { class: 'alerts' }, f.errors.map((e) => h('li', { class: 'sev-error' }, e))));
    const alerts = h('section', { class: 'card', 'aria-labelledby': 'sec-alerts' }, h('h2', { id: 'sec-alerts' }, 'Open alerts'),
      detail.alerts.length === 0 ? h('p', { class: 'muted' }, 'None — nothing needs attention.')
        : h('ul', { class: 'alerts' }, detail.alerts.map((a) => h('li', { class: `sev-${a.severity}` },
          h('span', { class: `badge sev-${a.severity}` }, a.severity), ' ', a.message, a.since ? h('span', { class: 'sub' }, ' since ', timeEl(a.since)) : null))));
    const ident = facts([
      ['Name', p.name ?? h('span', { class: 'muted' }, `not set (shown as ${p.display_name})`)],
      ['Vendor', p.vendor], ['Model', p.model], ['Serial number', p.serial],
      ['Address', p.address], ['Protocol', p.protocol ? (PROTOCOL_NAMES[p.protocol] ?? p.protocol) : null],
      ['Key', detail.key_set === true ? h('span', { class: 'secret-state is-set' }, 'set') : detail.key_set === false ? h('span', { class: 'secret-state' }, 'not set') : null],
      ['Firmware', detail.firmware], ['Host name', detail.reading?.identity?.hostname],
      ['First seen', timeEl(detail.first_seen)], ['Last seen', timeEl(p.last_seen)], ['Last read', timeEl(p.last_read)],
    ]);
    const events = detail.events.slice(0, 50);
    fill(content,
      p.last_error ? notice('error', h('strong', null, 'The last read failed: '), p.last_error) : null,
      h('div', { class: 'grid-2' }, now, temps),
      h('div', { class: 'grid-2' }, errors, alerts),
      h('section', { class: 'card', 'aria-labelledby': 'sec-jobs' }, h('h2', { id: 'sec-jobs' }, 'Jobs'), jobsBox),
      h('div', { class: 'grid-2' },
        h('section', { class: 'card', 'aria-labelledby': 'sec-identity' }, h('h2', { id: 'sec-identity' }, 'Identity'), ident),
        h('section', { class: 'card', 'aria-labelledby': 'sec-events' }, h('h2', { id: 'sec-events' }, 'Recent events'),
          events.length === 0 ? h('p', { class: 'muted' }, 'No events yet.') : eventList(events))),
      (editEl ??= editForm()),
    );
    if (!jobsLoaded) loadJobs();
  };

  const loadJobs = async () => {
    jobsLoaded = true;
    if (!jobsBox.firstChild) fill(jobsBox, waiting('Loading jobs…'));
    try {
      const j = await api<PrinterJobs>('GET', `printers/${id}/jobs?limit=50`);
      if (!alive) return;
      fill(jobsBox, jobsTable(j.jobs));
    } catch (e) {
      if (alive) fill(jobsBox, errorBox('Could not load the jobs.', e, loadJobs));
    }
  };

  const periodSelect = () => {
    const sel = h('select', { id: 'history-period' }, PERIODS.map(([label, d]) => h('option', { value: String(d), selected: d === periodDays }, label)));
    sel.addEventListener('change', () => { periodDays = Number(sel.value); loadHistory(); });
    return h('div', { class: 'field inline' }, h('label', { for: 'history-period' }, 'Period'), sel);
  };

  const editForm = () => {
    if (!detail) return null;
    const p = detail.printer;
    const name = h('input', { type: 'text', value: p.name ?? '', autocomplete: 'off' });
    const loc = h('input', { type: 'text', value: p.location ?? '', autocomplete: 'off' });
    const msg = h('div', { 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', class: 'secondary' }, 'Save name and location');
    const remove = h('button', { type: 'button', class: 'danger' }, 'Stop monitoring');
    const form = h('form', { class: 'card', 'aria-labelledby': 'sec-edit' },
      h('h2', { id: 'sec-edit' }, 'Name and location'),
      h('div', { class: 'grid-2 tight' }, field('Printer name', name, 'Empty: use the printer\'s own host name.'), field('Location', loc, 'Empty: use the location the printer reports.')),
      msg,
      h('div', { class: 'actions' }, save, remove),
    );
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      save.disabled = true;
      try {
        const change: Record<string, string> = {};
        if (name.value.trim() !== (p.name ?? '')) change.name = name.value.trim();
        if (loc.value.trim() !== (p.location ?? '')) change.location = loc.value.trim();
        detail = await api<PrinterDetail>('PATCH', `printers/${id}`, change);
        editEl = null;
        render();
        fill(flash, notice('ok', 'Saved.'));
      } catch (err) {
        fill(msg, notice('error', errorText(err)));
        save.disabled = false;
      }
    });
    remove.addEventListener('click', async () => {
      if (!window.confirm(`Stop monitoring ${p.display_name}? Its history stays in the reports.`)) return;
      try {
        await api('DELETE', `printers/${id}`, {});
        location.hash = '#/printers';
      } catch (err) { fill(msg, notice('error', errorText(err))); }
    });
    return form;
  };

  const loadHistory = async () => {
    fill(historyBox, waiting('Loading history…'));
    const from = new Date(Date.now() - periodDays * 86_400_000).toISOString();
    try {
      const hist = await api<PrinterHistory>('GET', `printers/${id}/history?from=${encodeURIComponent(from)}`);
      if (!alive) return;
      for (const c of charts) c.destroy();
      charts = [countersChart(hist), suppliesChart(hist)];
      fill(historyBox,
        h('div', { class: 'grid-2' },
          h('div', null, h('h3', null, 'Page counters'), charts[0].el),
          h('div', null, h('h3', null, 'Supply levels'), charts[1].el)),
        statusChanges(hist));
    } catch (e) {
      if (alive) fill(historyBox, errorBox('Could not load the history.', e, loadHistory));
    }
  };

  const load = async (first: boolean) => {
    try {
      detail = await api<PrinterDetail>('GET', `printers/${id}`);
      if (!alive) return;
      render();
      if (first && !isFab()) loadHistory();
    } catch (e) {
      if (!alive) return;
      if (e instanceof ApiError && e.status === 404) {
        fill(top, heading('Printer not found'), h('p', null, `There is no printer ${params[0]} (it may have been removed). `, h('a', { href: '#/printers' }, 'Back to the list'), '.'));
        fill(content);
      } else if (first) {
        fill(top, heading('Printer'), errorBox('Could not load this printer.', e, () => load(true)));
      } else {
        fill(flash, notice('error', `Could not refresh: ${errorText(e)}`));
      }
    }
  };
  load(true);

  let debounce: number | undefined;
  const soon = () => { window.clearTimeout(debounce); debounce = window.setTimeout(() => { load(false); if (isFab()) loadJobs(); else loadHistory(); }, 600); };
  const off1 = onEvent((e) => { if (e.printer_id === id) soon(); });
  const off2 = onResync(soon);
  return () => { alive = false; off1(); off2(); window.clearTimeout(debounce); for (const c of charts) c.destroy(); };
}

const RESULTS: Record<string, string> = {
  completed: 'Completed', cancelled: 'Cancelled', failed: 'Failed', interrupted: 'Interrupted', in_progress: 'In progress', unknown: 'Unknown',
};

/** The jobs, newest first: a table (cards on small screens). */
function jobsTable(jobs: JobItem[]): HTMLElement {
  if (jobs.length === 0) return h('p', { class: 'muted' }, 'No jobs recorded yet: they appear as the printer prints (from its own history where it keeps one, else from what PrintScout sees at each poll).');
  const cell = (label: string, cls: string, ...c: Array<Node | string | null>) => h('td', { 'data-label': label, class: cls || null }, h('div', { class: 'cell' }, ...c));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'jobs-table responsive' },
    h('caption', { class: 'visually-hidden' }, 'Jobs, newest first'),
    h('thead', null, h('tr', null, ['Job', 'Started', 'Ended', 'Duration', 'Result', 'Material', 'Recorded from'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, jobs.map((j) => h('tr', { class: j.running ? 'job-running' : null },
      cell('Job', 'name', j.name ?? h('span', { class: 'muted' }, 'no name')),
      cell('Started', '', j.started_at ? timeEl(j.started_at) : h('span', { class: 'muted' }, 'unknown')),
      cell('Ended', '', j.running ? h('span', { class: 'badge fab-printing' }, 'running') : j.ended_at ? timeEl(j.ended_at) : h('span', { class: 'muted' }, 'unknown')),
      cell('Duration', 'num', duration(j.duration_s)),
      cell('Result', '', j.result ? h('span', { class: `badge result-${j.result.replace(/[^a-z_]/gi, '')}` }, RESULTS[j.result] ?? j.result) : h('span', { class: 'muted' }, '—')),
      cell('Material', '', j.material ?? h('span', { class: 'muted' }, '—')),
      cell('Recorded from', '', j.synthesised ? 'seen at polls' : 'the printer\'s history'),
    )))));
}

function eventList(events: EventItem[]): HTMLElement {
  return h('ul', { class: 'events' }, events.map((e) => h('li', { class: `sev-${e.severity}` },
    timeEl(e.at, ''), ' ', h('span', { class: `badge sev-${e.severity}` }, e.kind === 'printer_error' && e.severity !== 'error' ? 'printer warning' : e.kind.replace(/_/g, ' ')), ' ', e.message)));
}

function statusChanges(hist: PrinterHistory): HTMLElement | null {
  if (hist.status.length === 0) return null;
  const rows = hist.status.slice(-10).reverse();
  return h('div', null, h('h3', null, 'Status changes'),
    h('ul', { class: 'events' }, rows.map((s) => {
      const d = s.detail as { alerts?: string[]; errors?: string[] };
      const words = (d.alerts && d.alerts.length ? d.alerts : d.errors ?? []).slice(0, 4).join(', ');
      const at = parseTime(s.at);
      return h('li', null, at ? timeEl(s.at) : null, ' ', h('span', { class: `badge status-${s.status}` }, s.status), words ? ` ${words}` : '');
    })));
}
