// The board's timeline: the published pictures the reader sees, by domain and severity,
// over the last 14 days or over the phases of an election; and the same pictures by
// region (their area codes) as a table. Read through the list API with the reader's own
// token, one domain at a time (a list item names no domain; the `domain` filter does).

import { query, request } from './api.js';
import { ENUMS, describe, h, label, mount, scrollBox, select } from './ui.js';
import { isoLocal, language, t } from './i18n.js';
import { SEVERITIES, countText, stackedBars } from './charts.js';

export const DAYS = 14;
const PAGES = 3; // of 200: enough for a fortnight; the panel says when there were more

/** The `n` days up to today in the deployment's time zone, oldest first (`YYYY-MM-DD`). */
export function lastDays(n, now = new Date()) {
  const [y, m, d] = isoLocal(now.toISOString(), false).split('-').map(Number);
  const today = Date.UTC(y, m - 1, d);
  return Array.from({ length: n }, (_, i) => new Date(today - (n - 1 - i) * 86400000).toISOString().slice(0, 10));
}

/**
 * The windows of an election's calendar (its `phases`, Finnish rules) as columns: before
 * the voting register is in force; the register in force before advance voting; advance
 * voting; the days after it before the election day; the election day; after it.
 * Each `{key, from, to}` with `from` and `to` inclusive days (null: open).
 */
export function phaseWindows(phases) {
  const prev = (day) => new Date(Date.parse(`${day}T00:00:00Z`) - 86400000).toISOString().slice(0, 10);
  const next = (day) => new Date(Date.parse(`${day}T00:00:00Z`) + 86400000).toISOString().slice(0, 10);
  const advanceFrom = [phases.advance_voting_domestic_from, phases.advance_voting_abroad_from].sort()[0];
  const advanceTo = [phases.advance_voting_domestic_to, phases.advance_voting_abroad_to].sort()[1];
  return [
    { key: 'before_register', from: null, to: prev(phases.voting_register_in_force) },
    { key: 'register', from: phases.voting_register_in_force, to: prev(advanceFrom) },
    { key: 'advance_voting', from: advanceFrom, to: advanceTo },
    { key: 'before_day', from: next(advanceTo), to: prev(phases.election_day) },
    { key: 'election_day', from: phases.election_day, to: phases.election_day },
    { key: 'after', from: next(phases.election_day), to: null },
  ].filter((w) => !w.from || !w.to || w.from <= w.to);
}

async function published(filters) {
  let items = [];
  let cursor = null;
  for (let i = 0; i < PAGES; i += 1) {
    const page = await request(`/pictures${query({ ...filters, status: 'published', limit: 200, ...(cursor ? { cursor } : {}) })}`);
    items = items.concat(page.items);
    cursor = page.next_cursor;
    if (!cursor) return { items, complete: true };
  }
  return { items, complete: false };
}

