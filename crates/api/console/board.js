// The situation board (GET /api/v1/pictures with filters and search, updated live from
// the stream) and the approver's review queue.

import { hasRole, me, query, request } from './api.js';
import { onStreamEvent } from './sse.js';
import {
  DateProblem, ENUMS, badges, clearFieldErrors, countdown, dateErrors, describe, field, h, isoHint, isoInput, isoValue, label, mount, pick,
  scrollBox, select, showFieldErrors, time, toast,
} from './ui.js';
import { isoLocal, language, t } from './i18n.js';
import { timelinePanel } from './timeline.js';

// The language picture texts are shown in first: the interface language until changed here.
export const prefs = { lang: language(), view: 'cards' };

let elections = null;
async function loadElections() {
  if (!elections) {
    try {
      elections = await request('/elections');
    } catch (_) {
      elections = [];
    }
  }
  return elections;
}

function card(p, fresh) {
  const title = pick(p.title, prefs.lang);
  const summary = pick(p.summary, prefs.lang);
  const urgent = p.urgency === 'immediate' ? ' immediate' : '';
  return h('li', { class: `card sev-${p.severity || 'none'}${urgent}${fresh ? ' fresh' : ''}`, dataset: { id: p.id, reference: p.reference } },
    h('div', { class: 'meta' }, h('span', { class: 'mono' }, p.reference), ' · ', p.originator.code, ' · ',
      p.kind ? label(p.kind) : t('board.metadata_only'), ' · ', t('board.updated', { time: time(p.updated_at) })),
    h('div', {}, h('a', { class: 'title', href: `#/picture/${p.id}` },
      title.text || t('board.not_shared', { reference: p.reference })),
      title.lang && title.lang !== prefs.lang ? h('span', { class: 'missing-lang' }, t('board.in_language', { lang: label(title.lang) })) : null),
    summary.text ? h('p', {}, summary.text) : null,
    h('div', {}, badges(p)));
}

/** Runs `fn` over `items`, at most `n` at a time (a few requests, never a burst of them). */
async function bounded(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]).catch(() => null);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// How many recent pictures "Needs my action" looks at per kind of work (docs/console.md).
const NEEDS_SCAN = 30;

/**
 * What needs this person's action, most urgent first: pictures of other organisations with
 * an acknowledgement deadline that this organisation has not acknowledged (`immediate`
 * pinned first, then by deadline), the RAS-tier pictures awaiting the RAS contact point's
 * decision, and the approver's queue. All read through the API with the person's token.
 */
export async function needsMyAction() {
  const org = me().organisation;
  const out = { acks: [], ras: [], queue: null };
  const work = [];
  if (hasRole('reader', 'author', 'approver')) {
    work.push((async () => {
      // Only immediate and priority pictures have an acknowledgement deadline.
      const pages = await Promise.all(['immediate', 'priority'].map((u) =>
        request(`/pictures${query({ status: 'published', urgency: u, limit: NEEDS_SCAN })}`)));
      const candidates = pages.flatMap((pg) => pg.items).filter((p) => p.originator.id !== org.id && !p.expired).slice(0, NEEDS_SCAN);
      const statuses = await bounded(candidates, 4, (p) => request(`/pictures/${p.id}/acknowledgements`));
      candidates.forEach((p, i) => {
        const st = statuses[i];
        if (!st || !st.deadline) return;
        if ((st.acknowledgements || []).some((a) => a.organisation.id === org.id)) return;
        out.acks.push({ picture: p, deadline: st.deadline });
      });
      out.acks.sort((x, y) => (x.picture.urgency === 'immediate' ? 0 : 1) - (y.picture.urgency === 'immediate' ? 0 : 1)
        || new Date(x.deadline) - new Date(y.deadline));
    })());
    if (org.reach === 'ras_contact_point') {
      work.push((async () => {
        const page = await request(`/pictures${query({ status: 'published', tier: 'group_virt_ras', limit: NEEDS_SCAN })}`);
        const decisions = await bounded(page.items, 4, (p) => request(`/pictures/${p.id}/release-decisions`));
        page.items.forEach((p, i) => {
          const list = decisions[i];
          if (list && !list.some((d) => d.organisation.id === org.id)) out.ras.push(p);
        });
      })());
    }
  }
  if (hasRole('approver')) {
    work.push((async () => {
      const page = await request(`/pictures${query({ status: 'in_review', originator: org.id, limit: 200 })}`);
      out.queue = page.items.length;
    })());
  }
  await Promise.all(work);
  return out;
}

