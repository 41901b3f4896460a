// Small DOM helpers. Text from the API is only ever set as text (never as HTML), so a
// picture cannot inject markup into the page.

import { dateTime, fromIsoLocal, has, isoLocal, t, timeZone } from './i18n.js';

/** `h('div', {class: 'x', onclick: f}, child, 'text', [more])` */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the content of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A wide table in a box of its own that scrolls sideways when the table is wider than the
 * column, so the page never does (and the table never runs under the column beside it).
 * The box is a named region that takes focus, so a keyboard can scroll it too.
 */
export function scrollBox(name, child) {
  return h('div', { class: 'table-scroll', role: 'region', tabindex: '0', 'aria-label': name }, child);
}

/** The label of a value of the API's vocabulary, in the interface language. */
export function label(v) {
  if (v === null || v === undefined) return '—';
  // A value the catalogue does not know yet (the API may add some) is shown as it is.
  return has(`value.${v}`) ? t(`value.${v}`) : String(v).replaceAll('_', ' ');
}

export const ENUMS = {
  kind: ['alert', 'update', 'periodic_overview', 'assessment', 'advisory'],
  status: ['draft', 'in_review', 'published', 'superseded', 'withdrawn', 'closed'],
  domain: ['information_influence', 'hybrid', 'cyber'],
  impact: ['none', 'minor', 'moderate', 'significant', 'severe', 'unknown'],
  severity: ['low', 'medium', 'high', 'critical'],
  urgency: ['routine', 'priority', 'immediate'],
  outlook: ['escalating', 'stable', 'de_escalating', 'unknown'],
  tier: ['named', 'group', 'group_virt', 'group_virt_ras', 'public'],
  tlp: ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'],
  classification: ['unclassified_public', 'unclassified_secret', 'TL_IV'],
  lang: ['fi', 'sv', 'en'],
  geo_scope: ['national', 'constituency', 'region', 'wellbeing_county', 'municipality', 'abroad', 'eu_wide', 'foreign_country'],
  reliability: ['A', 'B', 'C', 'D', 'E', 'F'],
  credibility: ['1', '2', '3', '4', '5', '6'],
  election_phase: ['pre_campaign', 'candidate_nomination', 'campaign', 'advance_voting', 'election_day', 'counting_results', 'confirmation_complaints', 'post_election'],
  target: ['election_authority', 'election_information_system', 'results_service', 'voter_register', 'polling_stations', 'advance_voting_abroad', 'voters_general', 'voter_segment_language', 'voter_segment_other', 'candidates', 'parties', 'media', 'platforms', 'election_officials'],
  actor_type: ['state', 'state_linked', 'state_aligned', 'hacktivist', 'criminal', 'domestic_individual', 'domestic_group', 'unknown'],
  attribution_confidence: ['none', 'low', 'moderate', 'high'],
  source_type: ['own_monitoring', 'member_authority', 'election_official', 'platform_report', 'osint', 'media', 'citizen_report', 'ras', 'foreign_partner', 'vendor'],
  indicator_type: ['domain', 'url', 'ipv4', 'ipv6', 'email_address', 'email_subject', 'sms_sender_id', 'phone_number', 'social_account', 'hashtag', 'file_sha256', 'image_phash', 'text_fingerprint', 'telegram_channel'],
  platform: ['x', 'facebook', 'instagram', 'tiktok', 'telegram', 'youtube', 'vk', 'web', 'sms', 'email', 'other'],
  ack: ['received', 'actioning', 'no_action', 'need_more_info'],
  disposition: ['not_released', 'shared_for_awareness', 'alert_proposed', 'alert_raised'],
  audience: ['member_authorities', 'election_virt', 'central_election_boards', 'parties_candidates', 'public', 'platforms', 'media'],
};