/** The timeline panel: `{element, reload}`; `elections` as the API lists them. */
export function timelinePanel(elections) {
  const withPhases = elections.filter((e) => e.phases);
  const scale = select('timeline', ['days', ...withPhases.map((e) => e.id)], { required: true, value: 'days' });
  scale.options[0].textContent = t('timeline.last_days', { n: DAYS });
  withPhases.forEach((e, i) => {
    scale.options[i + 1].textContent = t('timeline.phases_of', { name: e[`name_${language()}`] || e.name_en, code: e.code });
  });
  const scaleId = 'timeline-scale';
  scale.id = scaleId;
  const body = h('div', { id: 'timeline-body' });
  const element = h('section', { id: 'timeline', 'aria-labelledby': 'timeline-h' },
    h('h2', { id: 'timeline-h' }, t('timeline.title')),
    h('div', { class: 'field' }, h('label', { for: scaleId }, t('timeline.scale')), scale),
    body);
  let reads = 0;
  const reload = async () => {
    const mine = ++reads;
    const election = withPhases.find((e) => e.id === scale.value) || null;
    const days = lastDays(DAYS);
    const filters = election ? { election: election.id } : { updated_since: new Date(Date.parse(`${days[0]}T00:00:00Z`) - 86400000).toISOString() };
    let byDomain;
    try {
      byDomain = await Promise.all(ENUMS.domain.map((d) => published({ ...filters, domain: d })));
    } catch (e) {
      if (mine === reads) mount(body, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
      return;
    }
    if (mine !== reads) return;
    const cols = election
      ? phaseWindows(election.phases).map((w) => ({
        key: w.key, label: t(`timeline.phase.${w.key}`), short: t(`timeline.phase_short.${w.key}`), from: w.from, to: w.to,
      }))
      : days.map((d) => ({ key: d, label: d, short: d.slice(5), from: d, to: d }));
    const colOf = (p) => {
      if (!p.published_at) return null;
      const day = isoLocal(p.published_at, false);
      const c = cols.find((x) => (!x.from || x.from <= day) && (!x.to || day <= x.to));
      return c ? c.key : null;
    };
    const counts = new Map();
    let shown = 0;
    ENUMS.domain.forEach((d, i) => {
      for (const p of byDomain[i].items) {
        const col = colOf(p);
        if (!col || !p.severity) continue;
        const k = `${d}|${col}`;
        const c = counts.get(k) || {};
        c[p.severity] = (c[p.severity] || 0) + 1;
        counts.set(k, c);
        shown += 1;
      }
    });
    const pictures = new Set(byDomain.flatMap((x) => x.items.filter((p) => colOf(p) && p.severity).map((p) => p.id))).size;
    const caption = election
      ? t('timeline.caption_phases', { name: election[`name_${language()}`] || election.name_en })
      : t('timeline.caption_days', { from: days[0], to: days[days.length - 1] });
    const chart = stackedBars({
      id: 'timeline-chart', caption, rowHeading: t('timeline.domain'),
      rows: ENUMS.domain.map((d) => ({ key: d, label: label(d) })), cols,
      count: (row, col) => counts.get(`${row}|${col}`) || {},
      summary: t('timeline.summary', { n: pictures, caption }),
    });
    mount(body,
      h('p', { class: 'meta', id: 'timeline-total' }, t('timeline.total', { n: pictures, entries: shown })),
      byDomain.every((x) => x.complete) ? null : h('p', { class: 'notice' }, t('timeline.incomplete', { n: PAGES * 200 })),
      chart,
      regions(byDomain.flatMap((x) => x.items).filter((p, i, all) => colOf(p) && p.severity && all.findIndex((q) => q.id === p.id) === i)));
  };
  scale.addEventListener('change', reload);
  return { element, reload };
}

/**
 * The same pictures by region: each area code (`FI-VP-10`, a municipality `FI-KU-091`, …)
 * with the number of pictures naming it by severity. A list item carries no area codes,
 * so this needs each picture: read only for the pictures shown, at most 60.
 */
function regions(items) {
  const box = h('section', { id: 'regions', 'aria-labelledby': 'regions-h' }, h('h3', { id: 'regions-h' }, t('timeline.regions')));
  const load = h('button', { type: 'button', class: 'secondary', id: 'regions-load' }, t('timeline.regions_load', { n: Math.min(items.length, 60) }));
  const out = h('div', { id: 'regions-body' });
  load.addEventListener('click', async () => {
    load.disabled = true;
    try {
      const full = [];
      for (const p of items.slice(0, 60)) full.push(await request(`/pictures/${p.id}`));
      const rows = new Map();
      let national = {};
      for (const p of full) {
        const codes = p.geo_codes && p.geo_codes.length ? p.geo_codes : null;
        if (!codes) {
          national = { ...national, [p.severity]: (national[p.severity] || 0) + 1 };
          continue;
        }
        for (const c of new Set(codes)) {
          const r = rows.get(c) || {};
          r[p.severity] = (r[p.severity] || 0) + 1;
          rows.set(c, r);
        }
      }
      const total = (c) => SEVERITIES.reduce((n, s) => n + (c[s] || 0), 0);
      const sorted = [...rows].sort((a, b) => total(b[1]) - total(a[1]) || a[0].localeCompare(b[0]));
      mount(out, h('p', { class: 'hint' }, t('timeline.regions_hint')),
        scrollBox(t('timeline.regions'), h('table', { id: 'regions-table' },
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('timeline.region')), h('th', { scope: 'col' }, t('timeline.pictures')))),
          h('tbody', {},
            sorted.map(([code, c]) => h('tr', { dataset: { region: code } }, h('th', { scope: 'row', class: 'mono' }, code), h('td', {}, countText(c)))),
            total(national) ? h('tr', { dataset: { region: 'national' } }, h('th', { scope: 'row' }, t('timeline.no_region')), h('td', {}, countText(national))) : null))));
      load.hidden = true;
    } catch (e) {
      mount(out, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
    } finally {
      load.disabled = false;
    }
  });
  box.append(items.length ? load : h('p', { class: 'empty' }, t('timeline.none')), out);
  return box;
}
