// Add a printer: first its kind — an office printer over SNMP (address or
// host name and the credential: a community, SNMPv3 fields, or a saved
// profile), an IPP printer by its URL, or a 3D printer by its URL with a
// write-only key — then "Test" (POST /printers/test: the reading or the error
// in words) and "Save" (POST /printers, then its page).
//
// Invariant: community, passphrase and key inputs are type=password, never
// filled from anything the API returned, and cleared once the printer is
// saved; the key is sent only for a 3D printer.

import { api, ApiError, errorText } from '../api';
import { duration, fabBadge, heading, notice, progressBar, supplyBar, temperatureWords, waiting } from '../components';
import { checkbox, field, fill, h, num, setFieldError } from '../dom';
import type { Cleanup } from '../main';
import type { CredentialInput, CredentialView, PrinterDetail, Reading, SettingsView, TestResult } from '../types';

const ADVICE: Record<string, string> = {
  no_answer: 'Check the address, that the printer is switched on and that SNMP is enabled on it; a wrong community also looks like no answer (SNMP v1/v2c agents stay silent).',
  credential_rejected: 'The printer answered but refused the credential: check the user name, protocols and passphrases.',
  snmp_error: 'The printer answered with an SNMP error.',
  no_credentials: 'There is no credential to try: type a community or choose a saved profile.',
  name_unresolved: 'That host name could not be looked up: check its spelling or use the IP address.',
  bad_url: 'Write the printer\'s URL as ipp://host/ipp/print, octoprint://host:5000, moonraker://host, prusalink://host, bambu://SERIAL@host or ultimaker://host.',
  fab_rejected: 'The printer answered but refused the key: check the API key, access code or password (it is not offline).',
  fab_needs_key: 'This printer needs its key: type its API key, LAN access code or password in the Key field.',
  fab_connect_failed: 'Nothing answers at that address and port: check the URL, that the printer is on, and its port (OctoPrint 5000, Moonraker 7125, PrusaLink and Ultimaker 80, Bambu 8883).',
  fab_timeout: 'The printer did not answer in time: check that it is on and on this network.',
  fab_tls_failed: 'The printer\'s certificate could not be checked: for a Bambu printer check the serial in the URL.',
  fab_bad_response: 'Something answered, but not the way this kind of printer does: check the scheme of the URL.',
  fab_http_status: 'The printer answered with an HTTP error: check the scheme and the port of the URL.',
  ipp_connect_failed: 'Nothing answers at that address and port: check the URL and that IPP is on (port 631).',
  ipp_timeout: 'The printer did not answer in time.',
  ipp_not_authorized: 'The printer wants a user name and password for IPP: PrintScout reads it without; allow anonymous reads on the printer.',
  key_not_used: 'A key is only for 3D printers: choose “3D printer (URL)” as the kind, or leave the key empty.',
  credential_not_used: 'A printer given by its URL is read without an SNMP credential.',
};

type Kind = 'snmp' | 'ipp' | 'fab';
const KIND_HINTS: Record<Kind, string> = {
  snmp: 'An IP address or host name, with :port if SNMP is not on 161.',
  ipp: 'The printer\'s IPP URL: ipp://HOST[:PORT]/PATH (or ipps://…); without a path, /ipp/print.',
  fab: 'The printer\'s URL: octoprint://HOST[:5000], moonraker://HOST[:7125], prusalink://HOST, bambu://SERIAL@HOST or ultimaker://HOST.',
};
const KIND_PLACEHOLDERS: Record<Kind, string> = {
  snmp: '192.168.1.50 or printer.example.lan',
  ipp: 'ipp://192.168.1.50/ipp/print',
  fab: 'prusalink://192.168.1.60',
};

