//! Networks: select the lab's subnet (a custom range), Scan now, see the progress bar,
//! and the printers arrive live — then they are on the printers list.
//! Only the lab's /29 on loopback is ever scanned (the harness aborts anything else).

import assert from 'node:assert/strict';
import { scenario, nav, configText, screenshot, narrowScreenshot, FACTS, eventually } from '../harness.mjs';

// The scan tries the configured credential profiles: one for the lab's community.
const configure = (lab) => ({
  config: configText(lab, { credentials: [{ name: 'lab', version: '2c', community: lab.snmp.community }] }),
});

scenario('a scan of the selected subnet shows its progress and the printers as they arrive', { configure }, async ({ page, lab, service }) => {
  const block = lab.snmp.block;
  await nav(page, 'Networks');
  await page.getByRole('heading', { level: 1, name: 'Networks' }).waitFor();

  // Add the lab's block as a custom range and select it.
  const range = page.getByLabel('Custom range', { exact: true });
  await range.fill(block);
  await page.getByRole('button', { name: 'Add range' }).click();
  const box = page.getByRole('checkbox', { name: block, exact: true });
  await box.waitFor();
  if (!(await box.isChecked())) await box.check();
  // This computer's own subnets are listed too: untick them (never scanned here).
  for (const other of await page.getByRole('checkbox', { checked: true }).all()) {
    const name = await other.evaluate((el) => el.labels?.[0]?.innerText ?? el.getAttribute('aria-label') ?? '');
    if (name.trim() !== block) await other.uncheck();
  }
  await page.getByRole('button', { name: 'Save selection' }).click();
  await page.getByText(/selection saved/i).waitFor();

  await page.getByRole('button', { name: 'Scan now' }).click();
  // The progress bar shows while it runs (the sweep waits for the SNMP timeout of the
  // addresses nobody answers on).
  await page.getByRole('progressbar', { name: 'Scan progress' }).waitFor({ timeout: 10_000 });
  await page.getByText('Scanning', { exact: true }).waitFor({ timeout: 10_000 });
  await screenshot(page, 'networks-scanning');

  // The printers arrive live on the screen, each by its model.
  for (const recording of ['colour-mfp', 'mono-laser', 'alerts-errors', 'sentinel-supplies']) {
    await page.getByText(FACTS[recording].model).first().waitFor({ timeout: 30_000 });
  }
  await eventually('the scan is finished', async () => {
    const r = await service.api('GET', '/scans');
    const scans = Array.isArray(r.json) ? r.json : r.json?.scans ?? [];
    return scans.length > 0 && scans.every((s) => s.state !== 'running' && !s.running);
  }, 30_000);
  // The header's engine line counts the printers the scan added.
  await page.getByRole('banner').getByText(/4 printers:/).waitFor({ timeout: 20_000 });
  await screenshot(page, 'networks-scanned');
  await narrowScreenshot(page, 'networks-scanned');

  // The selection was saved, with the lab's block only.
  const nets = await service.api('GET', '/networks');
  const selected = JSON.stringify(nets.json);
  assert.ok(selected.includes(block), `the block is listed: ${selected}`);

  // And the printers are monitored.
  await nav(page, 'Printers');
  for (const recording of ['colour-mfp', 'mono-laser', 'alerts-errors', 'sentinel-supplies']) {
    await page.getByRole('row').filter({ hasText: FACTS[recording].model }).first().waitFor({ timeout: 20_000 });
  }
});
