// The secretariat's views (overdue acknowledgements, organisations and memberships,
// elections) and the auditor's (access-log search, export, the chain's checkpoints).

import { ApiError, authFetch, hasRole, query, request } from './api.js';
import {
  DateProblem, badges, clearFieldErrors, dateErrors, describe, field, fieldMessage, h, isoHint, isoInput, isoValue, label, mount, pick, scrollBox,
  select, showFieldErrors, time, toast,
} from './ui.js';
import { language, t } from './i18n.js';

async function all(path, max = 20) {
  let items = [];
  let cursor = null;
  for (let i = 0; i < max; i++) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await request(`${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items = items.concat(page.items);
    cursor = page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

function table(headers, rows, attrs = {}) {
  return h('table', attrs, h('thead', {}, h('tr', {}, headers.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows));
}

/** A form whose 422 errors are shown at its fields. */
function apiForm(title, fields, submitText, send) {
  const msg = h('p', { class: 'form-error', role: 'alert' });
  const form = h('form', { class: 'panel', 'aria-label': title }, h('h3', {}, title), h('div', { class: 'row' }, fields), msg,
    h('button', { type: 'submit' }, submitText));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    try {
      await send();
    } catch (e) {
      if (e instanceof DateProblem) {
        showFieldErrors(form, { errors: dateErrors(form) });
        msg.textContent = e.message;
      } else if (e instanceof ApiError && e.status === 422) {
        const left = showFieldErrors(form, e.problem);
        msg.textContent = left.length ? left.map((x) => t('admin.field_error', { field: x.field, message: fieldMessage(x) })).join('; ') : (e.problem.detail || '');
      } else {
        msg.textContent = describe(e);
      }
    }
  });
  return form;
}

export async function secretariatView(main, tab, setCleanup = () => {}) {
  const tabs = ['overdue', 'organisations', 'elections'];
  const body = h('div');
  mount(main, h('h1', {}, t('admin.secretariat')),
    h('nav', { class: 'actions', 'aria-label': t('admin.views') }, tabs.map((k) =>
      h('a', { class: `button ${k === tab ? '' : 'secondary'}`, href: `#/secretariat/${k}`, 'aria-current': k === tab ? 'page' : null }, t(`admin.tab.${k}`)))),
    body);
  if (tab === 'organisations') await organisations(body);
  else if (tab === 'elections') await electionsView(body);
  else await overdue(body, setCleanup);
}

const MATRIX_PICTURES = 12;
const MATRIX_REREAD_MS = 30000;

/**
 * The organisation × acknowledgement matrix: one column a picture whose deadline has
 * passed with someone silent (the most overdue first, at most 12), one row an
 * organisation asked to acknowledge any of them; each cell says whether and how it
 * acknowledged (on time or how late) or how long it is overdue, counting each second.
 * Read again every 30 seconds (the secretariat has no live stream).
 */