export function addScreen(root: HTMLElement): Cleanup {
  let profiles: CredentialView[] = [];
  let alive = true;

  const kind = h('select', { name: 'kind' },
    h('option', { value: 'snmp' }, 'Office printer (SNMP)'),
    h('option', { value: 'ipp' }, 'IPP printer (URL)'),
    h('option', { value: 'fab' }, '3D printer (URL)'),
  );
  const address = h('input', { type: 'text', name: 'address', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: KIND_PLACEHOLDERS.snmp });
  const key = h('input', { type: 'password', name: 'printer-key', autocomplete: 'new-password', spellcheck: 'false' });
  const mode = h('select', { name: 'credential-mode' },
    h('option', { value: 'community' }, 'Community (SNMP v1/v2c)'),
    h('option', { value: 'v3' }, 'SNMPv3 user'),
  );
  const profileSelect = h('select', { name: 'profile' });
  const version = h('select', { name: 'version' }, h('option', { value: '2c' }, '2c'), h('option', { value: '1' }, '1'));
  const community = h('input', { type: 'password', name: 'community', autocomplete: 'new-password', spellcheck: 'false' });
  const user = h('input', { type: 'text', name: 'user', autocomplete: 'off', spellcheck: 'false' });
  const authProto = h('select', { name: 'auth-protocol' }, ['none', 'md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'].map((p) => h('option', { value: p === 'none' ? '' : p, selected: p === 'sha256' }, p === 'none' ? 'none (noAuthNoPriv)' : p.toUpperCase())));
  const authPass = h('input', { type: 'password', name: 'auth-passphrase', autocomplete: 'new-password' });
  const privProto = h('select', { name: 'privacy-protocol' }, ['none', 'des', 'aes', 'aes192', 'aes256'].map((p) => h('option', { value: p === 'none' ? '' : p, selected: p === 'aes' }, p === 'none' ? 'none (no encryption)' : p.toUpperCase())));
  const privPass = h('input', { type: 'password', name: 'privacy-passphrase', autocomplete: 'new-password' });
  const context = h('input', { type: 'text', name: 'context', autocomplete: 'off', spellcheck: 'false' });
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const loc = h('input', { type: 'text', name: 'location', autocomplete: 'off' });
  const anyway = h('input', { name: 'anyway' });

  const communityBox = h('div', { class: 'grid-2 tight' },
    field('Community', community, 'Blank: try the saved profiles (or "public" when there are none). Never shown again once saved.'),
    field('SNMP version', version));
  const v3Box = h('div', { class: 'grid-2 tight', hidden: true },
    field('User', user),
    field('Context', context, 'Usually blank.'),
    field('Authentication protocol', authProto),
    field('Authentication passphrase', authPass),
    field('Privacy protocol', privProto),
    field('Privacy passphrase', privPass));
  const profileBox = h('div', { hidden: true }, field('Saved profile', profileSelect, h('span', null, 'Profiles are edited with the other ', h('a', { href: '#/settings' }, 'SNMP credentials'), '.')));

  const addressField = field('Address', address, KIND_HINTS.snmp);
  const credentialsBox = h('fieldset', null,
    h('legend', null, 'Credentials'),
    field('Credential type', mode),
    profileBox, communityBox, v3Box);
  const keyBox = h('div', { hidden: true },
    field('Key', key, 'The API key (OctoPrint, Moonraker), password or API key (PrusaLink) or LAN access code (Bambu). Empty: the key already kept for this printer, if any; Moonraker and Ultimaker usually need none. It is kept in the secret store and never shown again.'));
  const currentKind = (): Kind => kind.value as Kind;
  const syncKind = () => {
    const k = currentKind();
    credentialsBox.hidden = k !== 'snmp';
    keyBox.hidden = k !== 'fab';
    address.placeholder = KIND_PLACEHOLDERS[k];
    const hint = document.getElementById(`${address.id}-hint`);
    if (hint) hint.textContent = KIND_HINTS[k];
    fill(result);
  };
  kind.addEventListener('change', syncKind);

  const syncMode = () => {
    communityBox.hidden = mode.value !== 'community';
    v3Box.hidden = mode.value !== 'v3';
    profileBox.hidden = mode.value !== 'profile';
    const noAuth = authProto.value === '';
    authPass.disabled = noAuth;
    privProto.disabled = noAuth;
    privPass.disabled = noAuth || privProto.value === '';
  };
  mode.addEventListener('change', syncMode);
  authProto.addEventListener('change', syncMode);
  privProto.addEventListener('change', syncMode);

  const result = h('div', { class: 'test-result', 'aria-live': 'polite' });
  const testBtn = h('button', { type: 'button', class: 'secondary' }, 'Test');
  const saveBtn = h('button', { type: 'submit' }, 'Save');
  const form = h('form', { class: 'card', novalidate: true },
    field('Kind of printer', kind),
    addressField,
    credentialsBox,
    keyBox,
    h('div', { class: 'grid-2 tight' },
      field('Name (optional)', name, 'Empty: the printer\'s own host name.'),
      field('Location (optional)', loc, 'Empty: the location the printer reports.')),
    checkbox('Add it even if it does not answer now', anyway, '(it is tried again on schedule)'),
    result,
    h('div', { class: 'actions' }, testBtn, saveBtn),
  );

  fill(root,
    heading('Add a printer'),
    h('p', { class: 'lead' }, 'Choose the kind of printer, then give its address and how to talk to it. ', h('strong', null, 'Test'), ' reads it once without saving; ', h('strong', null, 'Save'), ' adds it to the printers PrintScout monitors.'),
    form);

  // Saved profiles, when there are any.
  api<SettingsView>('GET', 'settings').then((s) => {
    if (!alive) return;
    profiles = s.credentials;
    if (profiles.length) {
      mode.append(
        h('option', { value: 'profile' }, 'A saved profile'),
        h('option', { value: 'auto' }, 'Try every saved profile'));
      fill(profileSelect, profiles.map((p) => h('option', { value: p.name }, `${p.name} (SNMP ${p.version === '3' ? 'v3' : 'v' + p.version})`)));
    }
  }).catch(() => undefined);

  const credential = (): CredentialInput | null => {
    switch (mode.value) {
      case 'profile': return { profile: profileSelect.value };
      case 'auto': return null;
      case 'v3': {
        const c: CredentialInput = { version: '3', user: user.value.trim() };
        if (authProto.value) { c.auth_protocol = authProto.value; c.auth_passphrase = authPass.value; }
        if (authProto.value && privProto.value) { c.privacy_protocol = privProto.value; c.privacy_passphrase = privPass.value; }
        if (context.value.trim()) c.context = context.value.trim();
        return c;
      }
      default:
        return community.value ? { version: version.value, community: community.value } : null;
    }
  };

  const validate = (): boolean => {
    let ok = true;
    setFieldError(address, null); setFieldError(user, null); setFieldError(authPass, null); setFieldError(privPass, null);
    const k = currentKind();
    const a = address.value.trim();
    const isUrl = a.includes('://');
    if (!a) { setFieldError(address, k === 'snmp' ? 'Type the printer\'s address or host name.' : 'Type the printer\'s URL.'); ok = false; }
    else if (k === 'snmp' && isUrl) { setFieldError(address, 'That is a URL: choose “IPP printer (URL)” or “3D printer (URL)” as the kind, or type only the address.'); ok = false; }
    else if (k === 'ipp' && !/^(ipps?|https?):\/\//i.test(a)) { setFieldError(address, `Type the IPP URL, e.g. ipp://${isUrl ? 'HOST' : a}/ipp/print.`); ok = false; }
    else if (k === 'fab' && !/^(octoprint|moonraker|prusalink|bambu|ultimaker):\/\//i.test(a)) {
      setFieldError(address, `Type the 3D printer's URL with its kind, e.g. prusalink://${isUrl ? 'HOST' : a} or octoprint://${isUrl ? 'HOST' : a}:5000.`); ok = false;
    }
    if (k === 'snmp' && mode.value === 'v3') {
      if (!user.value.trim()) { setFieldError(user, 'SNMPv3 needs a user name.'); ok = false; }
      if (authProto.value && authPass.value.length < 8) { setFieldError(authPass, 'SNMPv3 passphrases have at least 8 characters.'); ok = false; }
      if (authProto.value && privProto.value && privPass.value.length < 8) { setFieldError(privPass, 'SNMPv3 passphrases have at least 8 characters.'); ok = false; }
    }
    if (!ok) (form.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus();
    return ok;
  };

  /** What Test and Save send: the address, and the credential (SNMP) or the key (3D printer). */
  const requestBody = (): Record<string, unknown> => {
    const body: Record<string, unknown> = { address: address.value.trim() };
    const k = currentKind();
    if (k === 'snmp') {
      const c = credential();
      if (c) body.credential = c;
    } else if (k === 'fab' && key.value) {
      body.key = key.value;
    }
    return body;
  };

  const busy = (b: boolean) => { testBtn.disabled = b; saveBtn.disabled = b; };

  testBtn.addEventListener('click', async () => {
    if (!validate()) return;
    busy(true);
    fill(result, waiting(`Waiting for ${address.value.trim()} to answer…`));
    try {
      const body = requestBody();
      const r = await api<TestResult>('POST', 'printers/test', body);
      if (!alive) return;
      fill(result, r.ok && r.reading ? readingView(r) : failure(r.error?.code ?? 'failed', r.error?.message ?? 'The printer did not answer.'));
    } catch (e) {
      if (alive) fill(result, failure(e instanceof ApiError ? e.code : 'failed', errorText(e)));
    } finally { busy(false); }
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!validate()) return;
    busy(true);
    fill(result, waiting(`Reading ${address.value.trim()} before saving it…`));
    try {
      const body = requestBody();
      if (name.value.trim()) body.name = name.value.trim();
      if (loc.value.trim()) body.location = loc.value.trim();
      if (anyway.checked) body.anyway = true;
      const d = await api<PrinterDetail>('POST', 'printers', body);
      community.value = ''; authPass.value = ''; privPass.value = ''; key.value = '';
      location.hash = `#/printers/${d.printer.id}`;
    } catch (err) {
      if (!alive) return;
      const code = err instanceof ApiError ? err.code : 'failed';
      fill(result, failure(code, errorText(err)),
        code === 'no_answer' ? h('p', null, 'To add it anyway (it will be tried on schedule), tick “Add it even if it does not answer now” and Save again.') : null);
      if (code === 'invalid_body' || code === 'bad_request' || code === 'bad_url') setFieldError(address, errorText(err));
      if (code === 'fab_rejected' || code === 'fab_needs_key') key.focus();
    } finally { busy(false); }
  });

  syncMode();
  syncKind();
  return () => { alive = false; };
}

function failure(code: string, message: string): HTMLElement {
  return notice('error',
    h('p', null, h('strong', null, 'No reading. '), message),
    ADVICE[code] ? h('p', null, ADVICE[code]) : null);
}

function readingView(r: TestResult): HTMLElement {
  const rd = r.reading as Reading;
  if (rd.fab) return fabReadingView(r, rd);
  const id = rd.identity ?? {};
  const total = rd.counters?.total;
  const supplies = (rd.supplies ?? []).map((s) => ({
    name: s.description ?? 'Supply',
    kind: s.kind,
    color: s.color,
    percent: s.percent,
    state: typeof s.state === 'string' ? s.state : s.state?.state ?? null,
  }));
  return h('div', { class: 'notice ok reading', role: 'status' },
    h('p', null, h('strong', null, rd.is_printer === false ? 'It answered, but it does not look like a printer. ' : 'The printer answered. '),
      `${r.elapsed_ms} ms${r.credential ? `, with the credential “${r.credential}”` : ''}.`),
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Model'), h('dd', null, [id.vendor, id.model].filter(Boolean).join(' ') || 'unknown')),
      h('div', null, h('dt', null, 'Serial number'), h('dd', null, id.serial ?? 'unknown')),
      id.hostname ? h('div', null, h('dt', null, 'Host name'), h('dd', null, id.hostname)) : null,
      id.location ? h('div', null, h('dt', null, 'Location'), h('dd', null, id.location)) : null,
      h('div', null, h('dt', null, 'Total pages'), h('dd', null, typeof total === 'number' ? num(total) : 'not reported')),
      rd.status?.overall ? h('div', null, h('dt', null, 'Status'), h('dd', null, rd.status.overall + (rd.status.errors?.length ? ` (${rd.status.errors.join(', ')})` : ''))) : null,
    ),
    supplies.length ? h('div', null, h('h2', { class: 'h3' }, 'Supplies'), h('div', { class: 'supply-list' }, supplies.map((s) => supplyBar(s)))) : h('p', null, 'It reports no supplies.'),
    (rd.notes ?? []).length ? h('ul', { class: 'hint' }, (rd.notes ?? []).map((n) => h('li', null, n))) : null,
  );
}

