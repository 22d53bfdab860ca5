// Sign in and sign up. The server sets the session cookie (HttpOnly) and the CSRF cookie;
// the page never sees or stores the session token itself.
import { api } from '../api.js';
import { h, field, fieldError } from '../ui.js';

const MIN_PASSWORD = 8;  // src/platform/passwords.hpp kMinPasswordLength

export function authPage(main, { mode, message, onSignedIn }) {
  const signup = mode === 'signup';
  const email = field('Email', { type: 'email', name: 'email', autocomplete: 'username', required: true, spellcheck: 'false' });
  const password = field('Password', {
    type: 'password', name: 'password', required: true, minlength: MIN_PASSWORD,
    autocomplete: signup ? 'new-password' : 'current-password',
  }, signup ? `At least ${MIN_PASSWORD} characters.` : null);
  const status = h('div', { class: 'form-status' });
  const submit = h('button', { type: 'submit', class: 'primary wide' }, signup ? 'Sign up' : 'Sign in');
  const form = h('form', { novalidate: true }, email.wrap, password.wrap, status, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fieldError(email.input, '');
    fieldError(password.input, '');
    status.replaceChildren();
    const address = email.input.value.trim();
    if (!/^[^\s@]+@[^\s@]+$/.test(address)) {
      fieldError(email.input, 'Enter an email address like name@example.com.');
      email.input.focus();
      return;
    }
    if (password.input.value.length < (signup ? MIN_PASSWORD : 1)) {
      fieldError(password.input, signup ? `Use at least ${MIN_PASSWORD} characters.` : 'Enter your password.');
      password.input.focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = signup ? 'Creating account…' : 'Signing in…';
    try {
      await api.post(`/api/v1/auth/${signup ? 'signup' : 'login'}`, { email: address, password: password.input.value });
      onSignedIn(await api.get('/api/v1/me'));
    } catch (error) {
      submit.disabled = false;
      submit.textContent = signup ? 'Sign up' : 'Sign in';
      const text = error.code === 'EMAIL_TAKEN'
        ? 'An account with this email already exists. Sign in instead.'
        : error.message;
      status.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, text));
    }
  });

  // app.js turns this same-origin link into a client-side navigation.
  const other = signup
    ? h('p', {}, 'Already have an account? ', h('a', { href: '/signin' }, 'Sign in'))
    : h('p', {}, 'New to Tollgate? ', h('a', { href: '/signup' }, 'Create an account'));

  main.append(h('div', { class: 'auth-card' },
    h('p', { class: 'brand' }, h('img', { src: '/favicon.svg', alt: '', width: 28, height: 28 }), 'Tollgate'),
    h('h1', { tabindex: '-1' }, signup ? 'Create your account' : 'Sign in'),
    h('p', { class: 'intro' }, signup
      ? 'Fund a wallet and give your AI agents keys to pay for MCP tools.'
      : 'Manage your agent API keys, wallet and usage.'),
    message && h('p', { class: 'notice', role: 'status' }, message),
    form,
    other));
  email.input.focus();
}