async function ackMatrix(box, overdueItems, setTimer) {
  const pictures = [];
  for (const o of overdueItems) {
    if (!pictures.some((p) => p.id === o.picture_id)) pictures.push({ id: o.picture_id, reference: o.reference, deadline: o.deadline });
    if (pictures.length === MATRIX_PICTURES) break;
  }
  const statuses = await Promise.all(pictures.map((p) => request(`/pictures/${p.id}/acknowledgements`)));
  const orgs = new Map();
  const cell = new Map();
  pictures.forEach((p, i) => {
    const s = statuses[i];
    const deadline = s.deadline || p.deadline;
    for (const a of s.acknowledgements || []) {
      orgs.set(a.organisation.id, a.organisation.code);
      const k = `${a.organisation.id}|${p.id}`;
      const before = cell.get(k);
      if (!before || before.at > a.created_at) cell.set(k, { acked: true, kind: a.kind, at: a.created_at, deadline });
    }
    for (const o of s.pending || []) {
      orgs.set(o.id, o.code);
      cell.set(`${o.id}|${p.id}`, { acked: false, deadline });
    }
  });
  const rows = [...orgs].sort((a, b) => a[1].localeCompare(b[1]));
  const ticking = [];
  const text = (c) => {
    const late = (new Date(c.acked ? c.at : Date.now()).getTime() - new Date(c.deadline).getTime()) / 1000;
    if (c.acked) return late > 0 ? t('matrix.acked_late', { kind: label(c.kind), late: duration(late) }) : t('matrix.acked', { kind: label(c.kind) });
    return late > 0 ? t('matrix.overdue', { late: durationSecs(late) }) : t('matrix.due', { left: durationSecs(-late) });
  };
  const td = (org, p) => {
    const c = cell.get(`${org}|${p.id}`);
    if (!c) return h('td', { class: 'not-asked', dataset: { state: 'not_asked' } }, t('matrix.not_asked'));
    const state = c.acked ? 'acknowledged' : new Date(c.deadline).getTime() < Date.now() ? 'overdue' : 'due';
    const el = h('td', { class: `m-${state}`, dataset: { state } }, text(c));
    if (!c.acked) ticking.push([el, c]);
    return el;
  };
  const done = (p) => rows.filter(([org]) => (cell.get(`${org}|${p.id}`) || {}).acked).length;
  const askedOf = (p) => rows.filter(([org]) => cell.has(`${org}|${p.id}`)).length;
  mount(box, h('h2', { id: 'matrix-h' }, t('matrix.title')), h('p', { class: 'hint' }, t('matrix.hint')),
    scrollBox(t('matrix.title'), h('table', { id: 'ack-matrix' },
      h('thead', {},
        h('tr', {}, h('th', { scope: 'col' }, t('matrix.organisation')),
          pictures.map((p) => h('th', { scope: 'col', dataset: { picture: p.id } }, h('a', { href: `#/picture/${p.id}`, class: 'mono' }, p.reference),
            h('div', { class: 'meta' }, t('matrix.progress', { n: done(p), total: askedOf(p) })))))),
      h('tbody', {}, rows.map(([org, code]) => h('tr', { dataset: { org: code } }, h('th', { scope: 'row' }, code),
        pictures.map((p) => td(org, p))))))));
  setTimer(setInterval(() => {
    for (const [el, c] of ticking) {
      el.textContent = text(c);
      const state = new Date(c.deadline).getTime() < Date.now() ? 'overdue' : 'due';
      el.className = `m-${state}`;
      el.dataset.state = state;
    }
  }, 1000));
}

/** "2 h 05 min 09 s" for a number of seconds. */
function durationSecs(secs) {
  const s = Math.floor(secs);
  return t('countdown.duration', { h: Math.floor(s / 3600), m: String(Math.floor((s % 3600) / 60)).padStart(2, '0'), s: String(s % 60).padStart(2, '0') });
}

