// The session and every call to the REST API. The access token lives only in this
// module's variables; the refresh token is in an HttpOnly cookie that the server sets for
// its /api/v1/auth paths only, so no script (this page's included) can read it, and a
// reload resumes the session by one refresh (docs/console.md says why).

import { t } from './i18n.js';

const BASE = '/api/v1';

/** A refused request: the problem+json body of the API. */
export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || t('error.http', { status }));
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || '';
  }
}

let session = null; // { access, expiresAt, me }
let refreshing = null; // the one refresh in flight in this page
let timer = null;
const listeners = new Set();

// Asks the server to keep the refresh token in its HttpOnly cookie. Only this page can
// send the header: another site's page would need a CORS preflight the server never grants.
const COOKIE_MODE = { 'sitrep-session': 'cookie' };

export function onSession(fn) {
  listeners.add(fn);
}

function emit(what) {
  for (const fn of listeners) fn(what);
}

export function me() {
  return session && session.me;
}

export function signedIn() {
  return session !== null;
}

export function hasRole(...roles) {
  const m = me();
  return !!m && roles.some((r) => m.roles.includes(r));
}

async function parse(res) {
  const type = res.headers.get('content-type') || '';
  if (res.status === 204) return null;
  if (type.includes('json')) return res.json();
  return res.text();
}

function take(pair) {
  session = session || {};
  session.access = pair.access_token;
  session.expiresAt = Date.now() + pair.expires_in * 1000;
  clearTimeout(timer);
  // Refresh a minute before the access token expires (at least 5 s from now).
  timer = setTimeout(() => {
    refresh().catch(() => {});
  }, Math.max(5000, pair.expires_in * 1000 - 60000));
}

/** A call to login, refresh or logout: the only requests that carry the cookie. */
function authCall(path, init = {}) {
  return fetch(`${BASE}${path}`, {
    method: 'POST',
    ...init,
    headers: { ...COOKIE_MODE, ...(init.headers || {}) },
    credentials: 'same-origin',
    cache: 'no-store',
  });
}

