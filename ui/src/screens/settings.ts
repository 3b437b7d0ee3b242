// Settings: schedules, thresholds, notifications (when the API has them),
// SNMP and its credential profiles, discovery, upload, e-mail, proxy and
// Start at login. One form; "Save settings" sends only what changed
// (PATCH /settings) and shows the API's message next to the field it names.
//
// Invariant: secrets are write-only. Their inputs are type=password, start
// empty, are never filled from the API (which only says *_set), and show
// "set" / "not set"; typing replaces the secret, "Clear" deletes it.

import { api, ApiError, errorText, inTauri } from '../api';
import { errorBox, heading, notice, setThresholds, waiting } from '../components';
import { checkbox, field, fill, h, nextId, setFieldError } from '../dom';
import type { Cleanup } from '../main';
import type { CredentialView, SettingsView } from '../types';

type Control = HTMLInputElement | HTMLSelectElement;
interface Binding { key: string; el: Control; orig: unknown; read(): unknown }

const CONDITIONS: Array<[string, string]> = [
  ['paper_jam', 'Paper jam'], ['door_open', 'Door open'], ['out_of_paper', 'Out of paper'],
  ['toner_empty', 'Toner empty'], ['offline', 'Printer offline'], ['supply_low', 'Supply low'],
];

/** A write-only secret: a password input, "set"/"not set", and Clear. */
class SecretField {
  input: HTMLInputElement;
  clear = false;
  el: HTMLElement;
  private state: HTMLElement;
  private clearBtn: HTMLButtonElement;
  constructor(public key: string, label: string, private isSet: boolean) {
    this.input = h('input', { type: 'password', autocomplete: 'new-password', spellcheck: 'false', 'data-key': key, placeholder: isSet ? 'type to replace' : '' });
    this.state = h('span', { class: 'secret-state' });
    // Named "Clear" and described by the field's label (an aria-label naming
    // the field would make getByLabel('Community') match the button too).
    this.clearBtn = h('button', { type: 'button', class: 'link-button' }, 'Clear');
    this.clearBtn.addEventListener('click', () => { this.clear = !this.clear; if (this.clear) this.input.value = ''; this.render(); });
    this.input.addEventListener('input', () => { if (this.input.value) this.clear = false; this.render(); });
    const f = field(label, this.input);
    const lab = f.querySelector('label');
    if (lab) { lab.id = `${this.input.id}-label`; this.clearBtn.setAttribute('aria-describedby', lab.id); }
    lab?.after(h('span', { class: 'secret-line' }, this.state, ' ', this.clearBtn));
    this.input.setAttribute('aria-describedby', `${this.stateId()} ${this.input.getAttribute('aria-describedby') ?? ''}`.trim());
    this.el = f;
    this.render();
  }
  private stateId(): string {
    if (!this.state.id) this.state.id = nextId('secret');
    return this.state.id;
  }
  private render(): void {
    this.state.textContent = this.clear ? 'will be cleared' : this.input.value ? 'will be replaced' : this.isSet ? 'set' : 'not set';
    this.state.className = `secret-state ${this.clear ? 'clearing' : this.isSet ? 'is-set' : 'not-set'}`;
    this.clearBtn.hidden = !this.isSet;
    this.clearBtn.textContent = this.clear ? 'Keep' : 'Clear';
  }
  /** The patch value: absent (undefined) keeps, "" deletes, text replaces. */
  value(): string | undefined {
    if (this.input.value) return this.input.value;
    return this.clear ? '' : undefined;
  }
}

interface ProfileRow { orig: CredentialView | null; el: HTMLElement; read(): Record<string, unknown>; changed(): boolean }

