// One picture: its fields, the language switch, the revision history with a comparison
// of two revisions, acknowledgements with the deadline counting down, the questions
// between an asking organisation and the originator, and the RAS contact point's release
// decisions.

import { ApiError, download, hasRole, me, request } from './api.js';
import { onStreamEvent } from './sse.js';
import { ENUMS, badges, countdown, describe, field, h, label, markdown, mount, pick, select, time, tlpBanner, toast } from './ui.js';
import { has, language, percent, t } from './i18n.js';
import { lifecycleButtons, prefs } from './board.js';
import { attachmentSection } from './attachments.js';
import { progressBar } from './charts.js';

const FACTS = ['kind', 'primary_domain', 'domains', 'impact_on_conduct', 'impact_on_public_confidence', 'severity',
  'urgency', 'outlook', 'admiralty', 'election', 'election_phase', 'geo_scope', 'geo_codes', 'targets',
  'actor_type_suspected', 'attribution_confidence', 'attribution_releasable', 'disarm_techniques',
  'attack_techniques', 'valid_from', 'valid_until'];

const HANDLING = ['tlp', 'tlp_community', 'tier', 'classification', 'secrecy_basis', 'originator_consents', 'named_recipients'];

function value(p, key, orgs, elections) {
  const v = p[key];
  switch (key) {
    case 'admiralty':
      return `${p.source_reliability}${p.information_credibility}`;
    case 'election': {
      const e = elections.find((x) => x.id === p.election_id);
      return e ? t('board.election_option', { name: e[`name_${language()}`] || e.name_en, code: e.code }) : p.election_id || '—';
    }
    case 'severity':
      return p.severity_override ? t('picture.override', { severity: label(p.severity), reason: p.severity_override.reason }) : label(p.severity);
    case 'originator_consents':
      return Object.entries(v || {}).filter(([, yes]) => yes).map(([k]) => k).join(', ') || t('picture.none');
    case 'named_recipients':
      return (v || []).map((id) => (orgs.get(id) || { code: id }).code).join(', ') || '—';
    case 'valid_from':
    case 'valid_until':
      return time(v);
    case 'attribution_releasable':
      return v ? t('picture.yes') : t('picture.no');
    default:
      if (Array.isArray(v)) return v.length ? v.map(label).join(', ') : '—';
      return label(v);
  }
}

function facts(p, keys, orgs, elections) {
  return h('dl', { class: 'facts' }, keys.flatMap((k) => [h('dt', {}, t(`picture.${k}`)), h('dd', {}, value(p, k, orgs, elections))]));
}

/** A text in `lang` (or the fallback it says it shows); `html`: the server's rendering of it. */
function localized(text, lang, original, html) {
  const got = pick(text, lang, original);
  if (!got.text) return h('p', { class: 'missing-lang' }, '—');
  const rendered = html && html[got.lang];
  return h('div', {},
    got.lang !== lang ? h('p', { class: 'missing-lang' }, t('picture.fallback', { wanted: label(lang), shown: label(got.lang) })) : null,
    rendered ? markdown(rendered, got.lang) : h('div', { class: 'text', lang: got.lang }, got.text));
}

