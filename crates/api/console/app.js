// The console's entry point: sign-in, the navigation, the fragment router (#/board,
// #/picture/<id>, …) and the one live stream every view listens to.

import { ApiError, changePassword, hasRole, login, logout, me, onSession, resume, signedIn } from './api.js';
import { dispatch, openStream } from './sse.js';
import { h, mount, field, describe, showFieldErrors, clearFieldErrors } from './ui.js';
import { boardView, queueView } from './board.js';
import { pictureView } from './picture.js';
import { editorView } from './editor.js';
import { auditView, secretariatView } from './admin.js';

const main = document.getElementById('main');
let stream = null;
let cleanup = null;
let notice = '';

function setLive(state) {
  const el = document.getElementById('live');
  el.className = `live ${state === 'live' ? 'on' : 'off'}`;
  el.textContent = state === 'live' ? 'Live' : state === 'reconnecting' ? 'Reconnecting…' : 'Offline';
}

function readsPictures() {
  return hasRole('reader', 'author', 'approver');
}

/** The password is a one-time password an administrator set: nothing else until it is changed. */
function mustChangePassword() {
  const m = me();
  return !!m && m.password_change_required;
}

function routes() {
  if (mustChangePassword()) return [];
  const list = [];
  if (readsPictures() || hasRole('secretariat')) list.push(['#/board', 'Situation board']);
  if (hasRole('author', 'approver')) list.push(['#/new', 'New picture']);
  if (hasRole('approver')) list.push(['#/queue', 'Review queue']);
  if (hasRole('secretariat')) list.push(['#/secretariat', 'Secretariat']);
  if (hasRole('auditor', 'secretariat')) list.push(['#/audit', 'Access log']);
  return list;
}

function renderChrome() {
  const top = document.getElementById('top');
  top.hidden = !signedIn();
  if (!signedIn()) return;
  const m = me();
  mount(document.getElementById('who'), `${m.display_name} · ${m.organisation.code} · ${m.roles.join(', ')}`);
  const nav = document.getElementById('nav');
  const current = location.hash.split('/').slice(0, 2).join('/');
  mount(nav, routes().map(([href, text]) =>
    h('a', { href, 'aria-current': current === href ? 'page' : null }, text)));
}

function loginView() {
  const user = h('input', { name: 'username', autocomplete: 'username', required: true });
  const pass = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const org = h('input', { name: 'organisation', autocomplete: 'organization' });
  const totp = h('input', { name: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: '6' });
  const recovery = h('input', { name: 'recovery_code', autocomplete: 'off' });
  const orgField = field('Organisation (id or code)', org, 'organisation', 'Only when you belong to several organisations');
  orgField.hidden = true;
  const totpField = field('Authenticator code', totp, 'totp', 'The 6-digit code from your authenticator app');
  const recField = field('…or a recovery code', recovery, 'recovery_code');
  const second = h('div', { hidden: true }, totpField, recField);
  const error = h('p', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-h', novalidate: true },
    h('h1', { id: 'login-h' }, 'Sign in to Sitrep'),
    notice ? h('p', { class: 'notice', role: 'status' }, notice) : null,
    field('Username', user, 'username'), field('Password', pass, 'password'), orgField, second, error, button,
    h('p', { class: 'hint' }, 'This browser keeps you signed in until you sign out or stop using Sitrep for 30 minutes.'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    button.disabled = true;
    const extra = {};
    if (org.value.trim()) extra.organisation = org.value.trim();
    if (!second.hidden && totp.value.trim()) extra.totp = totp.value.trim();
    if (!second.hidden && recovery.value.trim()) extra.recovery_code = recovery.value.trim();
    try {
      await login(user.value.trim(), pass.value, extra);
      notice = '';
      pass.value = '';
      if (!location.hash || location.hash === '#/login') location.hash = '#/board';
      else route();
    } catch (e) {
      if (e instanceof ApiError && e.code === 'totp_required') {
        second.hidden = false;
        error.textContent = 'Enter the code from your authenticator app.';
        totp.focus();
      } else if (e instanceof ApiError && e.status === 422 && (e.problem.errors || []).some((x) => x.field === 'organisation')) {
        orgField.hidden = false;
        error.textContent = 'You belong to several organisations: name the one to act for.';
        org.focus();
      } else if (e instanceof ApiError && e.code === 'totp_invalid') {
        error.textContent = 'That code was not accepted. Wait for the next code and try again.';
        totp.value = '';
        totp.focus();
      } else if (e instanceof ApiError && e.code === 'invalid_credentials') {
        error.textContent = 'Wrong username or password.';
      } else {
        error.textContent = describe(e);
      }
    } finally {
      button.disabled = false;
    }
  });
  mount(main, form);
  user.focus();
}

