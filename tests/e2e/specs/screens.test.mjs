//! A tour of every screen with a populated service — four lab printers (one healthy
//! colour MFP, a mono laser, one with every error bit, one with supply sentinels), an
//! upload that succeeded — leaving the canonical screenshot of each screen, plus 360 px
//! wide versions. Each screen must have exactly one `<h1>` and every input a label.

import assert from 'node:assert/strict';
import { scenario, nav, configText, screenshot, narrowScreenshot, loaded, FACTS } from '../harness.mjs';

const configure = (lab) => ({
  config: configText(lab, {
    credentials: [{ name: 'lab', version: '2c', community: lab.snmp.community }],
    upload: lab.receiver,
  }),
  secrets: { 'upload-token': lab.receiver.token },
});

/** Exactly one h1, and no input, select or textarea without an accessible name. */
async function checkScreen(page, name) {
  assert.equal(await page.locator('h1').count(), 1, `${name}: one <h1>`);
  const unlabelled = await page.locator('main').evaluate((main) => [...main.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && !el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(unlabelled, [], `${name}: every input is labelled`);
}

scenario('every screen renders with lab printers and leaves its screenshot', { configure }, async ({ page, lab, service }) => {
  for (const device of lab.snmp.devices) {
    const r = await service.api('POST', '/printers', { address: device.address, credential: { profile: 'lab' } });
    assert.ok(r.status < 300, `add ${device.recording}: ${r.status} ${r.text}`);
  }
  const sync = await service.api('POST', '/sync', { wait_s: 30 });
  assert.equal(sync.status, 200, `sync: ${sync.text}`);

  // Printers.
  await nav(page, 'Printers');
  for (const d of lab.snmp.devices) await page.getByRole('row').filter({ hasText: FACTS[d.recording].model }).first().waitFor();
  // The header's engine line catches up with the printers added and the upload done.
  await page.getByRole('banner').getByText(/4 printers:.*synced/).waitFor({ timeout: 20_000 });
  await loaded(page);
  await checkScreen(page, 'printers');
  await screenshot(page, 'printers');
  await narrowScreenshot(page, 'printers');

  // A printer's page, healthy and in error.
  for (const [recording, shot] of [['colour-mfp', 'printer'], ['alerts-errors', 'printer-in-error']]) {
    await nav(page, 'Printers');
    await page.getByRole('row').filter({ hasText: FACTS[recording].model }).getByRole('link').first().click();
    await page.getByText(FACTS[recording].model).first().waitFor();
    await loaded(page);
    await checkScreen(page, shot);
    await screenshot(page, shot);
    if (shot === 'printer') await narrowScreenshot(page, shot);
  }

  // Add a printer, with a test reading shown.
  await nav(page, 'Add a printer');
  await loaded(page);
  await checkScreen(page, 'add-a-printer');
  await page.getByLabel('Address', { exact: true }).fill(lab.snmp.devices[1].address);
  await page.getByLabel('Community', { exact: true }).fill(lab.snmp.community);
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await page.getByText(FACTS['mono-laser'].serial).first().waitFor();
  await page.getByLabel('Community', { exact: true }).fill('');
  await screenshot(page, 'add-a-printer');
  await narrowScreenshot(page, 'add-a-printer');

  // Networks.
  await nav(page, 'Networks');
  await loaded(page);
  await checkScreen(page, 'networks');
  await screenshot(page, 'networks');

  // Sync.
  await nav(page, 'Sync');
  await page.getByText('Uploads are working.').waitFor();
  await loaded(page);
  await checkScreen(page, 'sync');
  await screenshot(page, 'sync');

  // Settings.
  await nav(page, 'Settings');
  await loaded(page);
  await checkScreen(page, 'settings');
  await screenshot(page, 'settings');
  await narrowScreenshot(page, 'settings');
});