/** The picture page. */
export async function pictureView(main, id, setCleanup) {
  let p;
  let etag;
  try {
    ({ data: p, etag } = await request(`/pictures/${encodeURIComponent(id)}`, { withEtag: true }));
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 400 || e.status === 422)) {
      mount(main, h('h1', {}, t('picture.not_found')),
        h('p', {}, t('picture.not_found_why')),
        h('p', {}, h('a', { href: '#/board' }, t('picture.back'))));
      return;
    }
    throw e;
  }
  const [orgPage, elections] = await Promise.all([
    request('/organisations?limit=200').catch(() => ({ items: [] })),
    request('/elections').catch(() => []),
  ]);
  const orgs = new Map(orgPage.items.map((o) => [o.id, o]));
  const mine = me().organisation.id === p.originator.id;
  let lang = ['fi', 'sv', 'en'].includes(prefs.lang) && p.title && p.title[prefs.lang] ? prefs.lang : p.original_lang || 'fi';
  const body = h('div');
  const timers = [];

  const render = () => {
    if (!p.title) {
      // The secretariat outside the audience: metadata only.
      mount(body, tlpBanner(p.tlp), h('h1', {}, p.reference), h('div', {}, badges(p)),
        h('p', {}, t('picture.metadata_only')),
        facts(p, ['status', 'tier', 'tlp'], orgs, elections),
        h('p', {}, t('picture.metadata_line', { org: p.originator.code, created: time(p.created_at), updated: time(p.updated_at) })));
      return;
    }
    const langs = h('span', { class: 'langs', role: 'group', 'aria-label': t('picture.text_language') },
      ENUMS.lang.map((l) => h('button', {
        type: 'button', 'aria-pressed': String(l === lang), lang: l,
        onclick: () => {
          lang = l;
          prefs.lang = l;
          render();
        },
      }, label(l))));
    const title = pick(p.title, lang, p.original_lang);
    // The picture as a PDF in the language shown, made by the server from what this
    // reader sees (docs/reports.md).
    const actions = [h('button', {
      type: 'button', class: 'secondary', id: 'pdf',
      onclick: async (ev) => {
        const b = ev.currentTarget;
        b.disabled = true;
        try {
          await download(`/pictures/${p.id}/render?format=pdf&lang=${lang}`, `${p.reference}.pdf`);
        } catch (e) {
          toast(t('action.failed', { action: t('document.pdf'), error: describe(e) }), true);
        } finally {
          b.disabled = false;
        }
      },
    }, t('document.pdf'))];
    if (mine) {
      if (hasRole('author', 'approver') && !['withdrawn', 'closed'].includes(p.status)) {
        actions.push(h('a', { class: 'button secondary', href: `#/edit/${p.id}` }, t(p.status === 'published' ? 'picture.propose' : 'picture.edit')));
      }
      const next = [];
      if (p.status === 'draft' || p.pending_revision) next.push('submit');
      if (hasRole('approver')) {
        if (p.status === 'in_review' || p.pending_revision) next.push('approve');
        if (['draft', 'in_review'].includes(p.status) || p.pending_revision) next.push('publish');
        if (p.status === 'in_review' || p.pending_revision) next.push('return');
        if (p.status === 'published') next.push('withdraw', 'close');
      }
      actions.push(...lifecycleButtons(p.id, reload, next, () => etag));
    }
    mount(body,
      tlpBanner(p.tlp),
      h('p', { class: 'meta' }, h('a', { href: '#/board' }, t('picture.to_board'))),
      h('h1', { lang: title.lang }, title.text),
      h('div', {}, h('span', { class: 'mono' }, p.reference),
        t('picture.line', { revision: p.revision, org: p.originator.code, published: time(p.published_at), updated: time(p.updated_at) }), langs),
      h('div', {}, badges(p)),
      p.pending_revision ? h('p', { class: 'notice' }, t('picture.pending', { revision: p.pending_revision })) : null,
      p.redacted_indicators ? h('p', { class: 'notice' }, t('picture.redacted', { n: p.redacted_indicators })) : null,
      actions.length ? h('div', { class: 'actions' }, actions) : null,
      h('div', { class: 'cols' },
        h('div', {},
          h('h2', {}, t('picture.summary')), localized(p.summary, lang, p.original_lang),
          p.details ? [h('h2', {}, t('picture.details')), localized(p.details, lang, p.original_lang, p.details_html)] : null,
          attachmentSection(p, lang),
          h('h2', {}, t('picture.assessment')), facts(p, FACTS, orgs, elections),
          indicators(p), sources(p), recommended(p, lang),
          related(p)),
        h('div', {},
          h('section', { class: 'panel', 'aria-labelledby': 'h-handling' }, h('h2', { id: 'h-handling' }, t('picture.handling')), facts(p, HANDLING, orgs, elections)),
          ...(panels || loadPanels()))));
  };
  // Acknowledgements, release decisions and history are read once per version of the
  // picture, not again when only the language of the texts changes.
  let panels = null;
  function loadPanels() {
    panels = [
      h('section', { class: 'panel', id: 'acks', 'aria-labelledby': 'h-acks' }, h('h2', { id: 'h-acks' }, t('picture.acks')), h('p', { class: 'empty' }, t('picture.loading'))),
      h('section', { class: 'panel', id: 'questions', 'aria-labelledby': 'h-questions' }, h('h2', { id: 'h-questions' }, t('picture.questions')), h('p', { class: 'empty' }, t('picture.loading'))),
      h('section', { class: 'panel', id: 'release', 'aria-labelledby': 'h-release' }, h('h2', { id: 'h-release' }, t('picture.release')), h('p', { class: 'empty' }, t('picture.loading'))),
      h('section', { class: 'panel', id: 'history', 'aria-labelledby': 'h-history' }, h('h2', { id: 'h-history' }, t('picture.history')), h('p', { class: 'empty' }, t('picture.loading'))),
    ];
    acknowledgements(panels[0], p, mine, timers, reload);
    questions(panels[1], p, mine);
    releaseDecisions(panels[2], p, mine);
    history(panels[3], p, orgs, elections);
    return panels;
  }
  async function reload() {
    ({ data: p, etag } = await request(`/pictures/${p.id}`, { withEtag: true }));
    panels = null;
    render();
  }
  mount(main, body);
  render();
  const stop = onStreamEvent((ev) => {
    if (ev.data && ev.data.picture_id === p.id && ev.type !== 'picture.acknowledged') {
      if (ev.type === 'picture.recalled') {
        mount(main, h('h1', {}, t('picture.recalled')), h('p', {}, t('picture.recalled_why')));
        return;
      }
      reload().then(() => toast(t('picture.changed', { reference: p.reference, event: ev.type }))).catch(() => {});
    } else if (ev.data && ev.data.picture_id === p.id) {
      const box = body.querySelector('#acks');
      if (box) acknowledgements(box, p, mine, timers, reload);
    }
  });
  setCleanup(() => {
    stop();
    for (const timer of timers) clearInterval(timer);
  });
}