/** A 3D printer's test read: identity, state in the printer's words, the job and temperatures. */
function fabReadingView(r: TestResult, rd: Reading): HTMLElement {
  const id = rd.identity ?? {};
  const f = rd.fab!;
  const job = f.job;
  const inJob = f.state === 'printing' || f.state === 'paused';
  return h('div', { class: 'notice ok reading', role: 'status' },
    h('p', null, h('strong', null, 'The 3D printer answered. '), `${r.elapsed_ms} ms.`),
    h('dl', { class: 'facts' },
      h('div', null, h('dt', null, 'Model'), h('dd', null, [id.vendor, id.model].filter(Boolean).join(' ') || 'unknown')),
      h('div', null, h('dt', null, 'Serial number'), h('dd', null, id.serial ?? 'not reported')),
      id.hostname ? h('div', null, h('dt', null, 'Host name'), h('dd', null, id.hostname)) : null,
      id.firmware ? h('div', null, h('dt', null, 'Firmware'), h('dd', null, id.firmware)) : null,
      h('div', null, h('dt', null, 'State'), h('dd', null, fabBadge(f.state), f.state_text ? ` (the printer says “${f.state_text}”)` : '')),
      job ? h('div', null, h('dt', null, inJob ? 'Job' : 'Last job'), h('dd', null, job.name ?? 'no name',
        inJob ? progressBar(job.progress_percent, 'Job progress') : null,
        inJob ? h('span', { class: 'sub' }, `${duration(job.elapsed_s)} elapsed, ${duration(job.remaining_s)} left`) : null)) : null,
      (f.temperatures ?? []).length ? h('div', null, h('dt', null, 'Temperatures'), h('dd', null,
        (f.temperatures ?? []).map((t) => h('div', null, `${t.name}: ${temperatureWords(t.actual, t.target)}`)))) : null,
      (f.errors ?? []).length ? h('div', null, h('dt', null, 'Errors'), h('dd', { class: 'error-text' }, (f.errors ?? []).join('; '))) : null,
    ),
    (rd.notes ?? []).length ? h('ul', { class: 'hint' }, (rd.notes ?? []).map((n) => h('li', null, n))) : null,
  );
}