/** The overdue acknowledgements, the most overdue first (one request per page of 100). */
async function overdue(body, setCleanup = () => {}) {
  const first = await request('/acknowledgements/overdue?limit=100');
  if (!first.items.length) {
    mount(body, h('h2', {}, t('admin.tab.overdue')), h('p', { class: 'empty' }, t('admin.none_overdue')));
    return;
  }
  // The matrix first, kept up to date: its clocks tick, and it is read again every 30 s.
  const matrixBox = h('section', { id: 'matrix', 'aria-labelledby': 'matrix-h' });
  let tick = null;
  const setTimer = (x) => {
    clearInterval(tick);
    tick = x;
  };
  await ackMatrix(matrixBox, first.items, setTimer);
  const reread = setInterval(async () => {
    try {
      const now = await request('/acknowledgements/overdue?limit=100');
      await ackMatrix(matrixBox, now.items, setTimer);
    } catch (_) {
      // The next read tries again; the page keeps what it has.
    }
  }, MATRIX_REREAD_MS);
  setCleanup(() => {
    clearInterval(reread);
    clearInterval(tick);
  });
  const rows = h('tbody');
  const row = (o) => h('tr', {},
    h('td', { class: 'mono' }, h('a', { href: `#/picture/${o.picture_id}` }, o.reference)),
    h('td', {}, o.originator_code),
    h('td', {}, badges({ tlp: o.tlp, tier: o.tier })),
    h('td', {}, o.organisation_code),
    h('td', {}, time(o.deadline)),
    h('td', { class: 'overdue' }, duration(o.overdue_secs)),
    h('td', {}, o.escalations.map((s) => t(`admin.escalation.${s}`)).join(', ') || '—'));
  first.items.forEach((o) => rows.append(row(o)));
  let cursor = first.next_cursor;
  const more = h('button', { type: 'button', class: 'secondary', hidden: !cursor }, t('board.load_more'));
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const page = await request(`/acknowledgements/overdue?limit=100&cursor=${encodeURIComponent(cursor)}`);
      page.items.forEach((o) => rows.append(row(o)));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (e) {
      toast(describe(e), true);
    } finally {
      more.disabled = false;
    }
  });
  const headers = ['reference', 'originator', 'handling', 'organisation', 'deadline', 'overdue', 'escalation'];
  mount(body, matrixBox, h('h2', {}, t('admin.tab.overdue')), h('p', {}, t('admin.overdue_hint')),
    h('table', { id: 'overdue-table' },
      h('thead', {}, h('tr', {}, headers.map((k) => h('th', { scope: 'col' }, t(`admin.col.${k}`))))), rows),
    more);
}

/** "2 h 05 min" for a number of seconds. */
function duration(secs) {
  const m = Math.floor(secs / 60);
  return t('admin.duration', { h: Math.floor(m / 60), m: String(m % 60).padStart(2, '0') });
}