function indicators(p) {
  const list = p.indicators || [];
  if (!list.length) return null;
  return [h('h2', {}, t('picture.indicators')), h('table', {},
    h('thead', {}, h('tr', {}, ['type', 'value', 'platform', 'first_seen', 'last_seen', 'tlp'].map((k) => h('th', {}, t(`picture.ind_${k}`))))),
    h('tbody', {}, list.map((i) => h('tr', {}, h('td', {}, label(i.type)), h('td', { class: 'mono' }, i.value),
      h('td', {}, label(i.platform)), h('td', {}, time(i.first_seen)), h('td', {}, time(i.last_seen)),
      h('td', {}, h('span', { class: `badge tlp-${i.tlp}` }, `TLP:${i.tlp}`))))))];
}

function sources(p) {
  const list = p.sources || [];
  if (!list.length) return null;
  return [h('h2', {}, t('picture.sources')), h('ul', {}, list.map((s) => h('li', {},
    `${label(s.source_type)} (${s.reliability}${s.credibility}): ${s.description}`, s.url ? ` — ${s.url}` : '',
    s.collected_at ? t('picture.collected', { time: time(s.collected_at) }) : '')))];
}

function recommended(p, lang) {
  const list = p.recommended_actions || [];
  if (!list.length) return null;
  return [h('h2', {}, t('picture.recommended')), h('ul', {}, list.map((a) => h('li', {},
    h('strong', {}, `${label(a.audience)}: `), pick(a.text, lang, p.original_lang).text,
    a.response_category ? ` (${label(a.response_category)})` : '')))];
}

