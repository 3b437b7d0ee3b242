// Networks: candidate subnets (this computer's, those the gateway knows)
// and custom ranges with checkboxes; "Save selection" (PUT
// /networks/selection), "Ask the gateway", and "Scan now" (POST /scans)
// with a progress bar and the devices found arriving live (SSE `scan`
// events, with GET /scans/{id} polling as a fallback), and Cancel.

import { api, ApiError, errorText } from '../api';
import { errorBox, heading, notice, waiting } from '../components';
import { fill, h, nextId, setFieldError, timeEl, field } from '../dom';
import { onScan } from '../live';
import type { Cleanup } from '../main';
import type { NetworkItem, Networks, ScanView } from '../types';

const SOURCE_WORDS: Record<string, string> = {
  interface: 'this computer is on it',
  gateway: 'the gateway knows it',
  custom: 'added by hand',
};

export function networksScreen(root: HTMLElement): Cleanup {
  let alive = true;
  let nets: Networks | null = null;
  let rows: Array<{ item: NetworkItem; checked: boolean }> = [];
  let scan: ScanView | null = null;
  let pollTimer: number | undefined;

  const listBox = h('div', null, waiting('Loading networks…'));
  const listMsg = h('div', { 'aria-live': 'polite' });
  const custom = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: '10.1.2.0/24 or 10.1.2.10-10.1.2.60' });
  const addRange = h('button', { type: 'button', class: 'secondary' }, 'Add range');
  const saveSel = h('button', { type: 'button', class: 'secondary' }, 'Save selection');
  const askGw = h('button', { type: 'button', class: 'secondary' }, 'Ask the gateway');
  const scanBtn = h('button', { type: 'button' }, 'Scan now');
  const cancelBtn = h('button', { type: 'button', class: 'danger', hidden: true }, 'Cancel scan');
  const scanBox = h('div', { class: 'scan-box' });
  const scanMsg = h('div', { 'aria-live': 'polite' });

  fill(root,
    heading('Networks'),
    h('p', { class: 'lead' }, 'Choose the networks PrintScout looks for printers in. The selected ones are searched again on schedule; ', h('strong', null, 'Scan now'), ' searches them at once.'),
    h('section', { class: 'card', 'aria-labelledby': 'sec-cand' },
      h('div', { class: 'section-head' }, h('h2', { id: 'sec-cand' }, 'Candidate networks'), askGw),
      listBox,
      h('div', { class: 'add-range' },
        field('Custom range', custom, 'A network in CIDR form (10.1.2.0/24), a range (10.1.2.10-10.1.2.60), an address or a host name.'),
        addRange),
      listMsg,
      h('div', { class: 'actions' }, saveSel, scanBtn, cancelBtn),
    ),
    h('section', { class: 'card', 'aria-labelledby': 'sec-scan' },
      h('h2', { id: 'sec-scan' }, 'Scan'),
      scanMsg,
      scanBox),
  );

  const renderList = () => {
    if (!nets) return;
    if (rows.length === 0) {
      fill(listBox, h('p', { class: 'muted' }, 'No candidate networks: this computer has no private IPv4 network, and the gateway has not been asked. Add a range below.'));
    } else {
      fill(listBox, h('ul', { class: 'net-list' }, rows.map((r, i) => {
        const id = nextId('net');
        const cb = h('input', { type: 'checkbox', id, checked: r.checked });
        cb.addEventListener('change', () => { r.checked = cb.checked; });
        const src = [SOURCE_WORDS[r.item.source] ?? r.item.source, r.item.interface ? `(${r.item.interface})` : '', r.item.hosts_seen ? `· ${r.item.hosts_seen} hosts seen` : ''].filter(Boolean).join(' ');
        return h('li', null, cb, h('label', { for: id }, h('span', { class: 'mono' }, r.item.network)), h('span', { class: 'sub' }, src),
          r.item.source === 'custom' ? h('button', { type: 'button', class: 'link-button', 'aria-label': `Remove ${r.item.network}`, onclick: () => { rows.splice(i, 1); renderList(); } }, 'Remove') : null);
      })));
    }
    const notes = nets.notes.length ? h('ul', { class: 'notes' }, nets.notes.map((n) => h('li', null, n))) : null;
    listBox.append(
      h('p', { class: 'hint' }, nets.gateway_asked ? h('span', null, `The gateway${nets.gateway ? ` (${nets.gateway})` : ''} was asked `, timeEl(nets.gateway_asked), '.') : 'The gateway has not been asked which networks it knows.'),
    );
    if (notes) listBox.append(notice('warning', notes));
  };

  const setNets = (n: Networks) => {
    nets = n;
    rows = n.networks.map((item) => ({ item, checked: item.selected }));
    renderList();
  };

  const load = async () => {
    fill(listBox, waiting('Loading networks…'));
    try { setNets(await api<Networks>('GET', 'networks')); } catch (e) { if (alive) fill(listBox, errorBox('Could not load the networks.', e, load)); }
  };

  addRange.addEventListener('click', () => {
    const v = custom.value.trim();
    setFieldError(custom, null);
    if (!v) { setFieldError(custom, 'Type a network, a range or an address.'); custom.focus(); return; }
    if (rows.some((r) => r.item.network === v)) { setFieldError(custom, `${v} is already in the list.`); return; }
    rows.push({ item: { network: v, source: 'custom', hosts_seen: 0, selected: false }, checked: true });
    custom.value = '';
    renderList();
    fill(listMsg, notice('info', `${v} added and ticked; Save selection keeps it, Scan now scans it.`));
  });
  custom.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); addRange.click(); } });

  const selected = () => rows.filter((r) => r.checked).map((r) => r.item.network);

  saveSel.addEventListener('click', async () => {
    saveSel.disabled = true;
    fill(listMsg, waiting('Saving the selection…'));
    try {
      setNets(await api<Networks>('PUT', 'networks/selection', { networks: selected() }));
      fill(listMsg, notice('ok', 'Selection saved; rediscovery covers these networks.'));
    } catch (e) {
      fill(listMsg, notice('error', `Not saved: ${errorText(e)}`));
    } finally { saveSel.disabled = false; }
  });

  askGw.addEventListener('click', async () => {
    askGw.disabled = true;
    fill(listMsg, waiting('Asking the gateway which networks it knows (SNMP, with the configured credentials)…'));
    try {
      const keep = new Map(rows.map((r) => [r.item.network, r.checked]));
      const n = await api<Networks>('POST', 'networks/gateway', {});
      nets = n;
      rows = n.networks.map((item) => ({ item, checked: keep.get(item.network) ?? item.selected }));
      renderList();
      fill(listMsg, n.notes.length ? null : notice('ok', 'The gateway answered.'));
    } catch (e) {
      fill(listMsg, notice('error', errorText(e)));
    } finally { askGw.disabled = false; }
  });

  const renderScan = () => {
    if (!scan) { fill(scanBox, h('p', { class: 'muted' }, 'No scan yet.')); cancelBtn.hidden = true; scanBtn.disabled = false; return; }
    const running = scan.state === 'running';
    cancelBtn.hidden = !running;
    scanBtn.disabled = running;
    const pct = scan.total > 0 ? Math.round((scan.probed / scan.total) * 100) : 0;
    const stateWords: Record<string, string> = { running: 'Scanning', finished: 'Finished', cancelled: 'Cancelled', failed: 'Failed' };
    const progress = h('progress', { id: 'scan-progress', max: scan.total || 1, value: scan.probed });
    if (running && scan.total === 0) progress.removeAttribute('value');
    fill(scanBox,
      h('p', null, h('strong', null, stateWords[scan.state] ?? scan.state), ' ', scan.networks.join(', '),
        scan.started ? h('span', { class: 'sub' }, ' started ', timeEl(scan.started)) : null),
      h('label', { for: 'scan-progress' }, 'Scan progress'),
      progress,
      h('p', { class: 'scan-counts', role: 'status' },
        running && scan.total === 0 ? 'Waiting for the scan to start…'
          : `${scan.probed} of ${scan.total} addresses (${pct}%), ${scan.responders} answered, ${scan.printers} printer${scan.printers === 1 ? '' : 's'} read.`),
      scan.error ? notice('error', scan.error) : null,
      scan.notes.length ? notice('warning', h('ul', null, scan.notes.map((n) => h('li', null, n)))) : null,
      h('h3', null, 'Found'),
      scan.found.length === 0 ? h('p', { class: 'muted' }, running ? 'Nothing yet — devices appear here as they answer.' : 'No devices answered.')
        : h('table', { class: 'found responsive' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Address'), h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Printer page'))),
          h('tbody', null, scan.found.map((f) => h('tr', null,
            h('td', { 'data-label': 'Address', class: 'mono' }, h('div', null, f.address)),
            h('td', { 'data-label': 'Device' }, h('div', null, f.is_printer ? (f.model ?? 'printer') : h('span', { class: 'muted' }, `not a printer${f.model ? ` (${f.model})` : ''}`))),
            h('td', { 'data-label': 'Printer page' }, f.printer_id ? h('a', { href: `#/printers/${f.printer_id}` }, `Open ${f.model ?? f.address}`) : h('span', { class: 'muted' }, f.is_printer && running ? 'recording…' : '—')),
          )))),
    );
    if (running) schedulePoll(); else window.clearTimeout(pollTimer);
  };

  const schedulePoll = () => {
    window.clearTimeout(pollTimer);
    pollTimer = window.setTimeout(async () => {
      if (!scan || !alive) return;
      try { const s = await api<ScanView>('GET', `scans/${scan.id}`); if (alive && s.id === scan.id) { scan = s; renderScan(); } } catch { schedulePoll(); }
    }, 1500);
  };

  scanBtn.addEventListener('click', async () => {
    const networks = selected();
    if (networks.length === 0) { fill(scanMsg, notice('error', 'Tick at least one network (or add a range) to scan.')); return; }
    scanBtn.disabled = true;
    fill(scanMsg);
    scan = { id: -1, state: 'running', networks, probed: 0, total: 0, responders: 0, printers: 0, found: [], notes: [] };
    renderScan();
    try {
      const started = await api<ScanView>('POST', 'scans', { networks });
      if (!scan || scan.id !== started.id) scan = started;
      renderScan();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        fill(scanMsg, notice('info', 'A scan is already running; showing it.'));
        await loadScans();
      } else {
        scan = null;
        renderScan();
        fill(scanMsg, notice('error', `The scan did not start: ${errorText(e)}`));
      }
    }
  });

  cancelBtn.addEventListener('click', async () => {
    if (!scan) return;
    cancelBtn.disabled = true;
    try { scan = await api<ScanView>('POST', `scans/${scan.id}/cancel`, {}); renderScan(); fill(scanMsg, notice('info', 'Cancelling the scan…')); }
    catch (e) { fill(scanMsg, notice('error', errorText(e))); }
    finally { cancelBtn.disabled = false; }
  });

  const loadScans = async () => {
    fill(scanBox, waiting('Loading scans…'));
    try {
      const list = await api<ScanView[]>('GET', 'scans');
      scan = list.find((s) => s.state === 'running') ?? list[0] ?? null;
      renderScan();
    } catch (e) { if (alive) fill(scanBox, errorBox('Could not load the scans.', e, loadScans)); }
  };

  const offScan = onScan((s) => {
    if (!alive) return;
    if (!scan || s.id === scan.id || scan.id === -1 || (s.state === 'running' && scan.state !== 'running')) { scan = s; renderScan(); }
  });

  load();
  loadScans();
  return () => { alive = false; offScan(); window.clearTimeout(pollTimer); };
}
