// login: the sign-in screen (POST /v1/session). The TOTP field is always shown; the server says
// when it is needed (field "totp").
import { call, setCsrf } from './api.js';
import { el, say } from './dom.js';
import { t } from './i18n.js';

export function renderLogin(main, onSignedIn) {
  const name = el('input', { id: 'login-name', name: 'name', autocomplete: 'username', required: true });
  const password = el('input', { id: 'login-password', name: 'password', type: 'password',
    autocomplete: 'current-password', required: true });
  const totp = el('input', { id: 'login-totp', name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code',
    pattern: '[0-9]{6}', maxlength: '6', 'aria-describedby': 'totp-hint' });
  const error = el('p', { id: 'login-error', class: 'error', role: 'alert' });
  const form = el('form', { id: 'login-form', class: 'card narrow', novalidate: true },
    el('h1', { text: t('signin') }),
    el('label', { for: 'login-name', text: t('name') }), name,
    el('label', { for: 'login-password', text: t('password') }), password,
    el('label', { for: 'login-totp', text: t('totp') }), totp,
    el('p', { id: 'totp-hint', class: 'hint', text: t('totp_hint') }),
    error,
    el('button', { type: 'submit', id: 'login-submit', text: t('signin') }));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    const body = { name: name.value.trim(), password: password.value };
    if (totp.value.trim()) body.totp = totp.value.trim();
    try {
      const me = await call('POST', '/v1/session', body);
      setCsrf(me.csrf_token);
      password.value = '';
      totp.value = '';
      onSignedIn(me);
    } catch (e) {
      error.textContent = e.message;
      (e.field === 'totp' ? totp : password).focus();
      say(e.message, 'error');
    }
  });
  main.replaceChildren(form);
  name.focus();
}