function related(p) {
  const list = p.related || [];
  if (!list.length) return null;
  return [h('h2', {}, t('picture.related')), h('ul', {}, list.map((r) => h('li', {},
    `${label(r.relation)}: `, h('a', { href: `#/picture/${r.picture_id}` }, r.picture_id))))];
}

/**
 * The acknowledgement panel. Until this organisation has acknowledged, the deadline counts
 * down and the four buttons are offered; once it has, the countdown stops, the buttons go
 * and (`justAcked`) focus moves to the confirmation, so a keyboard or screen-reader user
 * hears what happened.
 */
async function acknowledgements(box, p, mine, timers, reload, justAcked = false) {
  // The stream's event for our own acknowledgement re-reads the panel too: the newest
  // read wins, and whichever shows the confirmation first after an acknowledgement focuses it.
  box.generation = (box.generation || 0) + 1;
  const generation = box.generation;
  if (justAcked) box.focusConfirmation = true;
  let status;
  try {
    status = await request(`/pictures/${p.id}/acknowledgements`);
    if (box.generation !== generation) return;
  } catch (e) {
    mount(box, h('h2', { id: 'h-acks' }, t('picture.acks')), h('p', { class: 'empty' }, describe(e)));
    return;
  }
  for (const timer of timers.splice(0)) clearInterval(timer);
  if (!me()) return; // signed out meanwhile
  const acks = status.acknowledgements || [];
  const own = acks.filter((a) => a.organisation.id === me().organisation.id);
  const done = own.length > 0;
  const clock = done ? null : h('span', { class: 'countdown', id: 'ack-countdown' });
  const tick = () => {
    if (!status.deadline) {
      clock.textContent = t('picture.no_deadline');
      return;
    }
    const c = countdown(status.deadline);
    clock.textContent = c.text;
    clock.classList.toggle('late', c.late);
  };
  if (clock) {
    tick();
    if (status.deadline) timers.push(setInterval(tick, 1000));
  }
  const canAck = !done && !mine && p.status === 'published' && hasRole('reader', 'author', 'approver');
  const note = h('input', { name: 'ack-note', maxlength: '1000' });
  const buttons = canAck ? h('div', {},
    field(t('picture.ack_note'), note, 'note'),
    h('div', { class: 'actions', role: 'group', 'aria-label': t('picture.acknowledge') }, ENUMS.ack.map((k) => h('button', {
      type: 'button', class: k === 'received' ? '' : 'secondary',
      onclick: async (ev) => {
        ev.currentTarget.disabled = true;
        let sent = false;
        try {
          await request(`/pictures/${p.id}/acknowledgements`, { method: 'POST', body: { kind: k, note: note.value.trim() || null } });
          sent = true;
        } catch (e) {
          toast(describe(e), true);
        }
        await acknowledgements(box, p, mine, timers, reload, sent);
      },
    }, t('picture.acknowledge_as', { kind: label(k) }))))) : null;
  const confirmation = done ? h('p', { class: 'ok', id: 'ack-confirmation', tabindex: '-1' },
    t('picture.own_ack', { kind: label(own[own.length - 1].kind) })) : null;
  // Progress, for whoever sees every recipient's (the originator, the secretariat): the
  // organisations that acknowledged out of those asked.
  const pending = status.pending || null;
  const ackedOrgs = new Set(acks.map((a) => a.organisation.id));
  const asked = pending ? ackedOrgs.size + pending.length : 0;
  const progress = pending && asked ? progressBar({
    id: 'ack-progress', done: ackedOrgs.size, total: asked,
    text: t('picture.ack_progress', { n: ackedOrgs.size, total: asked, percent: percent(ackedOrgs.size / asked) }),
  }) : null;
  mount(box, h('h2', { id: 'h-acks' }, t('picture.acks')),
    confirmation, progress,
    h('p', {}, t('picture.deadline'), status.deadline ? time(status.deadline) : '—', ' ', clock,
      status.overdue ? h('span', { class: 'badge overdue' }, t('picture.overdue')) : null),
    acks.length
      ? h('ul', { id: 'ack-list' }, acks.map((a) => h('li', {},
        h('strong', {}, a.organisation.code), ` ${label(a.kind)} · ${time(a.created_at)}`, a.note ? ` — ${a.note}` : '')))
      : h('p', { class: 'empty' }, t('picture.no_acks')),
    (status.pending || []).length ? h('p', {}, t('picture.pending_orgs'), status.pending.map((o) => o.code).join(', ')) : null,
    buttons);
  if (box.focusConfirmation && confirmation) {
    box.focusConfirmation = false;
    confirmation.focus();
  }
}

