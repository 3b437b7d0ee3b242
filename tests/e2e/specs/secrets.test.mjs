//! Credentials are never echoed: a community, SNMPv3 passphrases and the upload token
//! typed into Settings and saved are stored (the config file and the secret store have
//! them), and after a reload none of them appears in the DOM, in browser storage, in
//! any response body the page received (API, HTML, scripts), in the served HTML, in
//! `GET /settings` or in the service's log; each field says "set" instead.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scenario, nav, configText, loaded, sentinel, screenshot } from '../harness.mjs';

const configure = (lab) => ({ config: configText(lab, { upload: { url: lab.receiver.url, ca_file: lab.receiver.ca_file } }) });

scenario('secrets typed in settings are stored but never shown again', { configure }, async ({ page, service, responses }) => {
  const secrets = {
    community: sentinel('community'),
    auth: sentinel('authpass'),
    priv: sentinel('privpass'),
    token: sentinel('uploadtoken'),
  };
  await nav(page, 'Settings');
  await loaded(page);

  // A v2c profile with a community.
  await page.getByRole('button', { name: 'Add a profile' }).click();
  let profile = page.getByRole('group', { name: 'New profile' }).last();
  await profile.getByLabel('Profile name').fill('e2e-v2');
  await profile.getByLabel('Community', { exact: true }).fill(secrets.community);
  // A v3 profile with both passphrases.
  await page.getByRole('button', { name: 'Add a profile' }).click();
  profile = page.getByRole('group', { name: 'New profile' }).last();
  await profile.getByLabel('Profile name').fill('e2e-v3');
  await profile.getByLabel('SNMP version').selectOption('3');
  await profile.getByLabel('SNMPv3 user').fill('monitor');
  await profile.getByLabel('Authentication protocol').selectOption('sha256');
  await profile.getByLabel('Authentication passphrase').fill(secrets.auth);
  await profile.getByLabel('Privacy protocol').selectOption('aes');
  await profile.getByLabel('Privacy passphrase').fill(secrets.priv);
  // The upload token.
  await page.getByLabel('Upload token').fill(secrets.token);

  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Saved.', { exact: true }).waitFor();

  // Stored for real: the config file (0600) holds the SNMP secrets, the file secret
  // store the token — so the checks below are not passing on an empty save.
  const config = readFileSync(service.configFile, 'utf8');
  for (const k of ['community', 'auth', 'priv']) assert.ok(config.includes(secrets[k]), `the ${k} secret was saved`);
  assert.ok(readFileSync(join(service.data, 'secrets.json'), 'utf8').includes(secrets.token), 'the token was saved');

  // Reload: every field says "set" and is empty.
  await page.reload();
  await nav(page, 'Settings');
  await loaded(page);
  const v2 = page.getByRole('group', { name: 'Profile e2e-v2' });
  const v3 = page.getByRole('group', { name: 'Profile e2e-v3' });
  await v2.getByText('set', { exact: true }).waitFor();
  assert.equal(await v3.getByText('set', { exact: true }).count(), 2, 'both passphrases say "set"');
  const uploadSection = page.getByRole('region', { name: 'Upload' });
  await uploadSection.getByText('set', { exact: true }).waitFor();
  await screenshot(page, 'settings-secrets-set');
  const values = await page.locator('input[type=password]').evaluateAll((els) => els.map((e) => e.value));
  assert.ok(values.every((v) => v === ''), 'every secret input is empty');

  // Nowhere: the DOM, browser storage, every response the page got, the served HTML,
  // the settings the API returns, and the service's log.
  const places = [];
  places.push(['the DOM', await page.content()]);
  places.push(['browser storage', await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }))]);
  for (const r of await responses.settle()) places.push([`the response of ${r.url}`, r.text]);
  for (const path of ['/', '/index.html', '/settings']) {
    places.push([`the served HTML at ${path}`, await (await fetch(`${service.base}${path}`)).text()]);
  }
  places.push(['GET /settings', (await service.api('GET', '/settings')).text]);
  places.push(['the service log', service.log()]);
  assert.ok(responses.length > 5, 'the page got responses to look in');
  for (const [where, text] of places) {
    for (const [k, v] of Object.entries(secrets)) assert.ok(!text.includes(v), `the ${k} secret is in ${where}`);
  }
  const settings = (await service.api('GET', '/settings')).json;
  assert.equal(settings.upload.token_set, true);
  const byName = Object.fromEntries(settings.credentials.map((c) => [c.name, c]));
  assert.equal(byName['e2e-v2'].community_set, true);
  assert.equal(byName['e2e-v3'].auth_passphrase_set, true);
  assert.equal(byName['e2e-v3'].privacy_passphrase_set, true);
});