async function organisations(body) {
  const [orgs, users] = await Promise.all([all('/organisations'), all('/users')]);
  const byId = new Map(orgs.map((o) => [o.id, o]));
  const code = h('input', { name: 'code', size: '12' });
  const nameEn = h('input', { name: 'name.en', size: '30' });
  const nameFi = h('input', { name: 'name.fi', size: '30' });
  const nameSv = h('input', { name: 'name.sv', size: '30' });
  const reach = select('reach', ['member', 'virt', 'ras_contact_point'], { required: true });
  const named = (l) => t('admin.name_lang', { lang: t(`editor.lang_${l}`) });
  const create = apiForm(t('admin.new_org'), [field(t('admin.code'), code, 'code'), field(named('en'), nameEn, 'name.en'),
    field(named('fi'), nameFi, 'name.fi'), field(named('sv'), nameSv, 'name.sv'), field(t('admin.reach'), reach, 'reach')],
  t('admin.create_org'), async () => {
    const name = {};
    for (const [l, el] of [['en', nameEn], ['fi', nameFi], ['sv', nameSv]]) if (el.value.trim()) name[l] = el.value.trim();
    await request('/organisations', { method: 'POST', body: { code: code.value.trim(), name, reach: reach.value } });
    toast(t('admin.org_created'));
    await organisations(body);
  });
  const userSel = select('user', users.map((u) => u.id), { required: true, prompt: true });
  users.forEach((u, i) => { userSel.options[i + 1].textContent = u.username; });
  const orgSel = select('organisation_id', orgs.map((o) => o.id), { required: true, prompt: true });
  orgs.forEach((o, i) => { orgSel.options[i + 1].textContent = o.code; });
  const roles = h('div', { class: 'checks', role: 'group', 'aria-label': t('admin.roles') }, ENUMS_ROLES.map((r) =>
    h('label', {}, h('input', { type: 'checkbox', value: r }), t(`role.${r}`))));
  const grant = apiForm(t('admin.new_membership'), [field(t('admin.user'), userSel, 'user'), field(t('admin.organisation'), orgSel, 'organisation_id'),
    h('div', { class: 'field', dataset: { field: 'roles' } }, h('label', {}, t('admin.roles')), roles, h('div', { class: 'error', hidden: true }))],
  t('admin.add_membership'), async () => {
    const chosen = [...roles.querySelectorAll('input:checked')].map((c) => c.value);
    await request(`/users/${userSel.value}/memberships`, { method: 'POST', body: { organisation_id: orgSel.value, roles: chosen } });
    toast(t('admin.membership_added'));
    await organisations(body);
  });
  mount(body,
    h('h2', {}, t('admin.organisations')),
    table(['code', 'name', 'reach', 'active', 'review'].map((k) => t(`admin.col.${k}`)), orgs.map((o) => h('tr', {},
      h('td', { class: 'mono' }, o.code), h('td', {}, pick(o.name, language()).text), h('td', {}, label(o.reach)),
      h('td', {}, yesNo(o.active)), h('td', {}, yesNo(o.require_review)))), { id: 'org-table' }),
    hasRole('secretariat') ? create : null,
    h('h2', {}, t('admin.people')),
    table([...['username', 'name', 'active', 'memberships'].map((k) => t(`admin.col.${k}`)), ''], users.map((u) => h('tr', {},
      h('td', { class: 'mono' }, u.username), h('td', {}, u.display_name), h('td', {}, yesNo(u.active)),
      h('td', {}, u.memberships.filter((m) => m.active).map((m) => h('div', {},
        t('admin.membership_line', { org: (byId.get(m.organisation_id) || { code: '?' }).code, roles: m.roles.map((r) => t(`role.${r}`)).join(', '), since: time(m.valid_from) }),
        h('button', { type: 'button', class: 'secondary', 'aria-label': t('admin.end_label', { user: u.username, org: (byId.get(m.organisation_id) || {}).code }),
          onclick: async () => {
            try {
              await request(`/users/${u.id}/memberships/${m.id}`, { method: 'PATCH', body: { end: true } });
              toast(t('admin.membership_ended'));
              await organisations(body);
            } catch (e) {
              toast(describe(e), true);
            }
          } }, t('admin.end'))))),
      // A lost authenticator: removing the person's second factor ends their sessions
      // (POST /users/{id}/totp/reset); they set it up again under "My account".
      h('td', {}, hasRole('secretariat', 'org_admin') ? h('button', { type: 'button', class: 'secondary', 'aria-label': t('admin.totp_reset_label', { user: u.username }),
        onclick: async () => {
          if (!window.confirm(t('admin.totp_reset_confirm', { user: u.username }))) return;
          try {
            await request(`/users/${u.id}/totp/reset`, { method: 'POST' });
            toast(t('admin.totp_reset_done', { user: u.username }));
          } catch (e) {
            toast(describe(e), true);
          }
        } }, t('admin.totp_reset')) : null))), { id: 'user-table' }),
    grant);
}

const ENUMS_ROLES = ['reader', 'author', 'approver', 'org_admin', 'secretariat', 'auditor', 'sysadmin'];

const yesNo = (v) => t(v ? 'admin.yes' : 'admin.no');