/**
 * The questions on the picture: the threads this reader sees (its own organisation's, every
 * one for the originator, every one for the secretariat, without messages where it does
 * not read the picture), with a form to answer a thread it is a party to and, for a reader
 * of another organisation, to ask. Messages are shown as text.
 */
async function questions(box, p, mine, focusThread = null) {
  let list;
  try {
    list = (await request(`/pictures/${p.id}/threads`)).threads;
  } catch (e) {
    mount(box, h('h2', { id: 'h-questions' }, t('picture.questions')), h('p', { class: 'empty' }, describe(e)));
    return;
  }
  // Signed out while the threads were read (a panel answers after the page is left).
  if (!me()) return;
  const org = me().organisation.id;
  const writes = p.status === 'published' && hasRole('reader', 'author', 'approver');
  const form = (label_, button, path) => {
    const text = h('textarea', { name: 'question-body', maxlength: '4000', rows: '3', required: true });
    const f = h('form', { class: 'question-form' }, field(label_, text, 'body'), h('button', { type: 'submit' }, button));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = text.value.trim();
      if (!body) return;
      try {
        const thread = await request(path, { method: 'POST', body: { body } });
        await questions(box, p, mine, thread.id);
      } catch (e) {
        toast(describe(e), true);
      }
    });
    return f;
  };
  const thread = (th) => {
    const party = mine || th.asking_organisation.id === org;
    const messages = th.messages
      ? h('ol', { class: 'messages' }, th.messages.map((m) => h('li', {},
        h('div', { class: 'meta' }, t('picture.question_by', { org: m.organisation.code, time: time(m.created_at) })),
        h('div', { class: 'text' }, m.body))))
      : h('p', { class: 'empty' }, t('picture.question_hidden', { n: th.message_count }));
    return h('li', { 'data-thread': th.id, tabindex: '-1' },
      h('strong', {}, t('picture.question_from', { org: th.asking_organisation.code })),
      th.unread ? h('span', { class: 'badge' }, t('picture.question_unread', { n: th.unread })) : null,
      messages,
      party && writes && th.messages
        ? form(t('picture.answer'), t('picture.send'), `/pictures/${p.id}/threads/${th.id}/messages`) : null);
  };
  const own = list.find((th) => th.asking_organisation.id === org);
  const ask = !mine && !own && writes ? form(t('picture.ask'), t('picture.ask_send'), `/pictures/${p.id}/threads`) : null;
  mount(box, h('h2', { id: 'h-questions' }, t('picture.questions')),
    list.length ? h('ul', { id: 'thread-list' }, list.map(thread)) : h('p', { class: 'empty' }, t('picture.no_questions')),
    ask);
  if (focusThread) {
    const li = box.querySelector(`[data-thread="${focusThread}"]`);
    if (li) li.focus();
  }
}

