//! Sync: the status changes when the test upload receiver goes down (an error in words)
//! and back when it comes up again (last success, no error). The receiver is the test
//! kit's HTTPS server with its own CA; the site token is in the file secret store.

import assert from 'node:assert/strict';
import { scenario, nav, configText, screenshot, narrowScreenshot, eventually } from '../harness.mjs';

const configure = (lab) => ({
  config: configText(lab, {
    credentials: [{ name: 'lab', version: '2c', community: lab.snmp.community }],
    upload: lab.receiver,
  }),
  secrets: { 'upload-token': lab.receiver.token },
});

scenario('sync shows the receiver going down in words and coming back', { configure }, async ({ page, lab, service }) => {
  // Something to send: a printer polled once queues its readings.
  const add = await service.api('POST', '/printers', { address: lab.snmp.devices[0].address, credential: { profile: 'lab' } });
  assert.ok(add.status < 300, `add a printer: ${add.status} ${add.text}`);

  await lab.command('receiver down');
  await nav(page, 'Sync');
  await page.getByRole('heading', { level: 1, name: 'Sync' }).waitFor();
  await page.getByRole('button', { name: 'Sync now' }).click();
  // The error in words (it could not connect), not just a code.
  const error = page.locator('.notice').filter({ hasText: 'The last upload failed' }).first();
  await error.waitFor({ timeout: 30_000 });
  assert.match(await error.innerText(), /connect|refused|not answer|unreachable/i, 'the failure is said in words');
  await screenshot(page, 'sync-receiver-down');
  const down = await service.api('GET', '/sync');
  assert.ok(down.json?.error, `the API reports the error too: ${down.text}`);

  await lab.command('receiver up');
  await page.getByRole('button', { name: 'Sync now' }).click();
  await eventually('the error is gone from the page', async () => !(await error.isVisible()), 30_000);
  const up = await eventually('the upload succeeded', async () => {
    const r = await service.api('GET', '/sync');
    return r.json?.last_success ? r.json : null;
  }, 30_000);
  assert.ok(!up.error, `no error after a success: ${JSON.stringify(up.error)}`);
  const count = await lab.command('receiver count');
  const uploads = Number(count.split(' ')[2]);
  assert.ok(uploads >= 1, `the receiver got the batch: ${count}`);
  await page.getByText('Uploads are working.').waitFor();
  await screenshot(page, 'sync-receiver-back');
  await narrowScreenshot(page, 'sync-receiver-back');

  // "Test connection" reaches the receiver directly (no proxy is configured).
  await page.getByRole('button', { name: 'Test connection' }).click();
  const result = page.locator('.action-result').filter({ hasText: 'Connection test to' });
  await result.waitFor({ timeout: 20_000 });
  assert.match(await result.innerText(), /\bOK\b/, 'the direct path is OK');
});
