// Post and revise: a form for every field of PictureContent, handling first with the
// rules it implies shown as they are met; technique pickers over the pinned lists; dates
// written as ISO 8601; a summary of the errors with a link to each field; a question
// before unsaved work is left. The API checks everything; its 422 field errors are shown
// at the fields they name.

import { ApiError, me, request } from './api.js';
import {
  ENUMS, clearFieldErrors, dateErrors, describe, field, fieldMessage, findField, h, isoHint, isoInput, isoValue, label, mount,
  select, setLeaveGuard, showFieldErrors, toast, uid,
} from './ui.js';
import { language, t } from './i18n.js';
import { editorAttachments } from './attachments.js';

/** The TLPs each tier allows (the API's `tier_tlp_mismatch`, docs/pictures.md). */
export const TIER_TLPS = {
  named: ['AMBER+STRICT', 'RED'],
  group: ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT'],
  group_virt: ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT'],
  group_virt_ras: ['CLEAR', 'GREEN', 'AMBER'],
  public: ['CLEAR'],
};
const tierRank = (tier) => ENUMS.tier.indexOf(tier);
const tlpRank = (tlp) => ENUMS.tlp.indexOf(tlp);

/**
 * The rules the handling chosen implies, each `{key, ok, vars}` (`ok` null: a fact, not a
 * condition), in the order the API checks them. `v`: tier, tlp, community, recipients
 * (a count), classification, basis, consents (a Set), texts (language → title and summary
 * both written), indicatorTlps.
 */
export function handlingRules(v) {
  const out = [];
  const rank = tierRank(v.tier);
  const allowed = TIER_TLPS[v.tier] || [];
  out.push({ key: 'tier_tlp', ok: allowed.includes(v.tlp), vars: { tier: label(v.tier), tlps: allowed.map((x) => `TLP:${x}`).join(', ') } });
  if (v.tlp === 'GREEN') out.push({ key: 'community', ok: !!v.community });
  else if (v.community) out.push({ key: 'community_only_green', ok: false });
  if (v.tier === 'named') out.push({ key: 'named', ok: v.recipients > 0 });
  else if (v.recipients > 0) out.push({ key: 'named_only', ok: false });
  if (v.classification !== 'unclassified_public') out.push({ key: 'secrecy_basis', ok: !!v.basis });
  if (v.classification === 'TL_IV') out.push({ key: 'tl_iv', ok: rank <= tierRank('group_virt') });
  if (rank >= tierRank('group_virt')) out.push({ key: 'consent_virt', ok: v.consents.has('virt') });
  if (rank >= tierRank('group_virt_ras')) {
    out.push({ key: 'consent_ras', ok: v.consents.has('ras') });
    out.push({ key: 'english', ok: !!v.texts.en });
    out.push({ key: 'four_eyes', ok: null });
  }
  if (v.tier === 'public') {
    out.push({ key: 'consent_public', ok: v.consents.has('public') });
    out.push({ key: 'finnish_swedish', ok: !!(v.texts.fi && v.texts.sv) });
    out.push({ key: 'public_unclassified', ok: v.classification === 'unclassified_public' });
  }
  if (v.indicatorTlps.length) {
    out.push({ key: 'indicator_tlp', ok: v.indicatorTlps.every((x) => tlpRank(x) >= tlpRank(v.tlp)), vars: { tlp: `TLP:${v.tlp}` } });
  }
  return out;
}

/** The languages title and summary must be written in, each with the reason (a catalogue key). */
export function requiredLanguages(originalLang, tier) {
  const out = new Map([[originalLang, ['original']]]);
  const add = (l, why) => out.set(l, [...(out.get(l) || []), why]);
  if (tierRank(tier) >= tierRank('group_virt_ras')) add('en', 'ras');
  if (tier === 'public') {
    add('fi', 'public');
    add('sv', 'public');
  }
  return out;
}

/** The technique lists the pickers search (`/app/techniques.json`, from the pinned lists). */
let techniqueLists = null;
async function loadTechniques() {
  if (!techniqueLists) {
    techniqueLists = fetch('techniques.json', { credentials: 'omit' })
      .then((r) => (r.ok ? r.json() : { frameworks: [] }))
      .catch(() => ({ frameworks: [] }));
  }
  return techniqueLists;
}