async function releaseDecisions(box, p, mine) {
  const ras = me().organisation.reach === 'ras_contact_point';
  if (!ras && !mine && !hasRole('secretariat')) {
    box.hidden = true;
    return;
  }
  let list = [];
  try {
    list = await request(`/pictures/${p.id}/release-decisions`);
  } catch (e) {
    mount(box, h('h2', { id: 'h-release' }, t('picture.release')), h('p', { class: 'empty' }, describe(e)));
    return;
  }
  const form = ras && hasRole('reader', 'author', 'approver') ? (() => {
    const d = select('disposition', ENUMS.disposition, { required: true, prompt: true });
    const n = h('input', { name: 'release-note', maxlength: '1000' });
    const f = h('form', {}, field(t('picture.decision'), d, 'disposition'), field(t('picture.decision_note'), n, 'note'),
      h('button', { type: 'submit' }, t('picture.record_decision')));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await request(`/pictures/${p.id}/release-decisions`, { method: 'POST', body: { disposition: d.value, note: n.value.trim() || null } });
        toast(t('picture.decision_recorded'));
        await releaseDecisions(box, p, mine);
      } catch (e) {
        toast(describe(e), true);
      }
    });
    return f;
  })() : null;
  mount(box, h('h2', { id: 'h-release' }, t('picture.release')),
    list.length ? h('ul', {}, list.map((r) => h('li', {}, h('strong', {}, label(r.disposition)),
      t('picture.decision_line', { org: r.organisation.code, revision: r.revision, time: time(r.created_at) }), r.note ? ` — ${r.note}` : '')))
      : h('p', { class: 'empty' }, t('picture.no_decision')),
    form);
}

const IGNORED = new Set(['id', 'reference', 'created_at', 'updated_at', 'published_at', 'revision', 'pending_revision']);

const LOCALIZED = new Set(['title', 'summary', 'details']);
const TIMES = new Set(['valid_from', 'valid_until', 'first_seen', 'last_seen']);

/** One value of a revision as a person reads it: labels, dates, names, yes / no. */
function readable(key, v, orgs) {
  if (v === null || v === undefined || v === '') return '';
  if (TIMES.has(key)) return time(v);
  if (typeof v === 'boolean') return v ? t('picture.yes') : t('picture.no');
  if (key === 'named_recipients') return (orgs.get(v) || { code: v }).code;
  if (Array.isArray(v)) return v.map((x) => readable(key, x, orgs)).join(', ');
  if (typeof v === 'object') {
    if (key === 'originator_consents') return Object.entries(v).filter(([, yes]) => yes).map(([k]) => label(k)).join(', ');
    if (['text', 'description'].includes(key) || Object.keys(v).every((k) => ENUMS.lang.includes(k))) {
      return Object.entries(v).filter(([, x]) => x).map(([l, x]) => `${l}: ${x}`).join(' · ');
    }
    return Object.entries(v).map(([k, x]) => [k, readable(k, x, orgs)]).filter(([, x]) => x)
      .map(([k, x]) => `${fieldName(k)}: ${x}`).join(' · ');
  }
  if (typeof v === 'string' && /^[a-z_]+$/.test(v) && has(`value.${v}`)) return label(v);
  return String(v);
}

/** The name of a field of a revision in the interface language. */
function fieldName(key) {
  for (const k of [`picture.${key}`, `editor.${key}`]) if (has(k)) return t(k);
  return label(key);
}

/**
 * A revision's content as rows a person reads, `path → {name, text, items}`: a text per
 * language, a list item by item (`items`, so that what was added or removed can be
 * marked), each source, indicator, action or file on a row of its own.
 */
export function readableRows(c, orgs = new Map()) {
  const out = new Map();
  for (const [key, v] of Object.entries(c || {})) {
    if (IGNORED.has(key)) continue;
    if (LOCALIZED.has(key)) {
      for (const l of ENUMS.lang) {
        const text = v && v[l];
        if (text) out.set(`${key}.${l}`, { name: t('editor.localized', { kind: fieldName(key), lang: t(`editor.lang_${l}`) }), text });
      }
    } else if (Array.isArray(v) && v.some((x) => x && typeof x === 'object')) {
      v.forEach((x, i) => out.set(`${key}[${i}]`, { name: t('picture.item_n', { field: fieldName(key), n: i + 1 }), text: readable(key, x, orgs) }));
    } else if (Array.isArray(v)) {
      const items = v.map((x) => readable(key, x, orgs));
      if (items.length) out.set(key, { name: fieldName(key), text: items.join(', '), items });
    } else {
      const text = readable(key, v, orgs);
      if (text) out.set(key, { name: fieldName(key), text });
    }
  }
  return out;
}