let ids = 0;
/** A unique element id. */
export function uid(prefix = 'f') {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled field: `field('Title', input, 'title.fi', 'hint')`; errors go under it. */
export function field(text, control, name, hint) {
  if (!control.id) control.id = uid();
  const errId = uid('err');
  const wrap = h('div', { class: 'field', dataset: { field: name || '' } },
    h('label', { for: control.id }, text), control,
    hint ? h('div', { class: 'hint' }, hint) : null,
    h('div', { class: 'error', id: errId, hidden: true }));
  control.setAttribute('aria-describedby', errId);
  return wrap;
}

/**
 * A `<select>` of `values`. Not `required`: an empty first option ("any"). `required`:
 * never blank; it starts at `value`, else at a `prompt` that the browser will not let the
 * form submit (the choice is deliberate: a release decision, a person), else at the
 * first value.
 */
export function select(name, values, { value = '', empty, required = false, prompt = false } = {}) {
  const s = h('select', { name });
  if (!required) s.appendChild(h('option', { value: '' }, empty ?? t('select.any')));
  else if (prompt) {
    s.required = true;
    s.appendChild(h('option', { value: '', disabled: true }, t('select.choose')));
  }
  for (const v of values) s.appendChild(h('option', { value: v }, label(v)));
  s.value = value || (required && !prompt && values.length ? values[0] : '');
  return s;
}

/**
 * The message for one field error of a `422`. The API's own rules explain themselves
 * ("not a DISARM technique id"); a message from its JSON reader names wire types and
 * variants (in backticks) and is replaced by a sentence for people, by its code.
 */
export function fieldMessage(e) {
  if (!String(e.message || '').includes('`')) return e.message;
  return has(`field_error.${e.code}`) ? t(`field_error.${e.code}`) : t('field_error.invalid_value');
}

/** Shows the field errors of a 422 at their fields; returns the errors no field took. */
export function showFieldErrors(form, problem) {
  clearFieldErrors(form);
  const left = [];
  for (const e of problem.errors || []) {
    const target = findField(form, e.field);
    if (!target) {
      left.push(e);
      continue;
    }
    target.classList.add('invalid');
    const msg = target.querySelector(':scope > .error');
    msg.hidden = false;
    const text = fieldMessage(e);
    msg.textContent = msg.textContent ? `${msg.textContent} ${text}` : text;
    const ctl = target.querySelector('input, select, textarea');
    if (ctl) ctl.setAttribute('aria-invalid', 'true');
  }
  const first = form.querySelector('.field.invalid input, .field.invalid select, .field.invalid textarea');
  if (first) first.focus();
  return left;
}

/** The field block for an API path like `title.fi`, `sources[0].description`, `tier`. */
export function findField(form, path) {
  const candidates = [path];
  let p = path;
  while (/[.[]/.test(p)) {
    p = p.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    candidates.push(p);
  }
  for (const c of candidates) {
    for (const el of form.querySelectorAll('.field')) {
      if (el.dataset.field === c) return el;
    }
  }
  return null;
}

export function clearFieldErrors(form) {
  for (const el of form.querySelectorAll('.field.invalid')) {
    el.classList.remove('invalid');
    const msg = el.querySelector(':scope > .error');
    msg.hidden = true;
    msg.textContent = '';
    const ctl = el.querySelector('[aria-invalid]');
    if (ctl) ctl.removeAttribute('aria-invalid');
  }
}

export function toast(text, error = false) {
  const box = document.getElementById('toast');
  const item = h('div', { class: error ? 'err' : '' }, text);
  box.appendChild(item);
  setTimeout(() => item.remove(), 6000);
}

/** A message for an API error, with the request id to quote. */
export function describe(e) {
  if (e && e.problem) {
    const p = e.problem;
    const fields = (p.errors || []).map((x) => `${x.field}: ${fieldMessage(x)}`).join('; ');
    const base = fields || p.detail || p.title || e.message;
    return p.request_id ? t('error.with_request', { detail: base, code: p.code || e.status, request: p.request_id }) : base;
  }
  return String(e && e.message ? e.message : e);
}

/** A date and time in the interface language and the deployment's time zone. */
export function time(iso) {
  return dateTime(iso);
}

export function badges(p) {
  return h('span', { class: 'badges' },
    p.tlp ? h('span', { class: `badge tlp-${p.tlp}`, title: t('badge.tlp') }, `TLP:${p.tlp}`) : null,
    p.tier ? h('span', { class: 'badge tier', title: t('badge.tier') }, label(p.tier)) : null,
    p.severity ? h('span', { class: `badge sev sev-b-${p.severity}`, title: t('badge.severity') }, label(p.severity)) : null,
    p.urgency && p.urgency !== 'routine' ? h('span', { class: `badge urgency-${p.urgency}`, title: t('badge.urgency') }, label(p.urgency)) : null,
    p.status ? h('span', { class: 'badge status' }, label(p.status)) : null,
    p.is_exercise ? h('span', { class: 'badge exercise' }, t('badge.exercise')) : null,
    p.expired ? h('span', { class: 'badge status' }, t('badge.expired')) : null);
}

/**
 * The TLP banner at the top of a picture: the label in FIRST TLP 2.0's words and colours
 * on black, and what it means for the reader, in the interface language.
 */
export function tlpBanner(tlp) {
  if (!tlp) return null;
  const key = tlp === 'AMBER+STRICT' ? 'AMBER_STRICT' : tlp;
  return h('div', { class: `tlp-banner tlp-${key}`, role: 'note', id: 'tlp-banner', 'aria-label': t('tlp.banner_label') },
    h('strong', {}, `TLP:${tlp}`), ' ', h('span', {}, t(`tlp.${key}`)));
}

// What the page keeps of the server's rendered Markdown: it is sanitised there already,
// and is copied here element by element from an inert parsed document, so nothing outside
// this list (and no attribute but a link's address) can reach the page either way.
const MARKDOWN_TAGS = new Set(['p', 'br', 'hr', 'em', 'strong', 'del', 'code', 'pre', 'blockquote', 'ul', 'ol', 'li', 'a',
  'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'thead', 'tbody', 'tr', 'th', 'td']);
const LINK_REL = ['noopener', 'noreferrer'].join(' ');

/** The details' HTML rendered by the server, as DOM nodes built with `h()`. */
export function markdown(html, lang) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const copy = (node) => {
    if (node.nodeType === Node.TEXT_NODE) return document.createTextNode(node.textContent);
    if (node.nodeType !== Node.ELEMENT_NODE) return null;
    const tag = node.tagName.toLowerCase();
    const kids = [...node.childNodes].map(copy);
    if (!MARKDOWN_TAGS.has(tag)) return kids;
    const attrs = {};
    const href = tag === 'a' ? node.getAttribute('href') || '' : '';
    if (/^(https?:|mailto:)/i.test(href)) Object.assign(attrs, { href, rel: LINK_REL });
    return h(tag, attrs, kids);
  };
  return h('div', { class: 'markdown', lang }, [...doc.body.childNodes].map(copy));
}

/** The text of `t` (a `{fi, sv, en}`) in `lang`, with the language it came from. */
export function pick(t, lang, fallback) {
  if (!t) return { text: '', lang: null };
  if (t[lang]) return { text: t[lang], lang };
  for (const l of [fallback, 'en', 'fi', 'sv']) if (l && t[l]) return { text: t[l], lang: l };
  return { text: '', lang: null };
}

/** "3 h 12 min 05 s" until `deadline` (negative: overdue). */
export function countdown(deadline) {
  const ms = new Date(deadline).getTime() - Date.now();
  const s = Math.abs(Math.round(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  const text = t('countdown.duration', { h: hh, m: String(mm).padStart(2, '0'), s: ss });
  return ms >= 0 ? { text: t('countdown.left', { time: text }), late: false } : { text: t('countdown.overdue', { time: text }), late: true };
}

/**
 * A date field written and read as ISO 8601 whatever the browser's locale (a native date
 * input shows `mm/dd/yyyy` in an American browser): `2027-04-18 09:30` in the deployment's
 * time zone, or with `time: false` a date alone (`2027-04-18`). Read it with `isoValue`.
 */
export function isoInput(name, iso, { time = true } = {}) {
  const el = h('input', {
    name, type: 'text', inputmode: 'numeric', autocomplete: 'off', spellcheck: 'false',
    size: time ? '16' : '10', maxlength: time ? '16' : '10',
    placeholder: t(time ? 'date.format_datetime' : 'date.format_date'), dataset: { iso: time ? 'datetime' : 'date' },
  });
  el.value = time ? isoLocal(iso) : (iso || '');
  return el;
}

/** The hint under an `isoInput`: the format and, with a time, the zone it is in. */
export function isoHint(time = true) {
  return time ? t('date.hint_datetime', { zone: timeZone() }) : t('date.hint_date');
}

/** A value an `isoInput` does not take: its message says how to write it. */
export class DateProblem extends Error {}

/**
 * What an `isoInput` holds: null when empty; an instant (ISO 8601 in UTC) for a date and
 * time, the date itself (`YYYY-MM-DD`) for a date alone. A date without a time means its
 * midnight. Throws a `DateProblem` for anything else.
 */
export function isoValue(el) {
  const v = el.value.trim();
  if (!v) return null;
  const time = el.dataset.iso === 'datetime';
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}))?$/.exec(v);
  const bad = () => new DateProblem(t(time ? 'date.invalid_datetime' : 'date.invalid_date'));
  if (!m || (!time && m[4] !== undefined) || Number(m[1]) < 1000) throw bad();
  const [year, month, day, hour, minute] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
  if (!time) {
    const d = new Date(Date.UTC(year, month - 1, day));
    if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) throw bad();
    return v;
  }
  const d = fromIsoLocal(year, month, day, hour, minute);
  if (!d) throw bad();
  return d.toISOString();
}

/**
 * The `isoInput`s of `form` that hold no date, as field errors (`{field, message}`) for
 * `showFieldErrors`, each named by its field block.
 */
export function dateErrors(form) {
  const out = [];
  for (const el of form.querySelectorAll('input[data-iso]')) {
    try {
      isoValue(el);
    } catch (e) {
      if (!(e instanceof DateProblem)) throw e;
      const block = el.closest('.field');
      out.push({ field: block ? block.dataset.field : el.name, message: e.message, code: 'invalid_date' });
    }
  }
  return out;
}

// What the page would lose by leaving it: a view with unsaved work sets a function that
// says whether there is any, and the router and the browser ask before it is lost.
let leaveGuard = null;

/** Sets (or with null clears) the current view's "is there unsaved work?" function. */
export function setLeaveGuard(fn) {
  leaveGuard = fn;
}

/** Whether leaving the page now loses unsaved work. */
export function unsavedWork() {
  return !!(leaveGuard && leaveGuard());
}

/**
 * An SVG element (`svg('rect', {x: 1})`). The namespace is taken from an SVG element the
 * browser's own HTML parser made, so no module has to spell it out.
 */
let svgNs = null;
export function svg(tag, attrs = {}, ...children) {
  if (!svgNs) svgNs = new DOMParser().parseFromString('<svg></svg>', 'text/html').body.firstChild.namespaceURI;
  const el = document.createElementNS(svgNs, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.setAttribute('class', v);
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
