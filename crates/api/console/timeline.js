// The board's timeline: the published pictures the reader reads in full, by domain and
// severity, over the last 14 days or over the windows of an election's calendar; and the
// same pictures by region (their area codes) as a table. One read of the summary
// (`GET /pictures/summary`), which counts every such picture in the database under the
// reader's own sight: the windows (local days, or the election's phases) come from it too.

import { query, request } from './api.js';
import { ENUMS, describe, h, label, mount, scrollBox, select } from './ui.js';
import { language, t } from './i18n.js';
import { SEVERITIES, countText, stackedBars } from './charts.js';

export const DAYS = 14;

const total = (c) => SEVERITIES.reduce((n, s) => n + (c[s] || 0), 0);

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
    let summary;
    try {
      summary = await request(`/pictures/summary${query(election ? { election: election.id } : {})}`);
    } catch (e) {
      if (mine === reads) mount(body, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
      return;
    }
    if (mine !== reads) return;
    const cols = summary.windows.map((w) => (election
      ? { key: w.key, label: t(`timeline.phase.${w.key}`), short: t(`timeline.phase_short.${w.key}`) }
      : { key: w.key, label: w.key, short: w.key.slice(5) }));
    const counts = new Map(summary.by_domain.map((c) => [`${c.domain}|${c.window}`, c.counts]));
    const shown = summary.by_domain.reduce((n, c) => n + total(c.counts), 0);
    const pictures = summary.pictures;
    const caption = election
      ? t('timeline.caption_phases', { name: election[`name_${language()}`] || election.name_en })
      : t('timeline.caption_days', { from: cols[0].key, to: cols[cols.length - 1].key });
    const chart = stackedBars({
      id: 'timeline-chart', caption, rowHeading: t('timeline.domain'),
      rows: ENUMS.domain.map((d) => ({ key: d, label: label(d) })), cols,
      count: (row, col) => counts.get(`${row}|${col}`) || {},
      summary: t('timeline.summary', { n: pictures, caption }),
    });
    mount(body,
      h('p', { class: 'meta', id: 'timeline-total' }, t('timeline.total', { n: pictures, entries: shown })),
      chart,
      regions(summary.by_area));
  };
  scale.addEventListener('change', reload);
  return { element, reload };
}

/**
 * The same pictures by region: each area code (`FI-VP-10`, a municipality `FI-KU-091`, …)
 * with the number of pictures naming it by severity, most first; the pictures naming none
 * (national) last. `rows` as the summary gives them (`by_area`).
 */
function regions(rows) {
  const box = h('section', { id: 'regions', 'aria-labelledby': 'regions-h' }, h('h3', { id: 'regions-h' }, t('timeline.regions')));
  if (!rows.length) {
    box.append(h('p', { class: 'empty' }, t('timeline.none')));
    return box;
  }
  box.append(h('div', { id: 'regions-body' },
    h('p', { class: 'hint' }, t('timeline.regions_hint')),
    scrollBox(t('timeline.regions'), h('table', { id: 'regions-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('timeline.region')), h('th', { scope: 'col' }, t('timeline.pictures')))),
      h('tbody', {}, rows.map((r) => (r.area
        ? h('tr', { dataset: { region: r.area, total: String(total(r.counts)) } }, h('th', { scope: 'row', class: 'mono' }, r.area), h('td', {}, countText(r.counts)))
        : h('tr', { dataset: { region: 'national', total: String(total(r.counts)) } }, h('th', { scope: 'row' }, t('timeline.no_region')), h('td', {}, countText(r.counts))))))))));
  return box;
}