function passwordView() {
  const current = h('input', { name: 'current_password', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { name: 'new_password', type: 'password', autocomplete: 'new-password', required: true });
  const again = h('input', { name: 'new_password_again', type: 'password', autocomplete: 'new-password', required: true });
  const error = h('p', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, 'Change password');
  const form = h('form', { class: 'login', 'aria-labelledby': 'password-h', novalidate: true },
    h('h1', { id: 'password-h' }, 'Choose your own password'),
    h('p', { class: 'notice', role: 'status' },
      'Your password was set by an administrator. Choose a password of your own before you continue.'),
    field('Current password', current, 'current_password', 'The password you signed in with'),
    field('New password', next, 'new_password',
      'At least 15 characters; not your username or a common password. A few unrelated words work well.'),
    field('New password again', again, 'new_password_again'),
    error, button);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    clearFieldErrors(form);
    if (next.value !== again.value) {
      error.textContent = 'The two new passwords differ.';
      again.focus();
      return;
    }
    button.disabled = true;
    try {
      await changePassword(current.value, next.value);
      current.value = '';
      next.value = '';
      again.value = '';
      location.hash = '#/board';
      route();
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        const left = showFieldErrors(form, e.problem);
        error.textContent = left.map((x) => x.message).join(' ');
      } else if (e instanceof ApiError && e.code === 'current_password_invalid') {
        error.textContent = 'The current password is wrong.';
        current.focus();
      } else {
        error.textContent = describe(e);
      }
    } finally {
      button.disabled = false;
    }
  });
  mount(main, form);
  current.focus();
}

let generation = 0;

async function route() {
  const mine = ++generation;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  if (!signedIn()) {
    renderChrome();
    loginView();
    return;
  }
  renderChrome();
  if (mustChangePassword()) {
    passwordView();
    return;
  }
  const parts = location.hash.replace(/^#\/?/, '').split('/');
  const [page, arg] = parts;
  // Each view renders into its own container, shown only if no later navigation
  // started meanwhile (a slow view never overwrites a newer one).
  const view = h('div', { class: 'view' });
  let local = null;
  const setCleanup = (fn) => {
    local = fn;
  };
  if (!main.firstChild || !main.querySelector('.view')) main.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
  try {
    switch (page) {
      case 'picture':
        await pictureView(view, decodeURIComponent(arg || ''), setCleanup);
        break;
      case 'new':
        await editorView(view, null);
        break;
      case 'edit':
        await editorView(view, decodeURIComponent(arg || ''));
        break;
      case 'queue':
        await queueView(view, setCleanup);
        break;
      case 'secretariat':
        await secretariatView(view, arg || 'overdue');
        break;
      case 'audit':
        await auditView(view);
        break;
      case 'board':
      default:
        if (!readsPictures() && !hasRole('secretariat')) {
          if (hasRole('auditor')) {
            location.hash = '#/audit';
            return;
          }
          mount(view, h('h1', {}, 'Nothing to show'), h('p', {}, 'Your roles give you no page here.'));
          break;
        }
        await boardView(view, setCleanup);
    }
  } catch (e) {
    if (!signedIn()) return;
    mount(view, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
  }
  if (mine !== generation) {
    if (local) local();
    return;
  }
  cleanup = local;
  main.replaceChildren(view);
  const heading = main.querySelector('h1');
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

onSession((what) => {
  if (what === 'signed-in') {
    if (stream) stream.close();
    stream = null;
    if (hasRole('reader', 'author', 'approver') && !mustChangePassword()) {
      stream = openStream(dispatch, setLive);
    } else {
      const live = document.getElementById('live');
      live.className = 'live';
      live.textContent = '';
    }
  } else {
    if (stream) stream.close();
    stream = null;
    notice = what === 'expired' ? 'Your session has ended. Please sign in again.' : 'You have signed out.';
    location.hash = '#/login';
    route();
  }
});

document.getElementById('signout').addEventListener('click', () => {
  logout();
});
window.addEventListener('hashchange', route);
// A reload or a new tab resumes the session from the cookie, when this browser has one.
resume().finally(route);