/**
 * A picker over one framework's pinned list (`list`; null when none is pinned): a search
 * by id or name whose hits are buttons that add the id to `input` (the ids, which stay
 * editable), and under it the chosen ids with their names and a button to remove each.
 */
function techniquePicker(framework, list, input) {
  const names = new Map((list ? list.techniques : []).map((x) => [x.id, x]));
  const picked = h('ul', { class: 'picked', dataset: { picked: framework } });
  const setIds = (ids) => {
    input.value = ids.join(', ');
    input.dispatchEvent(new Event('input', { bubbles: true }));
  };
  const showPicked = () => {
    const ids = splitList(input.value);
    mount(picked, ids.map((id) => {
      const x = names.get(id);
      return h('li', { dataset: { technique: id } }, h('span', { class: 'mono' }, id), ' ',
        x ? h('span', {}, `${x.name} (${x.tactic})`) : list ? h('span', { class: 'unknown' }, t('picker.unknown', { version: list.version })) : null,
        ' ', h('button', { type: 'button', class: 'secondary btn-small', onclick: () => setIds(splitList(input.value).filter((y) => y !== id)) },
          t('picker.remove', { id })));
    }));
  };
  input.addEventListener('input', showPicked);
  showPicked();
  const name = t(`picker.framework_${framework}`);
  if (!list) return h('div', { class: 'picker' }, h('p', { class: 'hint' }, t('picker.no_list', { framework: name })), picked);
  const search = h('input', { type: 'search', autocomplete: 'off', spellcheck: 'false', dataset: { picker: framework } });
  const results = h('ul', { class: 'picker-results' });
  const status = h('p', { class: 'meta', role: 'status', 'aria-live': 'polite' });
  const find = () => {
    const q = search.value.trim().toLowerCase();
    if (!q) {
      mount(results);
      status.textContent = '';
      return;
    }
    const hits = list.techniques.filter((x) => x.id.toLowerCase().startsWith(q) || x.name.toLowerCase().includes(q));
    const shown = hits.slice(0, 8);
    status.textContent = hits.length ? t('picker.found', { n: hits.length, shown: shown.length }) : t('picker.none', { query: search.value.trim() });
    mount(results, shown.map((x) => h('li', {}, h('button', {
      type: 'button', class: 'secondary', dataset: { technique: x.id },
      onclick: () => {
        const ids = splitList(input.value);
        if (!ids.includes(x.id)) setIds([...ids, x.id]);
        search.value = '';
        find();
        search.focus();
      },
    }, t('picker.add', { id: x.id, name: x.name, tactic: x.tactic })))));
  };
  search.addEventListener('input', find);
  // Enter takes the first hit rather than submitting the whole form.
  search.addEventListener('keydown', (ev) => {
    if (ev.key.toLowerCase() !== 'enter') return;
    ev.preventDefault();
    const first = results.querySelector('button');
    if (first) first.click();
  });
  return h('div', { class: 'picker' },
    field(t('picker.search', { framework: name }), search, null, t('picker.search_hint', { version: list.version, n: list.techniques.length })),
    status, results, picked);
}

function checks(name, values, chosen = [], text = label) {
  const set = new Set(chosen);
  return h('div', { class: 'checks', role: 'group', 'aria-label': name, dataset: { checks: name } },
    values.map(([v, shown]) => {
      const id = uid('c');
      return h('label', { for: id }, h('input', { type: 'checkbox', id, value: v, checked: set.has(v) }), shown ?? text(v));
    }));
}

function checked(group) {
  return [...group.querySelectorAll('input[type=checkbox]')].filter((c) => c.checked).map((c) => c.value);
}

function fieldset(legend, ...children) {
  return h('fieldset', {}, h('legend', {}, legend), children);
}