async function electionsView(body) {
  const list = await request('/elections');
  const code = h('input', { name: 'code', size: '14' });
  const type = select('election_type', ['parliamentary', 'presidential', 'european_parliament', 'municipal', 'county', 'advisory_referendum', 'aland_legislative', 'aland_municipal'], { required: true });
  const name = h('input', { name: 'name_en', size: '30' });
  const day = isoInput('election_day', null, { time: false });
  const form = apiForm(t('admin.new_election'), [field(t('admin.code'), code, 'code'), field(t('admin.type'), type, 'election_type'),
    field(t('admin.name_lang', { lang: t('editor.lang_en') }), name, 'name_en'),
    field(t('admin.election_day'), day, 'election_day', isoHint(false))], t('admin.create_election'), async () => {
    await request('/elections', { method: 'POST', body: { code: code.value.trim(), election_type: type.value, name_en: name.value.trim(), election_day: isoValue(day) } });
    toast(t('admin.election_created'));
    await electionsView(body);
  });
  // No empty table: a table of headers alone tells a screen reader nothing.
  mount(body, h('h2', {}, t('admin.elections')),
    !list.length ? h('p', { class: 'empty', id: 'no-elections' }, t('admin.no_elections')) : table(['code', 'name', 'type', 'election_day', 'phases'].map((k) => t(`admin.col.${k}`)), list.map((e) => h('tr', {},
      h('td', { class: 'mono' }, e.code), h('td', {}, e.name_en), h('td', {}, label(e.election_type)),
      h('td', {}, e.election_day || '—'),
      h('td', {}, e.phases ? Object.entries(e.phases).map(([k, v]) => `${label(k)}: ${typeof v === 'object' ? JSON.stringify(v) : v}`).join('; ') : '—'))),
    { id: 'election-table' }),
    hasRole('secretariat') ? form : null);
}

function b64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

/** `at` as the server signs it: RFC 3339 UTC with six fractional digits. */
export function signedAt(at) {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(?:Z|\+00:00)$/.exec(at);
  if (!m) return at;
  return `${m[1]}.${(m[2] || '').padEnd(6, '0').slice(0, 6)}Z`;
}

async function verifyCheckpoint(cp, key) {
  const msg = new TextEncoder().encode(`sitrep-audit-checkpoint-v1\n${cp.seq}\n${cp.hash}\n${signedAt(cp.at)}\n`);
  const k = await crypto.subtle.importKey('raw', b64(key.public_key), { name: 'Ed25519' }, false, ['verify']);
  return crypto.subtle.verify({ name: 'Ed25519' }, k, b64(cp.signature), msg);
}

/**
 * The chain panel: the latest signed checkpoint, its signature checked here, and what it
 * covers. A checkpoint signs the hash of record `seq`, which chains every record before
 * it, so it vouches for records 1 to `seq`; the panel says so, how many of them came
 * since the checkpoint before, and how many newer records no checkpoint covers yet.
 */
async function chainPanel(box) {
  try {
    const [cps, key, newest] = await Promise.all([all('/access-log/checkpoints', 50), request('/access-log/checkpoint-key'),
      request('/access-log?limit=1')]);
    const last = cps[cps.length - 1];
    if (!last) {
      mount(box, h('h2', {}, t('admin.chain')), h('p', { class: 'empty', id: 'chain-state' }, t('admin.no_checkpoint')));
      return;
    }
    let ok = null;
    try {
      ok = await verifyCheckpoint(last, key);
    } catch (_) {
      ok = null;
    }
    const before = cps.length > 1 ? cps[cps.length - 2].seq : 0;
    const head = newest.items.length ? newest.items[0].seq : last.seq;
    const after = Math.max(0, head - last.seq);
    mount(box, h('h2', {}, t('admin.chain')),
      h('p', { id: 'chain-state', class: ok ? 'ok' : 'bad' }, ok === null
        ? t('admin.no_ed25519')
        : ok ? t('admin.checkpoint_ok', { key: key.key_id }) : t('admin.checkpoint_bad')),
      h('p', { id: 'chain-covers' }, t('admin.checkpoint_covers', { n: last.seq, last: last.seq }),
        ' ', cps.length > 1 && before < last.seq ? t('admin.checkpoint_new', { n: last.seq - before, first: before + 1, last: last.seq }) : '',
        ' ', after ? t('admin.checkpoint_after', { n: after, first: last.seq + 1, last: head }) : t('admin.checkpoint_head')),
      h('dl', { class: 'facts' }, h('dt', {}, t('admin.record')), h('dd', {}, `#${last.seq}`), h('dt', {}, t('admin.signed_at')), h('dd', {}, time(last.at)),
        h('dt', {}, t('admin.hash')), h('dd', { class: 'mono' }, last.hash), h('dt', {}, t('admin.key')), h('dd', { class: 'mono' }, `${last.key_id} (${key.algorithm})`),
        h('dt', {}, t('admin.checkpoints')), h('dd', {}, String(cps.length))),
      h('p', { class: 'hint' }, t('admin.chain_hint')));
  } catch (e) {
    mount(box, h('h2', {}, t('admin.chain')), h('p', { class: 'form-error' }, describe(e)));
  }
}

