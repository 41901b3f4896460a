// The console's entry point: sign-in, the navigation, the fragment router (#/board,
// #/picture/<id>, …) and the one live stream every view listens to.

import { ApiError, changePassword, hasRole, login, logout, me, onSession, request, resume, signedIn } from './api.js';
import { dispatch, onStreamEvent, openStream } from './sse.js';
import { h, mount, field, describe, fieldMessage, showFieldErrors, clearFieldErrors, select, setLeaveGuard, unsavedWork } from './ui.js';
import { LANGS, browserLanguage, language, loadCatalogues, onLanguage, setLanguage, setTimeZone, t } from './i18n.js';
import { boardView, prefs, queueView } from './board.js';
import { pictureView } from './picture.js';
import { editorView } from './editor.js';
import { accountView } from './account.js';
import { auditView, secretariatView } from './admin.js';
import { reportEditorView, reportView, reportsView } from './reports.js';
import { confirmEmailView, notificationsView, unreadCount } from './notifications.js';

const main = document.getElementById('main');
let stream = null;
let cleanup = null;
let notice = ''; // a catalogue key
let liveState = null;
let unread = 0;

/**
 * Reads the unread count of notifications and questions again, for the navigation: at
 * sign-in, on the notifications page and a moment after live events (not on every page,
 * since each read is in the access log).
 */
let unreadTimer = null;
function refreshUnread(delay = 0) {
  clearTimeout(unreadTimer);
  unreadTimer = setTimeout(() => {
    if (!signedIn() || mustChangePassword()) return;
    unreadCount().then((n) => {
      unread = n;
      renderChrome();
    }).catch(() => {});
  }, delay);
}

function setLive(state) {
  liveState = state;
  const el = document.getElementById('live');
  el.className = `live ${state === 'live' ? 'on' : 'off'}`;
  el.textContent = t(state === 'live' ? 'chrome.live' : state === 'reconnecting' ? 'chrome.reconnecting' : 'chrome.offline');
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
  if (readsPictures() || hasRole('secretariat')) list.push(['#/board', t('nav.board')]);
  if (hasRole('author', 'approver')) list.push(['#/new', t('nav.new')]);
  if (readsPictures()) list.push(['#/reports', t('nav.reports')]);
  if (hasRole('approver')) list.push(['#/queue', t('nav.queue')]);
  if (hasRole('secretariat')) list.push(['#/secretariat', t('nav.secretariat')]);
  if (hasRole('auditor', 'secretariat')) list.push(['#/audit', t('nav.audit')]);
  list.push(['#/notifications', unread ? t('nav.notifications_unread', { n: unread }) : t('nav.notifications')]);
  list.push(['#/account', t('nav.account')]);
  return list;
}

/** The texts of the page's fixed parts (index.html), in the interface language. */
function renderStatic() {
  document.title = t('chrome.title');
  document.querySelector('.skip').textContent = t('chrome.skip');
  document.getElementById('signout').textContent = t('chrome.sign_out');
  document.getElementById('nav').setAttribute('aria-label', t('chrome.nav'));
  const choose = document.getElementById('language');
  mount(choose, LANGS.map((l) => h('option', { value: l }, t(`value.${l}`))));
  choose.value = language();
  choose.setAttribute('aria-label', t('chrome.language'));
  if (liveState) setLive(liveState);
}