function localInput(kind, name, value, multiline, max) {
  return ENUMS.lang.map((l) => {
    const ctl = multiline
      ? h('textarea', { name: `${name}.${l}`, lang: l, maxlength: max ? String(max) : null })
      : h('input', { name: `${name}.${l}`, lang: l, maxlength: max ? String(max) : null, size: '60' });
    ctl.value = (value && value[l]) || '';
    return field(t('editor.localized', { kind, lang: t(`editor.lang_${l}`) }), ctl, `${name}.${l}`);
  });
}

function localValue(form, name) {
  const out = {};
  for (const l of ENUMS.lang) {
    const v = form.elements[`${name}.${l}`].value.trim();
    if (v) out[l] = v;
  }
  return out;
}

function splitList(v) {
  return v.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
}

/** A repeatable group of rows (sources, indicators, actions, related). */
function rows(what, name, items, makeRow) {
  const box = h('div', { dataset: { rows: name } });
  const add = (item) => {
    const row = h('div', { class: 'panel', dataset: { row: name } });
    const remove = h('button', { type: 'button', class: 'secondary', onclick: () => { row.remove(); renumber(); } }, t(`editor.remove_row.${what}`));
    row.append(...makeRow(item || {}), remove);
    box.appendChild(row);
    renumber();
  };
  const renumber = () => {
    [...box.children].forEach((row, i) => {
      for (const f of row.querySelectorAll('.field')) f.dataset.field = `${name}[${i}]${f.dataset.sub ? `.${f.dataset.sub}` : ''}`;
    });
  };
  for (const item of items || []) add(item);
  const addButton = h('button', { type: 'button', class: 'secondary', onclick: () => add() }, t(`editor.add_row.${what}`));
  return { element: h('div', { class: 'field', dataset: { field: name } }, box, addButton, h('div', { class: 'error', hidden: true })), box };
}

function sub(el, subName) {
  el.dataset.sub = subName;
  return el;
}

function rowValues(box) {
  return [...box.children].map((row) => {
    const out = {};
    for (const ctl of row.querySelectorAll('[data-key]')) {
      const k = ctl.dataset.key;
      let v = ctl.value.trim();
      if (ctl.dataset.iso) v = isoValue(ctl);
      if (k.includes('.')) {
        const [a, b] = k.split('.');
        out[a] = out[a] || {};
        if (v) out[a][b] = v;
      } else {
        out[k] = v === '' ? null : v;
      }
    }
    return out;
  });
}

function keyed(ctl, key) {
  ctl.dataset.key = key;
  return ctl;
}