/** The action names the access log uses (served beside the page, built from the route table). */
async function actionNames() {
  try {
    const res = await fetch('actions.json', { credentials: 'omit' });
    return res.ok ? await res.json() : [];
  } catch (_) {
    return [];
  }
}

export async function auditView(main) {
  const [orgs, actions] = await Promise.all([all('/organisations').catch(() => []), actionNames()]);
  const actionList = h('datalist', { id: 'action-names' }, actions.map((a) => h('option', { value: a })));
  const f = {
    action: h('input', { name: 'action', size: '18', placeholder: t('admin.action_placeholder'), list: 'action-names', autocomplete: 'off' }),
    outcome: select('outcome', ['allowed', 'denied', 'failed']),
    organisation_id: select('organisation_id', orgs.map((o) => o.id)),
    actor: h('input', { name: 'actor', size: '16', autocomplete: 'off' }),
    reference: h('input', { name: 'reference', size: '16', placeholder: 'VTY-2027-0042', autocomplete: 'off' }),
    object_type: h('input', { name: 'object_type', size: '12' }),
    object_id: h('input', { name: 'object_id', size: '36' }),
    from: isoInput('from', null),
    to: isoInput('to', null),
  };
  [...f.organisation_id.options].slice(1).forEach((o, i) => { o.textContent = orgs[i].code; });
  const codes = new Map(orgs.map((o) => [o.id, o.code]));
  const names = {
    action: t('admin.action'), outcome: t('admin.outcome'), organisation_id: t('admin.organisation'), actor: t('admin.actor'),
    reference: t('admin.reference'), object_type: t('admin.object_type'), object_id: t('admin.object_id'), from: t('admin.from'), to: t('admin.to'),
  };
  const out = h('div', { id: 'log' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('admin.older'));
  const chain = h('section', { class: 'panel', id: 'chain' }, h('h2', {}, t('admin.chain')), h('p', {}, t('admin.checking')));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('admin.log_filters') },
    field(names.action, f.action, 'action', t('admin.action_hint')), actionList, field(names.outcome, f.outcome, 'outcome'),
    field(names.organisation_id, f.organisation_id, 'organisation_id'), field(names.actor, f.actor, 'actor', t('admin.actor_hint')),
    field(names.reference, f.reference, 'reference'), field(names.object_type, f.object_type, 'object_type'), field(names.object_id, f.object_id, 'object_id'),
    field(names.from, f.from, 'from', isoHint()), field(names.to, f.to, 'to', isoHint()), h('button', { type: 'submit' }, t('admin.search')));
  const exporter = (fmt) => h('button', { type: 'button', class: 'secondary', onclick: async (ev) => {
    const b = ev.currentTarget;
    b.disabled = true;
    try {
      const res = await authFetch(`/access-log/export?format=${fmt}`);
      if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => ({})));
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `sitrep-access-log.${fmt}` });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      toast(t('admin.export_ready', { size: blob.size }));
    } catch (e) {
      toast(describe(e), true);
    } finally {
      b.disabled = false;
    }
  } }, t(fmt === 'jsonl' ? 'admin.export_jsonl' : 'admin.export_csv'));
  mount(main, h('h1', {}, t('admin.access_log')), h('div', { class: 'cols' }, h('div', {}, form, out, more),
    h('div', {}, chain, h('section', { class: 'panel' }, h('h2', {}, t('admin.export')), h('div', { class: 'actions' }, exporter('jsonl'), exporter('csv'))))));
  let cursor = null;
  // The filters of the first page: a cursor is valid only with the query it came from.
  let shown = null;
  let rows = [];
  const params = () => {
    const q = {};
    for (const [k, el] of Object.entries(f)) {
      const v = el.value.trim();
      if (!v) continue;
      if (!el.dataset.iso) q[k] = v;
      else {
        try {
          q[k] = isoValue(el);
        } catch (e) {
          if (!(e instanceof DateProblem)) throw e; // said at the field on submit, not sent
        }
      }
    }
    return q;
  };
  /** The filters of the page shown, as "name: value" for the person to read back. */
  const described = () => Object.entries(shown || {}).filter(([k]) => k in names).map(([k, v]) => {
    let shownValue = v;
    if (k === 'organisation_id') shownValue = codes.get(v) || v;
    else if (k === 'outcome') shownValue = label(v);
    else if (k === 'from' || k === 'to') shownValue = time(v);
    return `${names[k]}: ${shownValue}`;
  });
  const render = () => {
    if (!rows.length) {
      const used = described();
      const unknown = shown.action && actions.length && !actions.includes(shown.action);
      mount(out, h('div', { id: 'log-empty', class: 'notice', role: 'status' },
        h('p', {}, used.length ? t('admin.log_empty_filtered', { filters: used.join('; ') }) : t('admin.log_empty')),
        unknown ? h('p', {}, t('admin.unknown_action', { action: shown.action })) : null,
        used.length ? h('p', {}, t('admin.log_empty_hint')) : null));
      return;
    }
    let links = 0;
    let broken = 0;
    for (let i = 0; i + 1 < rows.length; i++) {
      if (rows[i].seq === rows[i + 1].seq + 1) {
        links++;
        if (rows[i].prev_hash !== rows[i + 1].hash) broken++;
      }
    }
    mount(out,
      h('p', { class: broken ? 'bad' : 'meta', id: 'link-state' }, t('admin.links', { rows: rows.length, links, broken })),
      scrollBox(t('admin.log_records'), table(['#', ...['time', 'actor', 'organisation', 'action', 'object', 'outcome', 'status', 'reason', 'address'].map((k) => t(`admin.col.${k}`))],
        rows.map((r) => h('tr', {}, h('td', {}, r.seq), h('td', { class: 'no-wrap' }, time(r.at)), h('td', {}, r.actor_name || r.actor_type),
          h('td', {}, codes.get(r.organisation_id) || r.organisation_id || '—'), h('td', { class: 'mono no-wrap' }, r.action),
          h('td', { class: 'mono log-object', title: (r.object_ids || []).join(' ') || undefined }, [r.object_type, r.object_id].filter(Boolean).join(' ') || ((r.object_ids || []).length ? t('admin.ids', { n: r.object_ids.length }) : '—')),
          h('td', { class: r.outcome === 'allowed' ? '' : 'bad' }, r.outcome), h('td', {}, r.http_status),
          h('td', {}, r.reason || '—'), h('td', { class: 'mono' }, r.client_addr || '—'))), { id: 'log-table' })));
  };
  const load = async (append) => {
    if (!append || !shown) shown = { ...params(), limit: 100 };
    const q = { ...shown };
    if (append && cursor) q.cursor = cursor;
    try {
      const page = await request(`/access-log${query(q)}`);
      rows = append ? rows.concat(page.items) : page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      render();
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) showFieldErrors(form, e.problem);
      mount(out, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const bad = dateErrors(form);
    if (bad.length) {
      showFieldErrors(form, { errors: bad });
      return;
    }
    load(false);
  });
  more.addEventListener('click', () => load(true));
  await Promise.all([load(false), chainPanel(chain)]);
}

