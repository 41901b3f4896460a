// Situation reports: the list, one report with its pictures, the PDF and a printable
// preview made by the server, the lifecycle with four eyes, and composing a report from
// published pictures picked with the board's filters.

import { authFetch, download, hasRole, me, query, request } from './api.js';
import { ENUMS, dateErrors, describe, field, h, isoHint, isoInput, isoValue, label, mount, pick, select, showFieldErrors, time, tlpBanner, toast } from './ui.js';
import { lifecycleButtons } from './board.js';
import { language, t } from './i18n.js';

/** The report list, newest first. */
export async function reportsView(main) {
  const page = await request(`/reports${query({ limit: 100 })}`);
  const lang = language();
  const rows = page.items.map((r) => h('tr', {},
    h('td', { class: 'mono' }, h('a', { href: `#/report/${r.id}` }, r.reference)),
    h('td', {}, pick(r.title, lang).text),
    h('td', {}, label(r.status)),
    h('td', {}, r.tlp),
    h('td', {}, time(r.updated_at))));
  mount(main,
    h('h1', {}, t('nav.reports')),
    hasRole('author', 'approver') ? h('p', {}, h('a', { class: 'button', href: '#/new-report' }, t('report.new'))) : null,
    rows.length
      ? h('table', { id: 'report-list' },
        h('thead', {}, h('tr', {}, [t('admin.col.reference'), t('admin.col.title'), t('admin.col.status'), t('picture.tlp'), t('report.updated')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, rows))
      : h('p', {}, t('report.none')));
}

/** Opens the server's HTML render of a report in a new tab (a printable preview). */
async function preview(id, lang) {
  const res = await authFetch(`/reports/${id}/render?format=html&lang=${lang}`);
  if (!res.ok) throw new Error(`${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  window.open(url, '_blank', 'noopener');
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** One report, as the caller reads it. */
export async function reportView(main, id) {
  let etag = null;
  const reload = async () => {
    const { data: r, etag: tag } = await request(`/reports/${id}`, { withEtag: true });
    etag = tag;
    const lang = language();
    const title = pick(r.title, lang, r.original_lang);
    const mine = me().organisation.id === r.originator.id;
    const actions = [
      h('button', {
        type: 'button', class: 'secondary', id: 'report-pdf',
        onclick: async () => {
          try {
            await download(`/reports/${r.id}/render?format=pdf&lang=${lang}`, `${r.reference}.pdf`);
          } catch (e) {
            toast(t('action.failed', { action: t('document.pdf'), error: describe(e) }), true);
          }
        },
      }, t('document.pdf')),
      h('button', {
        type: 'button', class: 'secondary',
        onclick: () => preview(r.id, lang).catch((e) => toast(describe(e), true)),
      }, t('report.preview')),
    ];
    if (mine) {
      const next = [];
      if (r.status === 'draft' || r.pending_revision) next.push('submit');
      if (hasRole('approver')) {
        if (r.status === 'in_review' || r.pending_revision) next.push('approve', 'return');
        if (['draft', 'in_review'].includes(r.status) || r.pending_revision) next.push('publish');
        if (r.status === 'published') next.push('withdraw');
      }
      actions.push(...lifecycleButtons(r.id, reload, next, () => etag, 'reports'));
    }
    const span = r.window ? `${time(r.window.from)} – ${time(r.window.to)}` : '—';
    mount(main,
      tlpBanner(r.tlp),
      h('p', { class: 'meta' }, h('a', { href: '#/reports' }, t('nav.reports'))),
      h('h1', { lang: title.lang }, title.text),
      h('p', {}, h('span', { class: 'mono' }, r.reference), ` · ${label(r.status)} · ${label(r.tier)} · ${r.originator.code}`),
      h('div', { class: 'actions' }, actions),
      h('dl', { class: 'facts' }, h('dt', {}, t('report.window')), h('dd', {}, span)),
      h('h2', {}, t('picture.summary')), h('p', { lang: title.lang }, pick(r.summary, lang, r.original_lang).text),
      h('h2', {}, t('picture.assessment')), h('p', { class: 'prewrap' }, pick(r.assessment, lang, r.original_lang).text),
      h('h2', {}, t('report.pictures')),
      h('table', { id: 'report-pictures' },
        h('thead', {}, h('tr', {}, [t('admin.col.reference'), t('admin.col.title'), t('picture.severity'), t('picture.tlp')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, r.included.map((p) => h('tr', {},
          h('td', { class: 'mono' }, h('a', { href: `#/picture/${p.id}` }, p.reference)),
          h('td', {}, pick(p.title, lang, p.original_lang).text),
          h('td', {}, label(p.severity)),
          h('td', {}, p.tlp))))));
  };
  await reload();
}