/** The editor: a new picture (`id` null) or a revision of picture `id`. */
export async function editorView(main, id) {
  let p = null;
  let etag = null;
  if (id) {
    ({ data: p, etag } = await request(`/pictures/${encodeURIComponent(id)}`, { withEtag: true }));
  }
  const [orgPage, elections, communities, lists] = await Promise.all([
    request('/organisations?limit=200').catch(() => ({ items: [] })),
    request('/elections').catch(() => []),
    request('/communities').catch(() => []),
    loadTechniques(),
  ]);
  const listOf = (framework) => lists.frameworks.find((x) => x.framework === framework) || null;
  const c = p || {
    kind: 'alert', is_exercise: false, primary_domain: 'information_influence', domains: ['information_influence'],
    original_lang: 'fi', impact_on_conduct: 'unknown', impact_on_public_confidence: 'unknown', urgency: 'routine',
    source_reliability: 'C', information_credibility: '3', geo_scope: 'national', targets: [],
    actor_type_suspected: 'unknown', attribution_confidence: 'none', tlp: 'AMBER', tier: 'group',
    classification: 'unclassified_secret', originator_consents: {}, sources: [{}],
  };
  const s = (name, values, value) => select(name, values, { required: true, value });
  const opt = (name, values, value) => select(name, values, { value: value || '', empty: '—' });

  const el = {
    kind: s('kind', ENUMS.kind, c.kind),
    is_exercise: h('input', { type: 'checkbox', name: 'is_exercise', checked: c.is_exercise }),
    primary_domain: s('primary_domain', ENUMS.domain, c.primary_domain),
    domains: checks(t('editor.domains'), ENUMS.domain.map((d) => [d]), c.domains),
    original_lang: s('original_lang', ENUMS.lang, c.original_lang),
    impact_on_conduct: s('impact_on_conduct', ENUMS.impact, c.impact_on_conduct),
    impact_on_public_confidence: s('impact_on_public_confidence', ENUMS.impact, c.impact_on_public_confidence),
    override: opt('severity_override', ENUMS.severity, c.severity_override && c.severity_override.severity),
    override_reason: h('input', { name: 'severity_override.reason', size: '50', value: (c.severity_override && c.severity_override.reason) || '' }),
    urgency: s('urgency', ENUMS.urgency, c.urgency),
    outlook: opt('outlook', ENUMS.outlook, c.outlook),
    source_reliability: s('source_reliability', ENUMS.reliability, c.source_reliability),
    information_credibility: s('information_credibility', ENUMS.credibility, c.information_credibility),
    election_id: select('election_id', [], { empty: '—' }),
    election_phase: opt('election_phase', ENUMS.election_phase, c.election_phase),
    geo_scope: s('geo_scope', ENUMS.geo_scope, c.geo_scope),
    geo_codes: h('input', { name: 'geo_codes', size: '40', value: (c.geo_codes || []).join(', ') }),
    targets: checks(t('editor.targets'), ENUMS.target.map((v) => [v]), c.targets),
    actor_type_suspected: s('actor_type_suspected', ENUMS.actor_type, c.actor_type_suspected),
    attribution_confidence: s('attribution_confidence', ENUMS.attribution_confidence, c.attribution_confidence),
    attribution_releasable: h('input', { type: 'checkbox', name: 'attribution_releasable', checked: c.attribution_releasable }),
    disarm_techniques: h('input', { name: 'disarm_techniques', size: '40', value: (c.disarm_techniques || []).join(', ') }),
    attack_techniques: h('input', { name: 'attack_techniques', size: '40', value: (c.attack_techniques || []).join(', ') }),
    tlp: s('tlp', ENUMS.tlp, c.tlp),
    tlp_community: select('tlp_community', communities.map((x) => x.code), { empty: '—', value: c.tlp_community || '' }),
    tier: s('tier', ENUMS.tier, c.tier),
    named_recipients: checks(t('editor.named_recipients'), orgPage.items.filter((o) => o.id !== me().organisation.id).map((o) => [o.id, `${o.code}`]), c.named_recipients),
    classification: s('classification', ENUMS.classification, c.classification),
    secrecy_basis: h('input', { name: 'secrecy_basis', size: '40', value: c.secrecy_basis || '' }),
    consents: checks(t('editor.consents'), ['police', 'virt', 'ras', 'public'].map((k) => [k]), Object.entries(c.originator_consents || {}).filter(([, v]) => v).map(([k]) => k)),
    valid_from: isoInput('valid_from', c.valid_from),
    valid_until: isoInput('valid_until', c.valid_until),
  };
  for (const e of elections) {
    el.election_id.appendChild(h('option', { value: e.id }, t('board.election_option', { name: e[`name_${language()}`] || e.name_en, code: e.code })));
  }
  el.election_id.value = c.election_id || '';

  const srcRows = rows('source', 'sources', c.sources, (x) => [
    sub(field(t('editor.source_type'), keyed(s('source_type', ENUMS.source_type, x.source_type || 'own_monitoring'), 'source_type'), '', null), 'source_type'),
    sub(field(t('editor.description'), keyed(h('input', { size: '60', value: x.description || '' }), 'description'), ''), 'description'),
    sub(field(t('editor.reliability'), keyed(s('reliability', ENUMS.reliability, x.reliability || 'C'), 'reliability'), ''), 'reliability'),
    sub(field(t('editor.credibility'), keyed(s('credibility', ENUMS.credibility, x.credibility || '3'), 'credibility'), ''), 'credibility'),
    sub(field(t('editor.url'), keyed(h('input', { size: '60', value: x.url || '' }), 'url'), ''), 'url'),
  ]);
  const indRows = rows('indicator', 'indicators', c.indicators, (x) => [
    sub(field(t('editor.type'), keyed(s('type', ENUMS.indicator_type, x.type || 'domain'), 'type'), ''), 'type'),
    sub(field(t('editor.value'), keyed(h('input', { size: '50', value: x.value || '' }), 'value'), ''), 'value'),
    sub(field(t('editor.platform'), keyed(opt('platform', ENUMS.platform, x.platform), 'platform'), ''), 'platform'),
    sub(field(t('editor.tlp'), keyed(s('tlp', ENUMS.tlp, x.tlp || c.tlp), 'tlp'), ''), 'tlp'),
    sub(field(t('editor.first_seen'), keyed(isoInput(null, x.first_seen), 'first_seen'), '', isoHint()), 'first_seen'),
    sub(field(t('editor.last_seen'), keyed(isoInput(null, x.last_seen), 'last_seen'), '', isoHint()), 'last_seen'),
  ]);
  const actRows = rows('action', 'recommended_actions', c.recommended_actions, (x) => [
    sub(field(t('editor.audience'), keyed(s('audience', ENUMS.audience, x.audience || 'member_authorities'), 'audience'), ''), 'audience'),
    ...ENUMS.lang.map((l) => sub(field(t('editor.localized', { kind: t('editor.text'), lang: t(`editor.lang_${l}`) }), keyed(h('input', { size: '60', value: (x.text && x.text[l]) || '' }), `text.${l}`), ''), `text.${l}`)),
  ]);
  const relRows = rows('related', 'related', c.related, (x) => [
    sub(field(t('editor.relation'), keyed(s('relation', ['supersedes', 'follow_up_of', 'duplicate_of', 'part_of_campaign'], x.relation || 'follow_up_of'), 'relation'), ''), 'relation'),
    sub(field(t('editor.picture_id'), keyed(h('input', { size: '40', value: x.picture_id || '' }), 'picture_id'), ''), 'picture_id'),
  ]);

  const message = h('div', { class: 'form-error', role: 'alert', id: 'form-message' });
  // The errors of the last save, counted, each a link to its field.
  const summary = h('div', { class: 'error-summary', id: 'error-summary', tabindex: '-1', hidden: true, 'aria-labelledby': 'error-summary-h' });
  // The rules the handling implies, met or not yet, as the choices change.
  const rules = h('ul', { class: 'rules', id: 'handling-rules' });
  const rulesCount = h('p', { class: 'meta', id: 'handling-rules-count', role: 'status', 'aria-live': 'polite' });
  const langRule = h('p', { class: 'notice', id: 'language-rule' });
  const save = h('button', { type: 'submit', name: 'save', value: 'draft' }, t(id ? 'editor.save_revision' : 'editor.save_draft'));
  const saveSubmit = h('button', { type: 'submit', name: 'save', value: 'submit', class: 'secondary' }, t('editor.save_submit'));
  const form = h('form', { novalidate: true, 'aria-labelledby': 'editor-h' },
    h('h1', { id: 'editor-h' }, p ? t('editor.revise', { reference: p.reference }) : t('editor.new')),
    p && p.status === 'published' ? h('p', { class: 'notice' }, t('editor.published_notice')) : null,
    summary,
    fieldset(t('editor.handling'),
      h('p', { class: 'hint' }, t('editor.handling_first')),
      h('div', { class: 'grid' }, field(t('editor.tier'), el.tier, 'tier'), field(t('editor.tlp'), el.tlp, 'tlp'),
        field(t('editor.tlp_community'), el.tlp_community, 'tlp_community', t('editor.tlp_community_hint')),
        field(t('editor.classification'), el.classification, 'classification'),
        field(t('editor.secrecy_basis'), el.secrecy_basis, 'secrecy_basis', t('editor.secrecy_basis_hint'))),
      h('div', { class: 'field', dataset: { field: 'named_recipients' } }, h('label', {}, t('editor.named_recipients_only')), el.named_recipients, h('div', { class: 'error', hidden: true })),
      h('div', { class: 'field', dataset: { field: 'originator_consents' } }, h('label', {}, t('editor.consents')), el.consents, h('div', { class: 'error', hidden: true })),
      h('h3', { id: 'handling-rules-h' }, t('rules.title')), rulesCount, rules),
    fieldset(t('editor.what'),
      h('div', { class: 'grid' }, field(t('editor.kind'), el.kind, 'kind'), field(t('editor.primary_domain'), el.primary_domain, 'primary_domain'),
        field(t('editor.original_lang'), el.original_lang, 'original_lang'),
        h('div', { class: 'field', dataset: { field: 'is_exercise' } }, h('label', {}, el.is_exercise, t('editor.is_exercise')), h('div', { class: 'error', hidden: true }))),
      h('div', { class: 'field', dataset: { field: 'domains' } }, h('label', {}, t('editor.domains')), el.domains, h('div', { class: 'error', hidden: true }))),
    fieldset(t('editor.texts'), langRule, localInput(t('editor.title'), 'title', c.title, false, 140), localInput(t('editor.summary'), 'summary', c.summary, true, 1000),
      localInput(t('editor.details'), 'details', c.details, true, 20000)),
    fieldset(t('editor.assessment'),
      h('div', { class: 'grid' },
        field(t('editor.impact_on_conduct'), el.impact_on_conduct, 'impact_on_conduct'),
        field(t('editor.impact_on_public_confidence'), el.impact_on_public_confidence, 'impact_on_public_confidence'),
        field(t('editor.urgency'), el.urgency, 'urgency'), field(t('editor.outlook'), el.outlook, 'outlook'),
        field(t('editor.override'), el.override, 'severity_override', t('editor.override_hint')),
        field(t('editor.override_reason'), el.override_reason, 'severity_override.reason'),
        field(t('editor.source_reliability'), el.source_reliability, 'source_reliability'),
        field(t('editor.information_credibility'), el.information_credibility, 'information_credibility'),
        field(t('editor.actor_type'), el.actor_type_suspected, 'actor_type_suspected'),
        field(t('editor.attribution_confidence'), el.attribution_confidence, 'attribution_confidence'),
        h('div', { class: 'field', dataset: { field: 'attribution_releasable' } }, h('label', {}, el.attribution_releasable, t('editor.attribution_releasable')), h('div', { class: 'error', hidden: true })))),
    fieldset(t('editor.election_and_place'),
      h('div', { class: 'grid' }, field(t('editor.election'), el.election_id, 'election_id'), field(t('editor.election_phase'), el.election_phase, 'election_phase'),
        field(t('editor.geo_scope'), el.geo_scope, 'geo_scope'), field(t('editor.geo_codes'), el.geo_codes, 'geo_codes', t('editor.geo_codes_hint'))),
      h('div', { class: 'field', dataset: { field: 'targets' } }, h('label', {}, t('editor.targets')), el.targets, h('div', { class: 'error', hidden: true }))),
    fieldset(t('editor.techniques'),
      field(t('editor.disarm'), el.disarm_techniques, 'disarm_techniques', t('editor.disarm_hint')),
      techniquePicker('disarm', listOf('disarm'), el.disarm_techniques),
      field(t('editor.attack'), el.attack_techniques, 'attack_techniques', t('editor.attack_hint')),
      techniquePicker('attack', listOf('attack'), el.attack_techniques)),
    fieldset(t('editor.sources'), srcRows.element),
    fieldset(t('editor.indicators'), indRows.element),
    fieldset(t('editor.recommended'), actRows.element),
    fieldset(t('editor.validity'),
      h('div', { class: 'grid' }, field(t('editor.valid_from'), el.valid_from, 'valid_from', isoHint()),
        field(t('editor.valid_until'), el.valid_until, 'valid_until', isoHint())),
      relRows.element),
    message, h('div', { class: 'actions' }, save, saveSubmit,
      h('a', { class: 'button secondary', href: p ? `#/picture/${p.id}` : '#/board' }, t('editor.cancel'))));

  const texts = () => Object.fromEntries(ENUMS.lang.map((l) => [l,
    !!(form.elements[`title.${l}`].value.trim() && form.elements[`summary.${l}`].value.trim())]));
  const showRules = () => {
    const list = handlingRules({
      tier: el.tier.value, tlp: el.tlp.value, community: el.tlp_community.value, recipients: checked(el.named_recipients).length,
      classification: el.classification.value, basis: el.secrecy_basis.value.trim(), consents: new Set(checked(el.consents)),
      texts: texts(), indicatorTlps: [...indRows.box.querySelectorAll('select[data-key="tlp"]')].map((x) => x.value),
    });
    mount(rules, list.map((r) => h('li', { dataset: { rule: r.key, ok: r.ok === null ? 'info' : String(r.ok) } },
      h('span', { class: 'rule-state' }, t(r.ok === null ? 'rules.info' : r.ok ? 'rules.met' : 'rules.unmet')), ' ',
      t(`rules.${r.key}`, r.vars || {}))));
    const open = list.filter((r) => r.ok === false).length;
    const text = open ? t('rules.open', { n: open }) : t('rules.all_met');
    if (rulesCount.textContent !== text) rulesCount.textContent = text;
    // Which languages title and summary need, and why; those fields say so in their labels.
    const need = requiredLanguages(el.original_lang.value, el.tier.value);
    mount(langRule, t('editor.languages_required', {
      list: [...need].map(([l, why]) => t('editor.language_why', { lang: t(`editor.lang_${l}`), why: why.map((w) => t(`editor.why_${w}`)).join(', ') })).join('; '),
    }));
    for (const l of ENUMS.lang) {
      for (const kind of ['title', 'summary']) {
        const ctl = form.elements[`${kind}.${l}`];
        const lbl = form.querySelector(`label[for="${ctl.id}"]`);
        let mark = lbl.querySelector('.req');
        if (!mark) {
          mark = h('span', { class: 'req' });
          lbl.appendChild(mark);
        }
        mark.textContent = need.has(l) ? ` ${t('editor.required_mark')}` : '';
        if (need.has(l)) ctl.setAttribute('aria-required', 'true');
        else ctl.removeAttribute('aria-required');
      }
    }
  };
  form.addEventListener('input', showRules);
  form.addEventListener('change', showRules);
  // Removing a row of indicators changes the rules too (no input event is sent).
  new MutationObserver(showRules).observe(indRows.box, { childList: true });
  showRules();

  /** Shows the errors of a save above the form, counted, each a link to its field. */
  const showSummary = (errors, detail) => {
    const ROWS = { sources: 'editor.sources', indicators: 'editor.indicators', recommended_actions: 'editor.recommended', related: 'picture.related' };
    const items = errors.map((e) => {
      const block = findField(form, e.field);
      const text = fieldMessage(e);
      if (!block) return h('li', {}, t('editor.field_error', { field: e.field, message: text }));
      const lbl = block.querySelector('label, legend');
      let name = lbl ? lbl.textContent.replace(/\s+/g, ' ').trim() : e.field;
      const row = /^(\w+)\[(\d+)\]/.exec(e.field);
      if (row && ROWS[row[1]]) name = t('editor.row_field', { rows: t(ROWS[row[1]]), n: Number(row[2]) + 1, field: name });
      const ctl = block.querySelector('input, select, textarea');
      return h('li', {}, h('a', {
        href: location.hash,
        onclick: (ev) => {
          ev.preventDefault();
          (ctl || block).scrollIntoView({ block: 'center' });
          if (ctl) ctl.focus();
        },
      }, t('editor.field_error', { field: name, message: text })));
    });
    mount(summary, h('h2', { id: 'error-summary-h' }, t('editor.errors_title', { n: errors.length })),
      detail ? h('p', {}, detail) : null, h('ul', {}, items));
    summary.hidden = false;
    summary.focus();
  };

  const content = () => {
    const consents = new Set(checked(el.consents));
    const details = localValue(form, 'details');
    const out = {
      kind: el.kind.value,
      is_exercise: el.is_exercise.checked,
      primary_domain: el.primary_domain.value,
      domains: checked(el.domains),
      original_lang: el.original_lang.value,
      title: localValue(form, 'title'),
      summary: localValue(form, 'summary'),
      details: Object.keys(details).length ? details : null,
      impact_on_conduct: el.impact_on_conduct.value,
      impact_on_public_confidence: el.impact_on_public_confidence.value,
      severity_override: el.override.value ? { severity: el.override.value, reason: el.override_reason.value.trim() } : null,
      urgency: el.urgency.value,
      outlook: el.outlook.value || null,
      source_reliability: el.source_reliability.value,
      information_credibility: el.information_credibility.value,
      election_id: el.election_id.value || null,
      election_phase: el.election_phase.value || null,
      geo_scope: el.geo_scope.value,
      geo_codes: splitList(el.geo_codes.value),
      targets: checked(el.targets),
      actor_type_suspected: el.actor_type_suspected.value,
      attribution_confidence: el.attribution_confidence.value,
      attribution_releasable: el.attribution_releasable.checked,
      disarm_techniques: splitList(el.disarm_techniques.value),
      attack_techniques: splitList(el.attack_techniques.value),
      indicators: rowValues(indRows.box),
      sources: rowValues(srcRows.box),
      recommended_actions: rowValues(actRows.box),
      tlp: el.tlp.value,
      tlp_community: el.tlp_community.value || null,
      tier: el.tier.value,
      named_recipients: checked(el.named_recipients),
      classification: el.classification.value,
      secrecy_basis: el.secrecy_basis.value.trim() || null,
      originator_consents: { police: consents.has('police'), virt: consents.has('virt'), ras: consents.has('ras'), public: consents.has('public') },
      valid_from: isoValue(el.valid_from),
      valid_until: isoValue(el.valid_until),
      related: rowValues(relRows.box),
    };
    return out;
  };

  let done = false; // saved: nothing is left unsaved
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const submit = ev.submitter && ev.submitter.value === 'submit';
    clearFieldErrors(form);
    message.textContent = '';
    summary.hidden = true;
    // Dates that are not dates are said here, before anything is sent.
    const badDates = dateErrors(form);
    if (badDates.length) {
      showFieldErrors(form, { errors: badDates });
      showSummary(badDates, null);
      return;
    }
    save.disabled = true;
    saveSubmit.disabled = true;
    try {
      let saved;
      if (p) {
        saved = await request(`/pictures/${p.id}`, { method: 'PATCH', body: content(), headers: { 'if-match': etag } });
      } else {
        saved = await request('/pictures', { method: 'POST', body: content(), headers: { 'idempotency-key': crypto.randomUUID() } });
      }
      if (submit) await request(`/pictures/${saved.id}/submit`, { method: 'POST', body: {} });
      done = true;
      toast(t(submit ? 'editor.saved_submitted' : 'editor.saved', { reference: saved.reference }));
      location.hash = `#/picture/${saved.id}`;
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        showFieldErrors(form, e.problem);
        showSummary(e.problem.errors || [], e.problem.detail || e.problem.title || t('editor.not_accepted'));
      } else if (e instanceof ApiError && e.status === 412) {
        message.textContent = t('editor.changed_meanwhile');
      } else {
        message.textContent = describe(e);
      }
    } finally {
      save.disabled = false;
      saveSubmit.disabled = false;
    }
  });
  const wrap = h('div', { class: 'editor' });
  // Files are attached to a saved picture (each upload makes a revision), outside the form
  // so that its fields never submit it; a file dropped anywhere on the editor is uploaded.
  const files = editorAttachments(p, {
    etag: (v) => {
      if (v) etag = v;
      return etag;
    },
    reload: () => editorView(main, id),
    dropTarget: wrap,
  });
  mount(main, mount(wrap, form, files));
  // Unsaved work: what the form holds differs from what it was given (technique searches
  // aside). The router and the browser ask before it is left.
  const snapshot = () => JSON.stringify([...form.elements].filter((x) => ['INPUT', 'SELECT', 'TEXTAREA'].includes(x.tagName) && x.type !== 'search')
    .map((x) => (x.type === 'checkbox' ? x.checked : x.value)));
  const initial = snapshot();
  setLeaveGuard(() => form.isConnected && !done && snapshot() !== initial);
}