/** A deadline chip: the time left (or overdue), red when under an hour. */
function deadlineChip(deadline) {
  const chip = h('span', { class: 'chip' });
  const tick = () => {
    const c = countdown(deadline);
    chip.textContent = c.text;
    chip.classList.toggle('chip-red', c.late || new Date(deadline).getTime() - Date.now() < 3600 * 1000);
  };
  tick();
  chip.tick = tick;
  return chip;
}

function needsPanel(needs) {
  const items = [];
  for (const { picture: p, deadline } of needs.acks) {
    items.push(h('li', { class: `need${p.urgency === 'immediate' ? ' need-immediate' : ''}`, dataset: { picture: p.id, need: 'ack' } },
      deadlineChip(deadline), ' ',
      p.urgency === 'immediate' ? [h('span', { class: 'badge urgency-immediate' }, label('immediate')), ' '] : null,
      h('a', { href: `#/picture/${p.id}` }, pick(p.title, prefs.lang).text || p.reference), ' ',
      h('span', { class: 'meta' }, t('needs.ack_line', { reference: p.reference, org: p.originator.code }))));
  }
  for (const p of needs.ras) {
    items.push(h('li', { class: 'need', dataset: { picture: p.id, need: 'ras' } },
      h('span', { class: 'chip chip-ras' }, t('needs.ras_chip')), ' ',
      h('a', { href: `#/picture/${p.id}` }, pick(p.title, prefs.lang).text || p.reference), ' ',
      h('span', { class: 'meta' }, p.reference)));
  }
  if (needs.queue) {
    items.push(h('li', { class: 'need', dataset: { need: 'queue' } },
      h('a', { href: '#/queue' }, t('needs.queue', { n: needs.queue }))));
  }
  return h('section', { class: 'needs panel', id: 'needs', 'aria-labelledby': 'h-needs' },
    h('h2', { id: 'h-needs' }, t('needs.title'), ' ', h('span', { class: 'count' }, String(items.length))),
    items.length ? h('ul', {}, items) : h('p', { class: 'empty' }, t('needs.none')));
}

// The board's filters: every query parameter of GET /pictures but the page's own
// (`limit`, `cursor`). They, the view (cards or table) and the table's sort live in the
// fragment (`#/board/tlp=RED&view=table&sort=deadline`), so a reload or a shared link
// keeps them; the console keeps nothing in the browser's storage.
const FILTERS = ['q', 'domain', 'severity', 'urgency', 'status', 'tier', 'tlp', 'originator', 'election', 'kind', 'is_exercise',
  'overdue', 'include_expired', 'indicator', 'updated_since', 'updated_before'];
const TIMES = ['updated_since', 'updated_before'];
export const COLUMNS = ['reference', 'title', 'urgency', 'status', 'tlp', 'tier', 'originator', 'deadline', 'updated'];