/** The rows that differ between two revisions, in the order of the later one's fields. */
export function sideBySide(a, b, orgs) {
  const x = readableRows(a, orgs);
  const y = readableRows(b, orgs);
  const paths = [...new Set([...y.keys(), ...x.keys()])];
  return paths.filter((k) => (x.get(k) || {}).text !== (y.get(k) || {}).text)
    .map((k) => ({ path: k, name: (y.get(k) || x.get(k)).name, old: x.get(k) || null, new: y.get(k) || null }));
}

/** One side of a changed row: a list with what the other side lacks marked, else the text. */
function cell(side, other, mark) {
  if (!side) return h('span', { class: 'empty' }, t('picture.diff_none'));
  if (side.items && other && other.items) {
    return h('ul', { class: 'diff-items' }, side.items.map((x) => (other.items.includes(x)
      ? h('li', {}, x)
      : h('li', {}, h(mark, {}, x), ' ', h('span', { class: 'diff-mark' }, t(mark === 'ins' ? 'picture.diff_added' : 'picture.diff_removed'))))));
  }
  return h('span', { class: 'text' }, side.text);
}

async function history(box, p, orgs) {
  let revs;
  try {
    revs = await request(`/pictures/${p.id}/revisions`);
  } catch (e) {
    mount(box, h('h2', { id: 'h-history' }, t('picture.history')), h('p', { class: 'empty' }, describe(e)));
    return;
  }
  const from = select('from', revs.map((r) => String(r.revision)), { required: true });
  const to = select('to', revs.map((r) => String(r.revision)), { required: true });
  if (revs.length) {
    from.value = String(revs[Math.max(0, revs.length - 2)].revision);
    to.value = String(revs[revs.length - 1].revision);
  }
  const out = h('div', { class: 'diff', id: 'diff', 'aria-live': 'polite' });
  const compare = h('form', { class: 'row' }, field(t('picture.from_revision'), from, 'from'), field(t('picture.to_revision'), to, 'to'),
    h('button', { type: 'submit' }, t('picture.compare')));
  compare.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const [a, b] = await Promise.all([
        request(`/pictures/${p.id}/revisions/${from.value}`),
        request(`/pictures/${p.id}/revisions/${to.value}`),
      ]);
      const rows = sideBySide(a, b, orgs);
      mount(out, rows.length ? h('table', { class: 'side-by-side' },
        h('caption', {}, t('picture.diff_caption', { n: rows.length, from: from.value, to: to.value })),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('picture.field')),
          h('th', { scope: 'col' }, t('picture.revision_n', { revision: from.value })),
          h('th', { scope: 'col' }, t('picture.revision_n', { revision: to.value })))),
        h('tbody', {}, rows.map((r) => h('tr', { dataset: { path: r.path } }, h('th', { scope: 'row' }, r.name),
          h('td', { class: 'old' }, cell(r.old, r.new, 'del')), h('td', { class: 'new' }, cell(r.new, r.old, 'ins'))))))
        : h('p', { class: 'empty' }, t('picture.no_difference')));
    } catch (e) {
      mount(out, h('p', { class: 'form-error' }, describe(e)));
    }
  });
  mount(box, h('h2', { id: 'h-history' }, t('picture.history')),
    h('table', {}, h('thead', {}, h('tr', {}, ['#', t('picture.rev_state'), t('picture.rev_handling'), t('picture.rev_made')].map((c) => h('th', {}, c)))),
      h('tbody', {}, revs.map((r) => h('tr', {}, h('td', {}, r.revision),
        h('td', {}, label(r.state), r.returned_at ? h('div', { class: 'meta' },
          t('picture.returned', { time: time(r.returned_at) }), r.returned_note ? `: “${r.returned_note}”` : '') : null),
        h('td', {}, `${r.tlp} · ${label(r.tier)}`), h('td', {}, time(r.created_at)))))),
    revs.length > 1 ? [compare, out] : null);
}