export function settingsScreen(root: HTMLElement): Cleanup {
  let alive = true;
  const body = h('div', null, waiting('Loading settings…'));
  fill(root, heading('Settings'), body);

  const load = async () => {
    fill(body, waiting('Loading settings…'));
    try {
      const s = await api<SettingsView>('GET', 'settings');
      if (alive) build(s);
    } catch (e) {
      if (alive) fill(body, errorBox('Could not load the settings.', e, load));
    }
  };

  const build = (s: SettingsView, flash?: HTMLElement) => {
    setThresholds(s);
    const bindings: Binding[] = [];
    const secrets: SecretField[] = [];
    const text = (key: string, value: string, attrs: Record<string, string> = {}) => {
      const el = h('input', { type: 'text', value, autocomplete: 'off', spellcheck: 'false', 'data-key': key, ...attrs });
      bindings.push({ key, el, orig: value, read: () => el.value.trim() });
      return el;
    };
    const number = (key: string, value: number, attrs: Record<string, string> = {}) => {
      const el = h('input', { type: 'number', value: String(value), 'data-key': key, inputmode: 'decimal', ...attrs });
      bindings.push({ key, el, orig: value, read: () => (el.value.trim() === '' ? null : Number(el.value)) });
      return el;
    };
    const bool = (key: string, value: boolean) => {
      const el = h('input', { type: 'checkbox', checked: value, 'data-key': key });
      bindings.push({ key, el, orig: value, read: () => el.checked });
      return el;
    };
    const select = (key: string, value: string, options: Array<[string, string]>) => {
      const el = h('select', { 'data-key': key }, options.map(([v, l]) => h('option', { value: v, selected: v === value }, l)));
      bindings.push({ key, el, orig: value, read: () => el.value });
      return el;
    };
    const list = (key: string, value: string[]) => {
      const el = h('input', { type: 'text', value: value.join(', '), autocomplete: 'off', 'data-key': key });
      bindings.push({ key, el, orig: value, read: () => el.value.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean) });
      return el;
    };
    const secret = (key: string, label: string, isSet: boolean) => {
      const f = new SecretField(key, label, isSet);
      secrets.push(f);
      return f.el;
    };
    const section = (id: string, title: string, ...children: Array<Node | null>) =>
      h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...children);

    const sc = s.schedule;
    const schedules = section('set-schedule', 'Schedules',
      h('p', { class: 'hint' }, 'Durations like 30s, 5m, 1h, 1d or "3d 12h".'),
      h('div', { class: 'grid-3' },
        field('Status poll every', text('schedule.status_every', sc.status_every)),
        field('Full read every', text('schedule.meters_every', sc.meters_every), 'Counters and supplies.'),
        field('3D job history every', text('schedule.jobs_every', sc.jobs_every)),
        field('Rediscovery every', text('schedule.rediscover_every', sc.rediscover_every), 'Searching the selected networks again.'),
        field('Report every', text('schedule.report_every', sc.report_every)),
        field('Daily report at', text('schedule.report_at', sc.report_at, { placeholder: 'HH:MM' }), 'Local time, HH:MM.'),
      ));

    const th = s.thresholds;
    const thresholds = section('set-thresholds', 'Thresholds',
      h('div', { class: 'grid-3' },
        field('Low supply threshold (%)', number('thresholds.supply_low_percent', th.supply_low_percent, { min: '0', max: '100', step: 'any' }), 'A supply at or under this is low.'),
        field('Empty supply threshold (%)', number('thresholds.supply_empty_percent', th.supply_empty_percent, { min: '0', max: '100', step: 'any' }), 'At or under this, empty.'),
        field('Offline after (failed polls)', number('thresholds.offline_after', th.offline_after, { min: '1', step: '1' }), 'Failed polls in a row.'),
      ));

    let notifications: HTMLElement | null = null;
    let notifRead: (() => Record<string, unknown> | null) | null = null;
    if (s.notifications) {
      const n = s.notifications;
      const enabled = h('input', { 'data-key': 'notifications.enabled', checked: n.enabled });
      const boxes = CONDITIONS.map(([k, label]) => { const cb = h('input', { checked: n.on.includes(k), value: k }); return { k, cb, el: checkbox(label, cb) }; });
      const repeat = h('input', { type: 'text', value: n.repeat_after, autocomplete: 'off', 'data-key': 'notifications.repeat_after' });
      notifications = section('set-notif', 'Notifications',
        checkbox('Show desktop notifications', enabled),
        h('fieldset', null, h('legend', null, 'Notify about'), h('div', { class: 'checks-grid' }, boxes.map((b) => b.el))),
        field('Do not repeat within', repeat, 'The same printer and condition is not announced again within this time (e.g. 1h).'));
      notifRead = () => {
        const on = boxes.filter((b) => b.cb.checked).map((b) => b.k);
        const next = { enabled: enabled.checked, on, repeat_after: repeat.value.trim() };
        const same = next.enabled === n.enabled && next.repeat_after === n.repeat_after && JSON.stringify([...on].sort()) === JSON.stringify([...n.on].sort());
        return same ? null : next;
      };
    }

    // Credential profiles.
    const profiles: ProfileRow[] = [];
    const profileList = h('div', { class: 'profiles' });
    const renderProfiles = () => fill(profileList, profiles.length ? profiles.map((p) => p.el) : h('p', { class: 'muted' }, 'No profiles: printers are asked with the community "public". Add one for your printers\' community or SNMPv3 user.'));
    const addProfile = (c: CredentialView | null) => {
      const name = h('input', { type: 'text', value: c?.name ?? '', autocomplete: 'off', 'data-key': 'credentials.name' });
      const version = h('select', null, [['2c', 'v2c'], ['1', 'v1'], ['3', 'v3']].map(([v, l]) => h('option', { value: v, selected: v === (c?.version ?? '2c') }, l)));
      const community = new SecretField('credentials.community', 'Community', c?.community_set ?? false);
      const user = h('input', { type: 'text', value: c?.user ?? '', autocomplete: 'off' });
      const authProto = h('select', null, ['', 'md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'].map((v) => h('option', { value: v, selected: v === (c?.auth_protocol ?? '') }, v ? v.toUpperCase() : 'none')));
      const authPass = new SecretField('credentials.auth_passphrase', 'Authentication passphrase', c?.auth_passphrase_set ?? false);
      const privProto = h('select', null, ['', 'des', 'aes', 'aes192', 'aes256'].map((v) => h('option', { value: v, selected: v === (c?.privacy_protocol ?? '') }, v ? v.toUpperCase() : 'none')));
      const privPass = new SecretField('credentials.privacy_passphrase', 'Privacy passphrase', c?.privacy_passphrase_set ?? false);
      const context = h('input', { type: 'text', value: c?.context ?? '', autocomplete: 'off' });
      const legend = h('legend', null, c ? `Profile ${c.name}` : 'New profile');
      const v12 = h('div', { class: 'grid-3' }, community.el);
      const v3 = h('div', { class: 'grid-3' }, field('SNMPv3 user', user), field('Authentication protocol', authProto), authPass.el, field('Privacy protocol', privProto), privPass.el, field('Context', context));
      const sync = () => { v12.hidden = version.value === '3'; v3.hidden = version.value !== '3'; };
      version.addEventListener('change', sync);
      const remove = h('button', { type: 'button', class: 'link-button danger-text' }, 'Remove profile');
      const el = h('fieldset', { class: 'profile' }, legend,
        h('div', { class: 'grid-3' }, field('Profile name', name, c ? 'Renaming needs its secret typed again.' : null), field('SNMP version', version)),
        v12, v3, h('div', { class: 'actions' }, remove));
      sync();
      const row: ProfileRow = {
        orig: c, el,
        read: () => {
          const out: Record<string, unknown> = { name: name.value.trim(), version: version.value };
          if (version.value === '3') {
            out.user = user.value.trim() || null;
            out.auth_protocol = authProto.value || null;
            out.privacy_protocol = privProto.value || null;
            const a = authPass.value(); if (a !== undefined) out.auth_passphrase = a;
            const p = privPass.value(); if (p !== undefined) out.privacy_passphrase = p;
          } else {
            const cm = community.value(); if (cm !== undefined) out.community = cm;
          }
          if (context.value.trim()) out.context = context.value.trim();
          return out;
        },
        changed: () => {
          if (!c) return true;
          const r = row.read();
          return r.name !== c.name || r.version !== c.version || ['community', 'auth_passphrase', 'privacy_passphrase'].some((k) => k in r)
            || (c.version === '3' && (r.user !== (c.user ?? null) || r.auth_protocol !== (c.auth_protocol ?? null) || r.privacy_protocol !== (c.privacy_protocol ?? null)))
            || (context.value.trim() || null) !== (c.context ?? null);
        },
      };
      remove.addEventListener('click', () => {
        profiles.splice(profiles.indexOf(row), 1);
        profilesTouched = true;
        renderProfiles();
        addBtn.focus();
      });
      profiles.push(row);
      return row;
    };
    let profilesTouched = false;
    for (const c of s.credentials) addProfile(c);
    const addBtn = h('button', { type: 'button', class: 'secondary' }, 'Add a profile');
    addBtn.addEventListener('click', () => { const r = addProfile(null); profilesTouched = true; renderProfiles(); (r.el.querySelector('input') as HTMLInputElement).focus(); });
    renderProfiles();
    const credentials = section('set-cred', 'SNMP credentials',
      h('p', { class: 'hint' }, 'Profiles are tried in this order on printers that do not have a working one yet. Secrets are never shown: a field says whether one is set; type to replace it.'),
      h('div', { class: 'field-error-slot', 'data-key': 'credentials' }),
      profileList, addBtn);

    const sn = s.snmp;
    const snmp = section('set-snmp', 'SNMP',
      h('div', { class: 'grid-3' },
        field('SNMP port', number('snmp.port', sn.port, { min: '1', max: '65535' })),
        field('SNMP timeout', text('snmp.timeout', sn.timeout), 'Per request, e.g. 2s.'),
        field('SNMP retries', number('snmp.retries', sn.retries, { min: '0' })),
        field('SNMP packets per second', number('snmp.rate', sn.rate, { min: '1' })),
        field('Printers polled at once', number('snmp.concurrency', sn.concurrency, { min: '1' })),
      ));

    const d = s.discovery;
    const discovery = section('set-disc', 'Discovery',
      h('p', { class: 'hint' }, 'Which networks are searched: see the ', h('a', { href: '#/networks' }, 'network selection'), '.'),
      checkbox('Broadcast on the selected networks', bool('discovery.broadcast', d.broadcast)),
      checkbox('Browse DNS-SD (mDNS)', bool('discovery.dns_sd', d.dns_sd)),
      checkbox('List this computer\'s print queues', bool('discovery.local_queues', d.local_queues)),
      checkbox('Allow public address space', bool('discovery.allow_public', d.allow_public)),
      h('div', { class: 'grid-3' }, field('Discovery probes per second', number('discovery.rate', d.rate, { min: '1' }))));

    const u = s.upload;
    const upload = section('set-upload', 'Upload',
      h('div', { class: 'grid-2' },
        field('Upload URL', text('upload.url', u.url, { type: 'url', placeholder: 'https://…' }), 'Empty: no upload.'),
        field('Extra CA file', text('upload.ca_file', u.ca_file ?? ''), 'A PEM file to trust as well (a private CA); empty: none.'),
        secret('upload.token', 'Upload token', u.token_set)));

    const e = s.email;
    const email = section('set-email', 'E-mail reports',
      h('div', { class: 'grid-2' },
        field('SMTP server', text('email.smtp_url', e.smtp_url, { placeholder: 'smtps://mail.example.com:465' }), 'smtp://host:port or smtps://host:port; empty: no e-mail.'),
        field('Sender address', text('email.from', e.from)),
        field('Recipients', list('email.to', e.to), 'Separated by commas.'),
        field('SMTP user', text('email.user', e.user)),
        secret('email.password', 'SMTP password', e.password_set)));

    const p = s.proxy;
    const proxyMode = select('proxy.mode', p.mode, [['system', 'System setting'], ['environment', 'Environment variables'], ['manual', 'Manual'], ['none', 'None (direct)']]);
    const manualBox = h('div', { class: 'grid-3' },
      field('Proxy URL', text('proxy.url', p.url, { placeholder: 'http://proxy.example.com:3128' })),
      field('Proxy user', text('proxy.user', p.user)),
      secret('proxy.password', 'Proxy password', p.password_set));
    const syncProxy = () => { manualBox.hidden = proxyMode.value !== 'manual'; };
    proxyMode.addEventListener('change', syncProxy);
    syncProxy();
    const proxy = section('set-proxy', 'Proxy', field('Proxy mode', proxyMode), manualBox);

    const startAtLogin = section('set-login', 'Start at login', autostartControl());

    const store = section('set-store', 'Where secrets are kept',
      h('p', null, s.secret_store === 'file' ? 'In a file readable only by this account (opted in).' : 'In the operating system\'s keychain.'),
      s.secret_store_error ? notice('warning', h('strong', null, 'Credentials cannot be stored now: '), s.secret_store_error.message) : null,
      h('p', { class: 'hint' }, 'Settings are saved in ', h('code', null, s.config_file), '.'));

    const msg = h('div', { class: 'save-message', 'aria-live': 'polite' });
    const saveBtn = h('button', { type: 'submit' }, 'Save settings');
    const form = h('form', { class: 'settings-form', novalidate: true },
      schedules, thresholds, notifications, credentials, upload, email, proxy, snmp, discovery,
      h('div', { class: 'save-bar' }, saveBtn, msg));

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      for (const b of bindings) setFieldError(b.el, null);
      for (const sf of secrets) setFieldError(sf.input, null);
      form.querySelectorAll('.field-error-slot').forEach((x) => fill(x));
      const patch: Record<string, Record<string, unknown> | unknown[]> = {};
      const put = (key: string, value: unknown) => {
        const [sec, k] = key.split('.');
        const o = (patch[sec] ??= {}) as Record<string, unknown>;
        o[k] = value;
      };
      for (const b of bindings) {
        const v = b.read();
        if (JSON.stringify(v) !== JSON.stringify(b.orig)) put(b.key, v);
      }
      for (const sf of secrets) {
        if (sf.key.startsWith('credentials.')) continue;
        const v = sf.value();
        if (v !== undefined) put(sf.key, v);
      }
      if (notifRead) { const n = notifRead(); if (n) patch.notifications = n; }
      if (profilesTouched || profiles.length !== s.credentials.length || profiles.some((r) => r.changed())) {
        const rows = profiles.map((r) => r.read());
        const names = rows.map((r) => r.name);
        const bad = profiles.find((r) => !(r.read().name as string));
        if (bad) {
          const nameInput = bad.el.querySelector('input') as HTMLInputElement;
          setFieldError(nameInput, 'A profile needs a name.');
          nameInput.focus();
          return;
        }
        if (new Set(names).size !== names.length) { fill(msg, notice('error', 'Two profiles have the same name.')); return; }
        patch.credentials = rows;
      }
      if (Object.keys(patch).length === 0) { fill(msg, notice('info', 'Nothing changed.')); return; }
      saveBtn.disabled = true;
      fill(msg, waiting('Saving…'));
      try {
        const next = await api<SettingsView>('PATCH', 'settings', patch);
        if (!alive) return;
        build(next, notice('ok', 'Saved.'));
      } catch (err) {
        saveBtn.disabled = false;
        const text = errorText(err);
        const target = err instanceof ApiError ? placeError(form, text) : null;
        fill(msg, notice('error', h('strong', null, 'Not saved. '), text));
        if (target) target.focus();
      }
    });

    fill(body,
      flash ?? null,
      h('p', { class: 'lead' }, 'Changes apply when you save; the collector is rescheduled at once.'),
      form,
      startAtLogin,
      store,
    );
    if (flash) { fill(msg, flash); }
  };

  load();
  return () => { alive = false; };
}