/** The board's state in the fragment, as URLSearchParams. */
function fragmentState() {
  const rest = location.hash.replace(/^#\/?board\/?/, '');
  return new URLSearchParams(rest.startsWith('#') ? '' : rest);
}


/**
 * The acknowledgement deadline of a picture as the API sets it (docs/pictures.md): 1 h
 * after publication for `immediate`, 4 h for `priority`, none otherwise.
 */
export function ackDeadline(p) {
  if (p.status !== 'published' || !p.published_at) return null;
  const hours = { immediate: 1, priority: 4 }[p.urgency];
  return hours ? new Date(new Date(p.published_at).getTime() + hours * 3600 * 1000) : null;
}

const rank = (list) => (v) => (v == null ? -1 : list.indexOf(v));
const URGENCY_RANK = rank(['routine', 'priority', 'immediate']);
const TLP_RANK = rank(['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED']);

/** The value a column sorts by (numbers or strings; missing values sort last). */
function sortValue(p, col) {
  switch (col) {
    case 'reference': return p.reference;
    case 'title': return pick(p.title, prefs.lang).text || null;
    case 'urgency': return p.urgency ? URGENCY_RANK(p.urgency) : null;
    case 'status': return ENUMS.status.indexOf(p.status);
    case 'tlp': return TLP_RANK(p.tlp);
    case 'tier': return ENUMS.tier.indexOf(p.tier);
    case 'originator': return p.originator.code;
    case 'deadline': return ackDeadline(p)?.getTime() ?? null;
    case 'updated': return new Date(p.updated_at).getTime();
    default: return null;
  }
}

/** `items` sorted by `col` (`dir` 1 ascending, -1 descending), missing values last, stable. */
export function sortPictures(items, col, dir) {
  const collator = new Intl.Collator(language(), { numeric: true, sensitivity: 'base' });
  return items.map((p, i) => [p, sortValue(p, col), i]).sort((a, b) => {
    if (a[1] === null || b[1] === null) return (a[1] === null) - (b[1] === null) || a[2] - b[2];
    const c = typeof a[1] === 'string' ? collator.compare(a[1], b[1]) : a[1] - b[1];
    return c * dir || a[2] - b[2];
  }).map((x) => x[0]);
}

function row(p, fresh) {
  const title = pick(p.title, prefs.lang);
  const deadline = ackDeadline(p);
  return h('tr', { class: fresh ? 'fresh' : null, dataset: { id: p.id, reference: p.reference } },
    h('td', { class: 'mono no-wrap' }, p.reference),
    h('td', {}, h('a', { href: `#/picture/${p.id}` }, title.text || t('board.not_shared', { reference: p.reference }))),
    h('td', {}, p.urgency ? h('span', { class: `badge urgency-${p.urgency}` }, label(p.urgency)) : '—'),
    h('td', {}, label(p.status)),
    h('td', {}, h('span', { class: `badge tlp-${p.tlp}` }, `TLP:${p.tlp}`)),
    h('td', {}, label(p.tier)),
    h('td', {}, p.originator.code),
    h('td', { class: deadline && deadline < new Date() ? 'overdue' : null }, deadline ? time(deadline.toISOString()) : '—'),
    h('td', {}, time(p.updated_at)));
}

/** The board: filters, search, the list newest first as cards or a sortable table, live updates. */
export async function boardView(main, setCleanup) {
  const [els, orgs] = await Promise.all([loadElections(), request('/organisations?limit=200').then((pg) => pg.items).catch(() => [])]);
  const state = fragmentState();
  const f = {
    q: h('input', { type: 'search', name: 'q', placeholder: t('board.search_placeholder') }),
    domain: select('domain', ENUMS.domain),
    severity: select('severity', ENUMS.severity),
    urgency: select('urgency', ENUMS.urgency),
    status: select('status', ENUMS.status),
    tier: select('tier', ENUMS.tier),
    tlp: select('tlp', ENUMS.tlp),
    originator: select('originator', orgs.map((o) => o.id)),
    election: select('election', []),
    kind: select('kind', ENUMS.kind),
    is_exercise: select('is_exercise', ['false', 'true']),
    overdue: select('overdue', ['true', 'false']),
    include_expired: select('include_expired', ['true'], { empty: t('board.expired_no') }),
    indicator: h('input', { type: 'search', name: 'indicator', placeholder: 'hashtag:#vaalit2027' }),
    updated_since: isoInput('updated_since', null),
    updated_before: isoInput('updated_before', null),
  };
  const lang = select('lang', ENUMS.lang, { required: true, value: prefs.lang });
  for (const e of els) {
    const name = e[`name_${language()}`] || e.name_en || e.name_fi || e.code;
    f.election.appendChild(h('option', { value: e.id }, t('board.election_option', { name, code: e.code })));
  }
  [...f.originator.options].slice(1).forEach((o, i) => { o.textContent = orgs[i].code; });
  f.is_exercise.options[1].textContent = t('board.real_only');
  f.is_exercise.options[2].textContent = t('board.exercises_only');
  f.overdue.options[1].textContent = t('board.overdue_yes');
  f.overdue.options[2].textContent = t('board.overdue_no');
  f.include_expired.options[1].textContent = t('board.expired_yes');
  for (const k of FILTERS) {
    const v = state.get(k);
    if (v === null) continue;
    f[k].value = TIMES.includes(k) ? isoLocal(v) : v;
  }
  const view = { mode: ['cards', 'table'].includes(state.get('view')) ? state.get('view') : prefs.view || 'cards',
    sort: COLUMNS.includes(state.get('sort')) ? state.get('sort') : 'updated', dir: state.get('dir') === 'asc' ? 1 : -1 };
  const list = h('ul', { class: 'cards', id: 'board-list', 'aria-live': 'off' });
  const tableBox = h('div', { id: 'board-table-box' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('board.load_more'));
  const count = h('p', { class: 'meta', role: 'status', 'aria-live': 'polite' });
  const labels = {
    q: 'board.search', domain: 'board.domain', severity: 'board.severity', urgency: 'board.urgency', status: 'board.status',
    tier: 'board.tier', tlp: 'board.tlp', originator: 'board.originator', election: 'board.election', kind: 'board.kind',
    is_exercise: 'board.exercise', overdue: 'board.overdue', include_expired: 'board.expired', indicator: 'board.indicator',
    updated_since: 'board.updated_since', updated_before: 'board.updated_before',
  };
  const fieldOf = (k) => field(t(labels[k]), f[k], k, TIMES.includes(k) ? isoHint() : null);
  const extra = ['election', 'kind', 'is_exercise', 'overdue', 'include_expired', 'indicator', 'updated_since', 'updated_before'];
  const moreFilters = h('details', { class: 'more-filters', open: extra.some((k) => f[k].value) },
    h('summary', {}, t('board.more_filters')), h('div', { class: 'filters-more' }, extra.map(fieldOf)));
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('board.filters') },
    FILTERS.filter((k) => !extra.includes(k)).map(fieldOf), field(t('board.texts'), lang, 'lang'),
    moreFilters, h('button', { type: 'submit' }, t('board.apply')));
  const toggle = (mode) => h('button', { type: 'button', class: 'secondary', 'aria-pressed': String(view.mode === mode), dataset: { view: mode },
    onclick: () => {
      view.mode = mode;
      prefs.view = mode;
      for (const b of toggles.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.view === mode));
      remember();
      render();
    } }, t(`board.view_${mode}`));
  const toggles = h('div', { class: 'view-toggle', role: 'group', 'aria-label': t('board.view') }, toggle('cards'), toggle('table'));
  const needsBox = h('div', { id: 'needs-box' });
  const timeline = timelinePanel(els);
  mount(main, h('h1', {}, t('board.title')), needsBox, form, h('div', { class: 'board-bar' }, count, toggles), list, tableBox, more,
    timeline.element);
  const chips = () => needsBox.querySelectorAll('.chip');
  const chipTimer = setInterval(() => { for (const c of chips()) if (c.tick) c.tick(); }, 1000);
  const loadNeeds = async () => {
    try {
      mount(needsBox, needsPanel(await needsMyAction()));
    } catch (e) {
      mount(needsBox, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
    }
  };

  let cursor = null;
  // The filters of the first page: a cursor is valid only with the query it came from.
  let shown = null;
  let items = [];
  const fresh = new Set();
  const params = () => {
    const q = {};
    for (const k of FILTERS) {
      let v = f[k].value.trim();
      if (v && TIMES.includes(k)) {
        // A time that is not one is said at its field (on submit) and not sent.
        try {
          v = isoValue(f[k]);
        } catch (e) {
          if (!(e instanceof DateProblem)) throw e;
          v = '';
        }
      }
      if (v) q[k] = v;
    }
    return q;
  };
  // The filters, the view and the sort into the fragment, without a new navigation.
  const remember = () => {
    const s = new URLSearchParams({ ...(shown || params()) });
    if (view.mode === 'table') {
      s.set('view', 'table');
      if (view.sort !== 'updated' || view.dir !== -1) {
        s.set('sort', view.sort);
        s.set('dir', view.dir === 1 ? 'asc' : 'desc');
      }
    }
    const text = s.toString();
    const target = text ? `#/board/${text}` : '#/board';
    // Only while the board is what the address shows: a page read late (a live reload, a
    // slow first page) must not take the address back from a page opened meanwhile.
    const here = location.hash;
    const onBoard = here === '' || here === '#' || here === '#/' || here === '#/board' || here.startsWith('#/board/');
    if (onBoard && here !== target) history.replaceState(null, '', target);
  };
  // A "fresh" mark (a picture a live event named) clears once the card has been in view
  // for a few seconds while the page was visible: then it has been seen.
  const seen = new IntersectionObserver((entries) => {
    for (const en of entries) {
      if (!en.isIntersecting || document.visibilityState !== 'visible') continue;
      const el = en.target;
      seen.unobserve(el);
      setTimeout(() => {
        fresh.delete(el.dataset.id);
        el.classList.remove('fresh');
      }, 3000);
    }
  }, { threshold: 0.5 });
  const sortButton = (col) => {
    const active = view.sort === col;
    return h('th', { scope: 'col', 'aria-sort': active ? (view.dir === 1 ? 'ascending' : 'descending') : null },
      h('button', { type: 'button', class: 'sort', dataset: { sort: col }, onclick: () => {
        view.dir = active ? -view.dir : (col === 'updated' ? -1 : 1);
        view.sort = col;
        remember();
        render();
        tableBox.querySelector(`button[data-sort="${col}"]`)?.focus();
      } }, t(`board.col.${col}`), h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (view.dir === 1 ? ' ▲' : ' ▼') : '')));
  };
  const render = () => {
    seen.disconnect();
    list.hidden = view.mode !== 'cards';
    tableBox.hidden = view.mode !== 'table';
    count.textContent = t('board.count', { n: items.length });
    if (view.mode === 'table') {
      list.replaceChildren();
      mount(tableBox, items.length
        ? scrollBox(t('board.table'), h('table', { id: 'board-table' },
          h('caption', { class: 'sr-only' }, t('board.table_caption')),
          h('thead', {}, h('tr', {}, COLUMNS.map(sortButton))),
          h('tbody', {}, sortPictures(items, view.sort, view.dir).map((p) => row(p, fresh.has(p.id))))))
        : h('p', { class: 'empty' }, t('board.none')));
      for (const el of tableBox.querySelectorAll('tr.fresh')) seen.observe(el);
      return;
    }
    tableBox.replaceChildren();
    // Published `immediate` pictures are pinned above the rest of what is loaded.
    const pinned = (p) => p.urgency === 'immediate' && p.status === 'published' && !p.expired;
    const ordered = [...items.filter(pinned), ...items.filter((p) => !pinned(p))];
    mount(list, ordered.length ? ordered.map((p) => card(p, fresh.has(p.id))) : h('li', { class: 'empty' }, t('board.none')));
    for (const el of list.querySelectorAll('.card.fresh')) seen.observe(el);
  };
  // Each read is numbered: only the answer to the newest one is shown, so when filters
  // change quickly an older answer arriving last cannot replace the newer list.
  let reads = 0;
  const load = async (append) => {
    if (!append || !shown) {
      shown = params();
      remember();
    }
    const mine = ++reads;
    const q = { ...shown, limit: 50 };
    if (append && cursor) q.cursor = cursor;
    try {
      const page = await request(`/pictures${query(q)}`);
      if (mine !== reads) return;
      items = append ? items.concat(page.items) : page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      render();
    } catch (e) {
      if (mine !== reads) return;
      if (view.mode === 'table') mount(tableBox, h('p', { class: 'form-error', role: 'alert' }, describe(e)));
      else mount(list, h('li', { class: 'form-error', role: 'alert' }, describe(e)));
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
  for (const el of Object.values(f)) if (el.tagName === 'SELECT') el.addEventListener('change', () => load(false));
  lang.addEventListener('change', () => {
    prefs.lang = lang.value;
    render();
  });
  more.addEventListener('click', () => load(true));
  await Promise.all([load(false), loadNeeds(), timeline.reload()]);

  // Live: an event names a picture; reload the first page with the same filters (the
  // server decides what this user sees) and mark the pictures the events named.
  let pending = null;
  const stop = onStreamEvent((ev) => {
    const id = ev.data && ev.data.picture_id;
    if (ev.type === 'picture.recalled') {
      items = items.filter((p) => p.id !== id);
      render();
      return;
    }
    if (id) fresh.add(id);
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const before = new Set(items.map((p) => p.id));
      await Promise.all([load(false), loadNeeds(), timeline.reload()]);
      const added = items.filter((p) => !before.has(p.id));
      if (added.length) toast(t('board.new_live', { references: added.map((p) => p.reference).join(', ') }));
    }, 250);
  });
  setCleanup(() => {
    stop();
    clearTimeout(pending);
    clearInterval(chipTimer);
    seen.disconnect();
  });
}

