//! Add a printer: address + community → Test shows the reading → Save → its supplies on
//! the printers list and on its page. A wrong community is an error in words, and the
//! community typed is never echoed back.

import assert from 'node:assert/strict';
import { scenario, nav, FACTS, sentinel, numberPattern, eventually } from '../harness.mjs';

const community = sentinel('community');

scenario('a printer added by address and community shows its supplies', { lab: { community } }, async ({ page, lab, service, responses }) => {
  const mfp = lab.snmp.devices.find((d) => d.recording === 'colour-mfp');
  const facts = FACTS['colour-mfp'];

  await nav(page, 'Add a printer');
  await page.getByRole('heading', { level: 1 }).waitFor();
  await page.getByLabel('Address', { exact: true }).fill(mfp.address);

  // A wrong community first: no answer, said in words, nothing saved.
  await page.getByLabel('Community', { exact: true }).fill('not-the-community');
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  const failure = page.getByText(/did not answer|no answer|not answer|timed out|rejected/i).first();
  await failure.waitFor({ timeout: 20_000 });

  // The right one: the reading shows the model, serial and supplies.
  await page.getByLabel('Community', { exact: true }).fill(community);
  await page.getByRole('button', { name: 'Test', exact: true }).click();
  await page.getByText(facts.serial).first().waitFor({ timeout: 20_000 });
  await page.getByText(facts.model).first().waitFor();
  await page.getByText(facts.supply).first().waitFor();

  await page.getByRole('button', { name: 'Save', exact: true }).click();
  // Saved: the service monitors it, and the UI opens its page.
  const added = await eventually('the printer is stored', async () => {
    const r = await service.api('GET', '/printers');
    return r.json?.find?.((p) => p.serial === facts.serial);
  });
  assert.equal(added.address?.split(':')[0], mfp.address);
  await page.waitForURL(new RegExp(`#/printers/${added.id}$`));

  // Its page: identity, supplies, counters.
  await page.getByRole('heading', { level: 1 }).waitFor();
  await page.getByText(facts.serial).first().waitFor();
  await page.getByText(facts.supply).first().waitFor();
  assert.match(await page.locator('main').innerText(), numberPattern(facts.total));

  // The printers list: its row with the model, the total and a bar per supply.
  await nav(page, 'Printers');
  await page.getByRole('heading', { level: 1, name: 'Printers' }).waitFor();
  const row = page.getByRole('row').filter({ hasText: facts.model });
  await row.waitFor();
  assert.match(await row.innerText(), numberPattern(facts.total), 'the total counter is in the row');
  assert.match(await row.innerText(), new RegExp(`${facts.percent}\\s?%`), 'the cyan toner level is in the row');
  assert.ok(await row.locator('.supply').count() >= 4, 'a bar per supply');
  await row.getByRole('link').first().click();
  await page.getByText(facts.serial).first().waitFor();

  // The community typed was never echoed: not in the page, nor in any response it got.
  assert.ok(!(await page.content()).includes(community), 'the community is not in the DOM');
  for (const r of await responses.settle()) {
    assert.ok(!r.text.includes(community), `the community is in the response of ${r.url}`);
  }
});