/** Puts `message` next to the field whose dotted key it names; returns that field. */
function placeError(form: HTMLElement, message: string): HTMLElement | null {
  const fields = [...form.querySelectorAll<HTMLElement>('[data-key]')];
  let best: HTMLElement | null = null;
  let bestLen = 0;
  for (const f of fields) {
    const key = f.getAttribute('data-key') ?? '';
    const re = new RegExp(`(^|[\\s:(])${key.replace(/\./g, '\\.').replace(/_/g, '_')}(\\b|\\[)`);
    if (key.length > bestLen && re.test(message)) { best = f; bestLen = key.length; }
  }
  if (!best) {
    // "credentials[1].community" and similar: the section's slot.
    if (/credentials/.test(message)) {
      const slot = form.querySelector('.field-error-slot[data-key="credentials"]');
      if (slot) fill(slot, notice('error', message));
    }
    return null;
  }
  if (best.classList.contains('field-error-slot')) { fill(best, notice('error', message)); return null; }
  setFieldError(best, message);
  return best;
}

function autostartControl(): HTMLElement {
  if (!inTauri()) {
    return h('p', null, 'Available in the desktop app; headless installs start as a service.');
  }
  const cb = h('input', { type: 'checkbox', disabled: true });
  const msg = h('span', { class: 'sub', 'aria-live': 'polite' }, ' Checking…');
  const wrap = h('div', null, checkbox('Start PrintScout at login', cb), msg);
  import('@tauri-apps/api/core').then(async ({ invoke }) => {
    try {
      cb.checked = await invoke<boolean>('autostart_get');
      cb.disabled = false;
      msg.textContent = '';
    } catch (e) { msg.textContent = ` Cannot tell: ${errorText(e)}`; }
    cb.addEventListener('change', async () => {
      cb.disabled = true;
      try {
        await invoke('autostart_set', { enabled: cb.checked });
        msg.textContent = cb.checked ? ' PrintScout starts when you log in.' : ' PrintScout no longer starts at login.';
      } catch (e) {
        cb.checked = !cb.checked;
        msg.textContent = ` Not changed: ${errorText(e)}`;
      } finally { cb.disabled = false; }
    });
  }).catch((e) => { msg.textContent = ` Unavailable: ${errorText(e)}`; });
  return wrap;
}
