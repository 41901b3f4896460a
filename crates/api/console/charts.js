// Charts the page draws itself as SVG (no library, nothing fetched, nothing inline that
// the page's CSP would refuse). Each has its numbers in words too: a table beside the
// timeline, the sentence beside a progress bar. Severities are told apart by a pattern
// as well as a colour (dots, lines, cross-hatch, solid), and the legend names them.

import { h, label, scrollBox, svg, uid } from './ui.js';
import { t } from './i18n.js';

export const SEVERITIES = ['low', 'medium', 'high', 'critical'];
// Each at least 3:1 against white (the outlines of the bars carry it).
const INK = { low: '#3f6691', medium: '#8a5a00', high: '#b0400f', critical: '#7a0a0a' };

/** The four patterns of the severities, under ids starting with `prefix`. */
function patterns(prefix) {
  const tile = (sev, ...shapes) => svg('pattern', { id: `${prefix}-${sev}`, width: 6, height: 6, patternUnits: 'userSpaceOnUse' },
    svg('rect', { width: 6, height: 6, fill: '#ffffff' }), shapes);
  return svg('defs', {},
    tile('low', svg('circle', { cx: 3, cy: 3, r: 1.7, fill: INK.low })),
    tile('medium', svg('path', { d: 'M-1,1 L1,-1 M0,6 L6,0 M5,7 L7,5', stroke: INK.medium, 'stroke-width': 1.8 })),
    tile('high', svg('path', { d: 'M0,6 L6,0 M0,0 L6,6', stroke: INK.high, 'stroke-width': 1.6 })),
    tile('critical', svg('rect', { width: 6, height: 6, fill: INK.critical })));
}

/** A small swatch of a severity's pattern, for legends. */
function swatch(sev) {
  const prefix = uid('sw');
  return svg('svg', { width: 18, height: 12, viewBox: '0 0 18 12', 'aria-hidden': 'true', focusable: 'false', class: 'swatch' },
    patterns(prefix), svg('rect', { x: 0.5, y: 0.5, width: 17, height: 11, fill: `url(#${prefix}-${sev})`, stroke: INK[sev] }));
}

/** The legend of the severities: a swatch and the name of each. */
export function severityLegend() {
  return h('ul', { class: 'legend' }, SEVERITIES.map((s) => h('li', {}, swatch(s), ' ', label(s))));
}

/** "3 (1 high, 2 medium)" for counts by severity; "—" for none. */
export function countText(counts) {
  const total = SEVERITIES.reduce((n, s) => n + (counts[s] || 0), 0);
  if (!total) return '—';
  const parts = [...SEVERITIES].reverse().filter((s) => counts[s]).map((s) => t('chart.count_severity', { n: counts[s], severity: label(s) }));
  return t('chart.count', { n: total, parts: parts.join(', ') });
}

/**
 * A grid of stacked bars: one band a row (a domain), one bar a column (a day, a phase),
 * each bar stacked by severity from critical at the bottom; its number above it. Returns
 * a figure with the chart (scrolling sideways in its own box on a narrow screen), the
 * legend and the same numbers as a table.
 *
 * `rows`, `cols`: `[{key, label}]` (`short`: a column's label under its bar);
 * `count(row, col)`: `{low, medium, high, critical}`.
 */
export function stackedBars({ id, caption, rows, cols, count, rowHeading, summary }) {
  const prefix = uid('pat');
  const left = 130;
  const colWidth = Math.max(34, Math.floor(560 / Math.max(cols.length, 1)));
  const band = 64;
  const top = 8;
  const width = left + colWidth * cols.length + 8;
  const height = top + band * rows.length + 34;
  const cells = rows.map((r) => cols.map((c) => count(r.key, c.key)));
  const totals = cells.map((line) => line.map((x) => SEVERITIES.reduce((n, s) => n + (x[s] || 0), 0)));
  const most = Math.max(1, ...totals.flat());
  const unit = (band - 22) / most;
  const parts = [patterns(prefix)];
  rows.forEach((r, i) => {
    const base = top + band * (i + 1) - 4;
    parts.push(svg('line', { x1: left - 4, x2: width - 4, y1: base, y2: base, stroke: '#767676', 'stroke-width': 1 }));
    parts.push(svg('text', { x: 4, y: base - band / 2 + 6, class: 'chart-row' }, r.label));
    cols.forEach((c, j) => {
      const x = left + colWidth * j + colWidth * 0.15;
      const w = colWidth * 0.7;
      let y = base;
      for (const s of [...SEVERITIES].reverse()) {
        const n = cells[i][j][s] || 0;
        if (!n) continue;
        const hgt = n * unit;
        y -= hgt;
        parts.push(svg('rect', { x, y, width: w, height: hgt, fill: `url(#${prefix}-${s})`, stroke: INK[s], 'stroke-width': 1 },
          svg('title', {}, `${r.label}, ${c.label}: ${t('chart.count_severity', { n, severity: label(s) })}`)));
      }
      if (totals[i][j]) parts.push(svg('text', { x: x + w / 2, y: y - 3, 'text-anchor': 'middle', class: 'chart-n' }, totals[i][j]));
    });
  });
  const axis = top + band * rows.length + 14;
  cols.forEach((c, j) => {
    parts.push(svg('text', { x: left + colWidth * j + colWidth / 2, y: axis, 'text-anchor': 'middle', class: 'chart-col' }, c.short ?? c.label));
  });
  const chart = svg('svg', {
    id, viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': summary, class: 'chart',
  }, parts);
  const table = h('table', { class: 'chart-table', id: `${id}-table` },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, rowHeading), cols.map((c) => h('th', { scope: 'col' }, c.label)))),
    h('tbody', {}, rows.map((r, i) => h('tr', { dataset: { row: r.key } }, h('th', { scope: 'row' }, r.label),
      cols.map((c, j) => h('td', { dataset: { col: c.key, total: String(totals[i][j]) } }, countText(cells[i][j])))))));
  return h('figure', { class: 'chart-figure' },
    h('figcaption', {}, caption),
    scrollBox(caption, chart),
    severityLegend(),
    h('details', { class: 'chart-numbers' }, h('summary', {}, t('chart.as_table')), scrollBox(t('chart.as_table'), table)));
}

/**
 * A progress bar of `done` out of `total` with the sentence that says it (the bar is a
 * picture of the sentence, so it is hidden from screen readers).
 */
export function progressBar({ id, done, total, text }) {
  const width = 240;
  const share = total ? done / total : 0;
  return h('div', { class: 'progress', id },
    svg('svg', { viewBox: `0 0 ${width} 14`, width, height: 14, 'aria-hidden': 'true', focusable: 'false', class: 'progress-bar' },
      svg('rect', { x: 0.5, y: 0.5, width: width - 1, height: 13, fill: '#ffffff', stroke: '#4a4a4a' }),
      share ? svg('rect', { x: 0.5, y: 0.5, width: (width - 1) * share, height: 13, fill: '#1b6b2f', class: 'progress-done' }) : null),
    h('span', { class: 'progress-text' }, text));
}
