// The person's own account (#/account): changing their password, and their second factor:
// enrolling an authenticator app (the QR code is drawn here, from the otpauth URI the API
// returns, by the vendored uqr module: nothing leaves the page), confirming it, new
// recovery codes, and turning it off. Every step is the API's own (POST /me/password,
// /me/totp*), with this person's token.

import { ApiError, changePassword, request } from './api.js';
import { clearFieldErrors, describe, field, fieldMessage, h, mount, showFieldErrors, toast } from './ui.js';
import { t } from './i18n.js';
import { encode } from './uqr.js';

/**
 * The QR code of `text` on a canvas: dark modules on white, a quiet zone of four modules,
 * `scale` pixels a module. The canvas is an image with the text as its name is not useful
 * to a screen reader, so its label says what it is; the secret is written out beside it.
 */
export function qrCanvas(text, scale = 4) {
  const qr = encode(text, { ecc: 'M', border: 4 });
  const n = qr.data.length;
  const canvas = h('canvas', { width: String(n * scale), height: String(n * scale), role: 'img', 'aria-label': t('account.qr_label'), id: 'totp-qr' });
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, n * scale, n * scale);
  g.fillStyle = '#000000';
  qr.data.forEach((row, y) => row.forEach((dark, x) => {
    if (dark) g.fillRect(x * scale, y * scale, scale, scale);
  }));
  canvas.dataset.modules = String(n);
  return canvas;
}

/** A form with one field for an authenticator code and a button; `send(code)` on submit. */
function codeForm(id, title, submitText, send, { danger = false } = {}) {
  const code = h('input', { name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6', size: '8', required: true });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'panel', id, 'aria-label': title }, h('h3', {}, title),
    field(t('account.code'), code, 'code', t('account.code_hint')), error,
    h('button', { type: 'submit', class: danger ? 'danger' : '' }, submitText));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    clearFieldErrors(form);
    const b = form.querySelector('button[type="submit"]');
    b.disabled = true;
    try {
      await send(code.value.trim());
      code.value = '';
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) error.textContent = showFieldErrors(form, e.problem).map((x) => fieldMessage(x)).join(' ');
      else if (e instanceof ApiError && e.code === 'totp_invalid') error.textContent = t('account.code_wrong');
      else error.textContent = describe(e);
      code.focus();
    } finally {
      b.disabled = false;
    }
  });
  return form;
}

/** The recovery codes, shown this once. */
function codesPanel(codes) {
  return h('section', { class: 'panel codes-panel', id: 'recovery-codes', 'aria-labelledby': 'recovery-h' },
    h('h3', { id: 'recovery-h', tabindex: '-1' }, t('account.codes_title')),
    h('p', {}, t('account.codes_once')),
    h('ol', { class: 'mono recovery-list' }, codes.map((c) => h('li', {}, c))));
}

function passwordForm() {
  const current = h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { name: 'new_password_again', type: 'password', autocomplete: 'new-password', required: true });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, t('password.submit'));
  const form = h('form', { class: 'panel', id: 'password-form', 'aria-labelledby': 'password-h', novalidate: true },
    h('h2', { id: 'password-h' }, t('account.password')),
    h('p', { class: 'hint' }, t('account.password_hint')),
    field(t('password.current'), current, 'current_password'),
    field(t('password.new'), next, 'new_password', t('password.new_hint')),
    field(t('password.again'), again, 'new_password_again'),
    error, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    clearFieldErrors(form);
    if (next.value !== again.value) {
      error.textContent = t('password.differ');
      again.focus();
      return;
    }
    button.disabled = true;
    try {
      await changePassword(current.value, next.value);
      current.value = '';
      next.value = '';
      again.value = '';
      toast(t('account.password_changed'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        error.textContent = showFieldErrors(form, e.problem).map((x) => fieldMessage(x)).join(' ');
      } else if (e instanceof ApiError && e.code === 'current_password_invalid') {
        error.textContent = t('password.wrong_current');
        current.focus();
      } else {
        error.textContent = describe(e);
      }
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

/** The second-factor section: its state and what can be done from it. */
async function secondFactor(box, shown = null) {
  const st = await request('/me/totp');
  const state = h('p', { id: 'totp-state', class: st.enabled ? 'ok' : '' },
    st.enabled ? t('account.totp_on', { n: st.recovery_codes_left }) : t('account.totp_off'),
    st.required ? [' ', t('account.totp_required')] : null);
  if (!st.enabled) {
    const start = h('button', { type: 'button', id: 'totp-start', onclick: async () => {
      start.disabled = true;
      try {
        const enrol = await request('/me/totp', { method: 'POST', body: {} });
        const confirm = codeForm('totp-confirm', t('account.confirm_title'), t('account.confirm'), async (code) => {
          const res = await request('/me/totp/confirm', { method: 'POST', body: { code } });
          toast(t('account.totp_enabled'));
          await secondFactor(box, res.recovery_codes);
        });
        mount(box, h('h2', {}, t('account.totp')), state,
          h('ol', { class: 'steps' },
            h('li', {}, t('account.step_scan')),
            h('li', {}, t('account.step_type')),
            h('li', {}, t('account.step_confirm'))),
          h('div', { class: 'qr-row' }, qrCanvas(enrol.otpauth_uri),
            h('dl', { class: 'facts' },
              h('dt', {}, t('account.secret')), h('dd', { class: 'mono', id: 'totp-secret' }, enrol.secret.replace(/(.{4})/g, '$1 ').trim()),
              h('dt', {}, t('account.uri')), h('dd', { class: 'mono', id: 'totp-uri' }, enrol.otpauth_uri))),
          confirm);
        confirm.querySelector('input').focus();
      } catch (e) {
        toast(describe(e), true);
        start.disabled = false;
      }
    } }, t('account.enrol'));
    mount(box, h('h2', {}, t('account.totp')), state, h('p', { class: 'hint' }, t('account.totp_why')), start);
    return;
  }
  const renew = codeForm('recovery-renew', t('account.renew_title'), t('account.renew'), async (code) => {
    const res = await request('/me/totp/recovery-codes', { method: 'POST', body: { code } });
    toast(t('account.codes_renewed'));
    await secondFactor(box, res.recovery_codes);
  });
  const off = st.required ? null : codeForm('totp-disable', t('account.disable_title'), t('account.disable'), async (code) => {
    await request('/me/totp/disable', { method: 'POST', body: { code } });
    toast(t('account.totp_disabled'));
    await secondFactor(box);
  }, { danger: true });
  mount(box, h('h2', {}, t('account.totp')), state, shown ? codesPanel(shown) : null, renew, off);
  if (shown) box.querySelector('#recovery-h').focus();
}

export async function accountView(main) {
  const totpBox = h('section', { id: 'totp', 'aria-label': t('account.totp') });
  mount(main, h('h1', {}, t('account.title')), h('div', { class: 'cols' }, h('div', {}, totpBox), h('div', {}, passwordForm())));
  try {
    await secondFactor(totpBox);
  } catch (e) {
    mount(totpBox, h('h2', {}, t('account.totp')), h('p', { class: 'form-error', role: 'alert' }, describe(e)));
  }
}