/** Composing a report: texts in the interface language, the window, the handling, and the
 * pictures, picked from the published ones the board's filters find. */
export async function reportEditorView(main) {
  const lang = language();
  const filters = { domain: select('domain', ENUMS.domain), severity: select('severity', ENUMS.severity) };
  const list = h('fieldset', { id: 'report-picker' });
  const chosen = new Set();
  const load = async () => {
    const page = await request(`/pictures${query({ limit: 100, status: 'published', domain: filters.domain.value, severity: filters.severity.value })}`);
    mount(list, h('legend', {}, t('report.choose')), page.items.map((p) => {
      const box = h('input', { type: 'checkbox', value: p.id, checked: chosen.has(p.id),
        onchange: (e) => (e.currentTarget.checked ? chosen.add(p.id) : chosen.delete(p.id)) });
      return h('label', { class: 'pick' }, box, ` ${p.reference} · ${pick(p.title || {}, lang).text} · ${label(p.severity)} · ${p.tlp}`);
    }));
  };
  for (const s of Object.values(filters)) s.addEventListener('change', () => load().catch((e) => toast(describe(e), true)));
  const title = h('input', { name: `title.${lang}`, maxlength: 140, required: true });
  const summary = h('textarea', { name: `summary.${lang}`, maxlength: 1000, required: true, rows: 3 });
  const assessment = h('textarea', { name: `assessment.${lang}`, required: true, rows: 8 });
  const from = isoInput('window.from', null);
  const to = isoInput('window.to', null);
  const tier = select('tier', ENUMS.tier.filter((x) => x !== 'named'), { value: 'group', required: true });
  const tlp = select('tlp', ENUMS.tlp, { value: 'AMBER', required: true });
  const form = h('form', {
    id: 'report-form',
    onsubmit: async (e) => {
      e.preventDefault();
      const body = {
        original_lang: lang,
        title: { [lang]: title.value }, summary: { [lang]: summary.value }, assessment: { [lang]: assessment.value },
        pictures: [...chosen], tier: tier.value, tlp: tlp.value,
      };
      const bad = dateErrors(form);
      if (bad.length) {
        showFieldErrors(form, { errors: bad });
        toast(bad.map((x) => x.message).join(' '), true);
        return;
      }
      if (from.value.trim() && to.value.trim()) body.window = { from: isoValue(from), to: isoValue(to) };
      try {
        const r = await request('/reports', { method: 'POST', body });
        toast(t('report.created', { reference: r.reference }));
        location.hash = `#/report/${r.id}`;
      } catch (err) {
        const left = err.problem && err.problem.errors ? showFieldErrors(form, err.problem) : [];
        toast(left.length ? left.map((x) => x.message).join(' ') : describe(err), true);
      }
    },
  },
  field(t('admin.col.title'), title, `title.${lang}`),
  field(t('picture.summary'), summary, `summary.${lang}`),
  field(t('picture.assessment'), assessment, `assessment.${lang}`),
  h('div', { class: 'row' }, field(t('report.from'), from, 'window.from', isoHint()), field(t('report.to'), to, 'window.to', isoHint())),
  h('div', { class: 'row' }, field(t('picture.tier'), tier, 'tier'), field(t('picture.tlp'), tlp, 'tlp')),
  h('div', { class: 'row' }, field(t('board.domain'), filters.domain), field(t('board.severity'), filters.severity)),
  list,
  h('div', { class: 'field', dataset: { field: 'pictures' } }, h('div', { class: 'error', hidden: true })),
  h('button', { type: 'submit' }, t('report.create')));
  mount(main, h('h1', {}, t('report.new')), form);
  await load();
}
