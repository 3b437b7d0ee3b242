//! A 3D printer in the UI: the lab's PrusaLink (the fixture server, HTTP Digest checked for
//! real) printing a job. Add a printer → kind "3D printer (URL)" → its URL and key → a wrong
//! key is "rejected" in words → Test shows it printing → Save opens its page: the state
//! with the printer's own words, the job with a progress bar that moves on "Read now",
//! elapsed and remaining time, temperatures, and the Jobs table; the printers list shows
//! its state word and progress instead of supply bars. The key typed is never echoed.
//! Screenshots of the 3D printer's page at 1280 and 360 px, and of the list.

import assert from 'node:assert/strict';
import { scenario, nav, eventually, loaded, screenshot, narrowScreenshot } from '../harness.mjs';

scenario('a 3D printer added by its URL and key is seen printing with its progress', { lab: { fab: 'prusalink' } }, async ({ page, lab, service, responses }) => {
  const fab = lab.fab;
  assert.ok(fab?.url && fab.key, 'the lab started a 3D printer');

  await nav(page, 'Add a printer');
  await page.getByRole('heading', { level: 1, name: 'Add a printer' }).waitFor();
  await page.getByLabel('Kind of printer').selectOption({ label: '3D printer (URL)' });
  // The SNMP credentials give way to the key field.
  assert.equal(await page.getByLabel('Community', { exact: true }).isVisible(), false, 'no community for a 3D printer');
  await page.getByLabel('Address', { exact: true }).fill(fab.url);

  // A wrong key: the printer answered and refused it — "rejected", not offline.
  await page.getByLabel('Key', { exact: true }).fill('not-the-key');
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await page.getByText(/rejected the password/i).first().waitFor({ timeout: 20_000 });
  assert.match(await page.locator('.test-result').innerText(), /not offline/i, 'the advice says it is not offline');

  // The right key: printing, with its job and progress.
  await page.getByLabel('Key', { exact: true }).fill(fab.key);
  assert.equal(await page.getByLabel('Key', { exact: true }).getAttribute('type'), 'password');
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await page.getByText('The 3D printer answered.').waitFor({ timeout: 20_000 });
  const result = await page.locator('.test-result').innerText();
  assert.match(result, /Printing/);
  assert.match(result, /PRINTING/, 'the printer\'s own word is shown');
  assert.ok(result.includes(fab.job), 'the job name is shown');
  assert.ok(result.includes(fab.serial), 'the serial is shown');
  await screenshot(page, 'add-a-3d-printer');

  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const added = await eventually('the 3D printer is stored', async () => {
    const r = await service.api('GET', '/printers');
    return r.json?.find?.((p) => p.protocol === 'prusalink');
  });
  assert.equal(added.fab?.state, 'printing');
  await page.waitForURL(new RegExp(`#/printers/${added.id}$`));

  // Its page: the state and the printer's words, the job with a progress bar, times, temperatures, jobs.
  await page.getByRole('heading', { level: 1 }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Now' }).waitFor();
  await loaded(page);
  const main = page.locator('main');
  assert.match(await main.innerText(), /The printer says\s*.?PRINTING/);
  await page.getByText(fab.job).first().waitFor();
  const bar = page.getByRole('progressbar', { name: 'Job progress' });
  const before = Number(await bar.getAttribute('value'));
  assert.ok(before >= 37 && before < 100, `progress ${before}`);
  const text = await main.innerText();
  assert.match(text, /Elapsed/);
  assert.match(text, /Remaining\s+\d+ h \d+ min|Remaining\s+\d+ min/);
  assert.match(text, /Nozzle/i);
  assert.match(text, /°C \(target 240 °C\)/);
  assert.match(text, /Key\s+set/, 'the page says a key is kept, never the key');
  // The Jobs table: the job running, seen at polls (PrusaLink keeps no history).
  const jobs = page.locator('section[aria-labelledby="sec-jobs"]');
  await jobs.getByRole('cell', { name: fab.job }).waitFor();
  assert.match(await jobs.innerText(), /running/i);
  assert.match(await jobs.innerText(), /seen at polls/);

  // Read now: the progress moves on (the lab's printer advances 1 % every 2 s).
  await new Promise((r) => setTimeout(r, 2500));
  await page.getByRole('button', { name: 'Read now' }).click();
  await eventually('the progress bar moved on', async () => Number(await bar.getAttribute('value')) > before, 20_000);
  await page.getByText('Read done.').waitFor({ timeout: 20_000 });
  await loaded(page);

  await screenshot(page, 'printer-3d');
  await narrowScreenshot(page, 'printer-3d');

  // It finishes: after a read the page says so and the job is completed in the Jobs table.
  await lab.command('fab finish');
  await page.getByRole('button', { name: 'Read now' }).click();
  await page.getByText('Read done.').waitFor({ timeout: 20_000 });
  await eventually('the job is completed', async () => /Completed/.test(await jobs.innerText()), 20_000);
  assert.match(await page.locator('h1').first().locator('..').innerText(), /Finished/);
  await lab.command('fab print bracket_v2.bgcode');

  // The printers list: the state word and the progress instead of supply bars.
  const printing = await eventually('the printer is printing again', async () => {
    await service.api('POST', `/printers/${added.id}/poll`, {});
    await new Promise((r) => setTimeout(r, 700));
    const r = await service.api('GET', `/printers/${added.id}`);
    return r.json?.printer?.fab?.state === 'printing' && r.json.printer.fab.job?.name === 'bracket_v2.bgcode';
  }, 20_000, 500);
  assert.ok(printing);
  await nav(page, 'Printers');
  await page.getByRole('heading', { level: 1, name: 'Printers' }).waitFor();
  const row = page.getByRole('row').filter({ hasText: 'bracket_v2.bgcode' });
  await row.waitFor();
  const rowText = await row.innerText();
  assert.match(rowText, /Printing/);
  assert.match(rowText, /\d+(\.\d)?%/, 'the progress is in the row');
  assert.equal(await row.locator('.supply').count(), 0, 'no supply bars for a 3D printer');
  await row.getByRole('progressbar').waitFor();
  await loaded(page);
  await screenshot(page, 'printers-with-3d');
  await narrowScreenshot(page, 'printers-with-3d');

  // The key typed was never echoed: not in the page, nor in any response it got.
  assert.ok(!(await page.content()).includes(fab.key), 'the key is not in the DOM');
  for (const r of await responses.settle()) {
    assert.ok(!r.text.includes(fab.key), `the key is in the response of ${r.url}`);
  }
  assert.ok(!service.log().includes(fab.key), 'the key is not in the service log');
});
