// Sign-in (browser only): asks for the API token, checks it with
// GET /api/v1/status, then stores it in localStorage. The token is never
// shown back and never put in a URL.

import { errorText, signIn } from '../api';
import { h, field, fill } from '../dom';

export function signInScreen(root: HTMLElement, done: () => void): void {
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, class: 'wide' });
  const message = h('div', { class: 'signin-message', 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'card signin', novalidate: true },
    h('h1', { tabindex: '-1' }, 'Sign in'),
    h('p', null, 'PrintScout needs its API token to show this page. It is the line of hexadecimal digits in the file ',
      h('code', null, 'api-token'), ' in PrintScout\'s data directory; ', h('code', null, 'printscout run'), ' printed its path when it started (for example ',
      h('code', null, '~/.local/share/printscout/api-token'), ').'),
    field('API token', input, 'This browser keeps it so you sign in once. Anyone who can use this browser profile can then use PrintScout.'),
    message,
    h('div', { class: 'actions' }, submit),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    fill(message, h('p', { class: 'waiting', role: 'status' }, 'Checking the token…'));
    try {
      await signIn(input.value);
      input.value = '';
      done();
    } catch (err) {
      fill(message, h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } finally {
      submit.disabled = false;
    }
  });
  fill(root, h('div', { class: 'signin-wrap' }, h('p', { class: 'brand big' }, h('span', { class: 'logo', 'aria-hidden': 'true' }), 'PrintScout'), form));
  input.focus();
}