/** The approver's queue: this organisation's pictures in review. */
export async function queueView(main, setCleanup) {
  const list = h('div');
  mount(main, h('h1', {}, t('queue.title')), h('p', { class: 'hint' }, t('queue.hint')), list);
  const load = async () => {
    const page = await request(`/pictures${query({ status: 'in_review', limit: 200 })}`);
    if (!page.items.length) {
      mount(list, h('p', { class: 'empty' }, t('queue.empty')));
      return;
    }
    mount(list, h('table', {},
      h('thead', {}, h('tr', {}, ['reference', 'title_column', 'handling', 'updated', 'actions'].map((k) => h('th', {}, t(`queue.${k}`))))),
      h('tbody', {}, page.items.map((p) => h('tr', { dataset: { id: p.id } },
        h('td', { class: 'mono' }, p.reference),
        h('td', {}, h('a', { href: `#/picture/${p.id}` }, pick(p.title, prefs.lang).text)),
        h('td', {}, badges({ tlp: p.tlp, tier: p.tier, severity: p.severity })),
        h('td', {}, time(p.updated_at)),
        h('td', { class: 'actions' }, lifecycleButtons(p.id, load, ['approve', 'publish', 'return'])))))));
  };
  await load();
  const stop = onStreamEvent(() => load().catch(() => {}));
  setCleanup(stop);
}

const actionText = (a) => t(`action.${a}`);

/**
 * Buttons for lifecycle actions on picture `id`; `after()` runs after a success.
 * `etag()`, where given, is the ETag of the picture as the page shows it: the action is
 * then refused (412) if the picture changed since, so nobody approves what they did not see.
 */
export function lifecycleButtons(id, after, actions, etag, kind = 'pictures') {
  if (!hasRole('author', 'approver')) return [];
  return actions.map((a) => h('button', {
    type: 'button', class: a === 'withdraw' || a === 'return' ? 'secondary' : '',
    onclick: async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      try {
        let body = {};
        if (a === 'return') {
          // Returning writes no revision: the note tells the author why.
          const note = window.prompt(t('action.return_prompt'));
          if (note === null) return;
          if (note.trim()) body = { note: note.trim() };
        }
        const tag = etag && etag();
        await request(`/${kind}/${id}/${a}`, { method: 'POST', body, headers: tag ? { 'if-match': tag } : {} });
        toast(t('action.done', { action: actionText(a) }));
        await after();
      } catch (e) {
        toast(t('action.failed', { action: actionText(a), error: describe(e) }), true);
      } finally {
        b.disabled = false;
      }
    },
  }, actionText(a)));
}