/** Signs in. Throws ApiError; `code === 'totp_required'` asks for the second factor. */
export async function login(username, password, extra = {}) {
  const body = { username, password, ...extra };
  const res = await authCall('/auth/login', {
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await parse(res);
  if (!res.ok) throw new ApiError(res.status, data);
  session = null;
  take(data);
  await readMe();
  return session.me;
}

async function readMe() {
  try {
    session.me = await request('/me');
  } catch (e) {
    end();
    throw e;
  }
  emit('signed-in');
}

/**
 * Resumes the session of this browser after a reload or in a new tab: one refresh with
 * the cookie, if there is one. Resolves true when signed in again.
 */
export async function resume() {
  try {
    await refresh({ resuming: true });
  } catch (_) {
    return false;
  }
  if (!session) return false;
  try {
    await readMe();
  } catch (_) {
    return false;
  }
  return true;
}

function end() {
  clearTimeout(timer);
  session = null;
}

/** Marks the session as over (refresh refused or the session revoked). */
function expire() {
  if (!session) return;
  end();
  emit('expired');
}

/** Runs `fn` while no other tab of this browser refreshes (Web Locks; one page if absent). */
function exclusively(fn) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request('sitrep-refresh', fn);
  return fn();
}

/**
 * Exchanges the cookie's refresh token for a new access token (and a new cookie). Only
 * one refresh runs at a time, in this page and across the tabs of this browser, which
 * share the cookie: the server revokes the whole session when a spent refresh token is
 * used again.
 */
export function refresh({ resuming = false } = {}) {
  if (refreshing) return refreshing;
  if (!session && !resuming) return Promise.reject(new ApiError(401, { code: 'signed_out' }));
  refreshing = (async () => {
    try {
      const res = await exclusively(() => authCall('/auth/refresh'));
      const data = await parse(res);
      if (!res.ok) {
        if (res.status === 401 || res.status === 400) expire();
        throw new ApiError(res.status, data);
      }
      take(data);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/**
 * Changes the user's own password. The server ends every other session of theirs and
 * lifts this session's restriction when the password was a one-time one; `me` is read
 * again so that the console shows what the user may now do.
 */
export async function changePassword(currentPassword, newPassword) {
  await request('/me/password', {
    method: 'POST',
    body: { current_password: currentPassword, new_password: newPassword },
  });
  session.me = await request('/me');
  emit('signed-in');
}

/**
 * Signs out: the server revokes the session and clears the cookie; the access token is
 * forgotten either way.
 */
export async function logout() {
  if (!session) return;
  try {
    const res = await authFetch('/auth/logout', { method: 'POST', headers: COOKIE_MODE, credentials: 'same-origin' });
    await parse(res);
  } catch (_) {
    // Forgotten here anyway; the cookie's refresh token dies with its idle time.
  }
  if (!session) return; // the session had already ended (and said so)
  end();
  emit('signed-out');
}

/**
 * A fetch with the access token: refreshes first when it is about to expire, and once
 * more on a 401 (but for a wrong second-factor code); a second 401 ends the session.
 */
export async function authFetch(path, init = {}) {
  if (!session) throw new ApiError(401, { code: 'signed_out', title: t('login.signed_out') });
  if (session.expiresAt - Date.now() < 30000) {
    try {
      await refresh();
    } catch (_) {
      /* handled below */
    }
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!session) throw new ApiError(401, { code: 'signed_out', title: t('login.ended') });
    const headers = { ...(init.headers || {}), authorization: `Bearer ${session.access}` };
    const res = await fetch(`${BASE}${path}`, { credentials: 'omit', ...init, headers, cache: 'no-store' });
    if (res.status !== 401) return res;
    // A wrong authenticator code (`totp_invalid` from /me/totp/*) is about the code sent,
    // not the token: it is answered as it is, and the session goes on.
    const code = await res.clone().json().then((p) => p && p.code, () => null);
    if (typeof code === 'string' && code.startsWith('totp_')) return res;
    if (attempt === 0) {
      try {
        await refresh();
        continue;
      } catch (_) {
        break;
      }
    }
    expire();
    return res;
  }
  expire();
  throw new ApiError(401, { code: 'session_expired', title: t('login.ended') });
}

/** Calls the API and returns the parsed body; throws ApiError on any refusal. */
export async function request(path, { method = 'GET', body, headers = {}, withEtag = false } = {}) {
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    // The API refuses text not in Unicode NFC (some keyboards and pastes give decomposed
    // letters); passwords are sent exactly as typed.
    init.body = JSON.stringify(body, (key, v) => (typeof v === 'string' && key !== 'password' ? v.normalize('NFC') : v));
  }
  const res = await authFetch(path, init);
  const data = await parse(res);
  if (!res.ok) throw new ApiError(res.status, data);
  if (withEtag) return { data, etag: res.headers.get('etag') };
  return data;
}

/**
 * Fetches a file with the access token and hands it to the browser as a download named
 * `fileName` (a rendered PDF); throws ApiError on any refusal.
 */
export async function download(path, fileName) {
  const res = await authFetch(path);
  if (!res.ok) throw new ApiError(res.status, await parse(res));
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** A fetch with the access token whose refusal throws ApiError; resolves to the response. */
export async function fetchOk(path) {
  const res = await authFetch(path);
  if (!res.ok) throw new ApiError(res.status, await parse(res));
  return res;
}

/** One XMLHttpRequest `POST` of `file` as the body, with the access token. */
function sendFile(path, file, headers, onProgress) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${BASE}${path}`);
    xhr.withCredentials = false;
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader('authorization', `Bearer ${session.access}`);
    xhr.setRequestHeader('cache-control', 'no-store');
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded, ev.total);
    });
    xhr.addEventListener('load', () => resolve(xhr));
    // The connection broke (or the server closed it before reading the whole body): no answer.
    xhr.addEventListener('error', () => resolve(null));
    xhr.addEventListener('abort', () => resolve(null));
    xhr.send(file);
  });
}

/**
 * Uploads `file` as the body of a `POST` to `path`, reporting progress as
 * `onProgress(sentBytes, totalBytes)`. An XMLHttpRequest, not fetch: only it reports the
 * progress of a request body in Chromium (fetch streams a body only over HTTP/2). The
 * token is refreshed first when it is about to expire, and once more on a 401 (the same
 * file is sent again). Resolves to `{data, etag}`; throws ApiError (status 0 when the
 * connection broke without an answer).
 */
export async function upload(path, file, { headers = {}, onProgress = () => {} } = {}) {
  if (!session) throw new ApiError(401, { code: 'signed_out', title: t('login.signed_out') });
  if (session.expiresAt - Date.now() < 30000) await refresh().catch(() => {});
  for (let attempt = 0; attempt < 2; attempt++) {
    if (!session) break;
    const xhr = await sendFile(path, file, headers, onProgress);
    if (!xhr) throw new ApiError(0, { code: 'upload_broken' });
    if (xhr.status === 401 && attempt === 0) {
      try {
        await refresh();
        continue;
      } catch (_) {
        break;
      }
    }
    const type = xhr.getResponseHeader('content-type') || '';
    let data = xhr.responseText;
    if (type.includes('json') && data) {
      try {
        data = JSON.parse(data);
      } catch (_) {
        data = null;
      }
    }
    if (xhr.status === 401) break;
    if (xhr.status < 200 || xhr.status >= 300) throw new ApiError(xhr.status, typeof data === 'object' ? data : null);
    return { data, etag: xhr.getResponseHeader('etag') };
  }
  expire();
  throw new ApiError(401, { code: 'session_expired', title: t('login.ended') });
}

/** Query string of the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
