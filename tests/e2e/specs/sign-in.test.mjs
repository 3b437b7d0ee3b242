//! Sign-in with the API token in a browser: a wrong token is refused with words and
//! the screen stays; the right token opens the printers; the token is not left in the
//! page; "Sign out" goes back to the sign-in screen.

import assert from 'node:assert/strict';
import { scenario, screenshot, narrowScreenshot } from '../harness.mjs';

scenario('a browser signs in with the API token and is refused a wrong one', { signIn: false }, async ({ page, service }) => {
  await page.goto(`${service.base}/`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await screenshot(page, 'sign-in');
  await narrowScreenshot(page, 'sign-in');

  // A well-formed token that is not this install's: the API answers 401.
  const wrong = service.token.replace(/./g, (c) => (c === 'a' ? 'b' : 'a'));
  await page.getByLabel('API token').fill(wrong);
  await page.getByRole('button', { name: 'Sign in' }).click();
  const refusal = page.getByRole('alert');
  await refusal.waitFor();
  assert.match(await refusal.innerText(), /refused|not valid|wrong/i, 'the refusal says why in words');
  assert.equal(await page.getByRole('navigation').count(), 0, 'a wrong token shows no navigation');
  await screenshot(page, 'sign-in-refused');

  // Not a token at all: said so before asking the API.
  await page.getByLabel('API token').fill('my password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: /hexadecimal|token/i }).waitFor();

  // The right one.
  await page.getByLabel('API token').fill(service.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Printers' }).waitFor();
  for (const name of ['Printers', 'Add a printer', 'Networks', 'Sync', 'Settings']) {
    await page.getByRole('navigation').getByRole('link', { name, exact: true }).waitFor();
  }
  assert.ok(!(await page.content()).includes(service.token), 'the token is not left in the page');

  // It stays signed in across a reload, and "Sign out" forgets it.
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Printers' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
});