function renderChrome() {
  renderStatic();
  const top = document.getElementById('top');
  // Between taking the tokens and reading `/me` (at sign-in, or when a reload resumes the
  // session) the person is not known yet: the bar waits for the next draw.
  const m = me();
  top.hidden = !signedIn() || !m;
  if (top.hidden) return;
  const roles = m.roles.map((r) => t(`role.${r}`)).join(', ');
  mount(document.getElementById('who'), t('chrome.who', { name: m.display_name, org: m.organisation.code, roles }));
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
  const orgField = field(t('login.organisation'), org, 'organisation', t('login.organisation_hint'));
  orgField.hidden = true;
  const totpField = field(t('login.totp'), totp, 'totp', t('login.totp_hint'));
  const recField = field(t('login.recovery'), recovery, 'recovery_code');
  const lang = select('language', LANGS, { required: true, value: language() });
  lang.addEventListener('change', () => {
    chosenAtSignIn = lang.value;
    setLanguage(lang.value);
  });
  const second = h('div', { hidden: true }, totpField, recField);
  const error = h('p', { class: 'form-error', role: 'alert' });
  const button = h('button', { type: 'submit' }, t('login.submit'));
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-h', novalidate: true },
    h('h1', { id: 'login-h' }, t('login.title')),
    notice ? h('p', { class: 'notice', role: 'status' }, t(notice)) : null,
    field(t('login.language'), lang, 'language'),
    field(t('login.username'), user, 'username'), field(t('login.password'), pass, 'password'), orgField, second, error, button,
    h('p', { class: 'hint' }, t('login.kept')));
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
        error.textContent = t('login.need_totp');
        totp.focus();
      } else if (e instanceof ApiError && e.status === 422 && (e.problem.errors || []).some((x) => x.field === 'organisation')) {
        orgField.hidden = false;
        error.textContent = t('login.need_org');
        org.focus();
      } else if (e instanceof ApiError && e.code === 'totp_invalid') {
        error.textContent = t('login.totp_invalid');
        totp.value = '';
        totp.focus();
      } else if (e instanceof ApiError && e.code === 'invalid_credentials') {
        error.textContent = t('login.invalid');
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
  const button = h('button', { type: 'submit' }, t('password.submit'));
  const form = h('form', { class: 'login', 'aria-labelledby': 'password-h', novalidate: true },
    h('h1', { id: 'password-h' }, t('password.title')),
    h('p', { class: 'notice', role: 'status' }, t('password.why')),
    field(t('password.current'), current, 'current_password', t('password.current_hint')),
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
      location.hash = '#/board';
      route();
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        const left = showFieldErrors(form, e.problem);
        error.textContent = left.map((x) => fieldMessage(x)).join(' ');
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
  mount(main, form);
  current.focus();
}

let generation = 0;
let chosenAtSignIn = null;
// The address of the page shown, to go back to when leaving it is called off.
let shownHash = null;

/**
 * Whether the page shown may be left: when it holds unsaved work (the editor), the person
 * is asked first. Called off, the address goes back to the page shown.
 */
function mayLeave() {
  if (!signedIn() || !unsavedWork()) return true;
  if (window.confirm(t('editor.leave_unsaved'))) return true;
  if (shownHash !== null && location.hash !== shownHash) history.replaceState(null, '', shownHash);
  renderChrome();
  return false;
}

async function route(changed = true) {
  if (changed && !mayLeave()) return;
  setLeaveGuard(null);
  shownHash = location.hash;
  const mine = ++generation;
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  // An e-mail confirmation link works whether or not anyone is signed in here.
  if (location.hash.startsWith('#/confirm-email/')) {
    renderChrome();
    const view = h('div', { class: 'view' });
    try {
      await confirmEmailView(view, decodeURIComponent(location.hash.slice('#/confirm-email/'.length)));
    } catch (e) {
      mount(view, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
    }
    if (mine === generation) main.replaceChildren(view);
    return;
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
  if (!main.firstChild || !main.querySelector('.view')) main.replaceChildren(h('p', { class: 'loading' }, t('chrome.loading_view')));
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
      case 'reports':
        await reportsView(view);
        break;
      case 'report':
        await reportView(view, decodeURIComponent(arg || ''));
        break;
      case 'new-report':
        await reportEditorView(view);
        break;
      case 'queue':
        await queueView(view, setCleanup);
        break;
      case 'secretariat':
        await secretariatView(view, arg || 'overdue', setCleanup);
        break;
      case 'audit':
        await auditView(view);
        break;
      case 'account':
        await accountView(view);
        break;
      case 'notifications':
        await notificationsView(view, () => refreshUnread());
        refreshUnread();
        break;
      case 'board':
      default:
        if (!readsPictures() && !hasRole('secretariat')) {
          if (hasRole('auditor')) {
            location.hash = '#/audit';
            return;
          }
          mount(view, h('h1', {}, t('nav.nothing')), h('p', {}, t('nav.no_page')));
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

/**
 * After sign-in: the language chosen on the sign-in page is remembered on the server;
 * otherwise the one the person chose before is taken. Picture texts follow it.
 */
function adoptLanguage() {
  const m = me();
  setTimeZone(m.time_zone);
  if (chosenAtSignIn && chosenAtSignIn !== m.language) {
    rememberLanguage(chosenAtSignIn);
  } else if (m.language) {
    setLanguage(m.language);
  }
  chosenAtSignIn = null;
  prefs.lang = language();
}

function rememberLanguage(l) {
  request('/me/language', { method: 'PUT', body: { language: l } }).catch(() => {});
  me().language = l;
}

onSession((what) => {
  if (what === 'signed-in') {
    adoptLanguage();
    refreshUnread();
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
    notice = what === 'expired' ? 'login.ended' : 'login.signed_out';
    location.hash = '#/login';
    route();
  }
});

document.getElementById('signout').addEventListener('click', () => {
  if (mayLeave()) logout();
});
window.addEventListener('hashchange', () => route(location.hash !== shownHash));
// A reload, a closed tab or another address asks too (in the browser's own words).
window.addEventListener('beforeunload', (ev) => {
  if (signedIn() && unsavedWork()) {
    ev.preventDefault();
    ev.returnValue = '';
  }
});
onStreamEvent(() => refreshUnread(2000));
document.getElementById('language').addEventListener('change', (ev) => {
  const l = ev.currentTarget.value;
  setLanguage(l);
  prefs.lang = l;
  if (signedIn()) rememberLanguage(l);
});
// A new language re-renders the page in it (form contents of the view are read again, so
// unsaved work is asked about first).
onLanguage(() => route(true));

// The catalogues first; then a reload or a new tab resumes the session from the cookie,
// when this browser has one.
setLanguage(browserLanguage());
loadCatalogues()
  .then(() => resume())
  .finally(() => {
    renderStatic();
    route();
  });
