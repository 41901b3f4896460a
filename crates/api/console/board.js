// The situation board (GET /api/v1/pictures with filters and search, updated live from
// the stream) and the approver's review queue.

import { hasRole, me, query, request } from './api.js';
import { onStreamEvent } from './sse.js';
import { ENUMS, badges, countdown, describe, field, h, label, mount, pick, select, time, toast } from './ui.js';
import { language, t } from './i18n.js';

// The language picture texts are shown in first: the interface language until changed here.
export const prefs = { lang: language() };

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

/** The board: filters, search, the list newest first, live updates. */
export async function boardView(main, setCleanup) {
  const els = await loadElections();
  const f = {
    domain: select('domain', ENUMS.domain),
    severity: select('severity', ENUMS.severity),
    urgency: select('urgency', ENUMS.urgency),
    status: select('status', ENUMS.status),
    election: select('election', []),
    is_exercise: select('is_exercise', ['false', 'true']),
    q: h('input', { type: 'search', name: 'q', placeholder: t('board.search_placeholder') }),
    lang: select('lang', ENUMS.lang, { required: true, value: prefs.lang }),
  };
  for (const e of els) {
    const name = e[`name_${language()}`] || e.name_en || e.name_fi || e.code;
    f.election.appendChild(h('option', { value: e.id }, t('board.election_option', { name, code: e.code })));
  }
  f.is_exercise.options[1].textContent = t('board.real_only');
  f.is_exercise.options[2].textContent = t('board.exercises_only');
  const list = h('ul', { class: 'cards', id: 'board-list', 'aria-live': 'off' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, t('board.load_more'));
  const count = h('p', { class: 'meta', role: 'status', 'aria-live': 'polite' });
  const form = h('form', { class: 'filters', role: 'search', 'aria-label': t('board.filters') },
    field(t('board.search'), f.q, 'q'), field(t('board.domain'), f.domain, 'domain'), field(t('board.severity'), f.severity, 'severity'),
    field(t('board.urgency'), f.urgency, 'urgency'), field(t('board.status'), f.status, 'status'), field(t('board.election'), f.election, 'election'),
    field(t('board.exercise'), f.is_exercise, 'is_exercise'), field(t('board.texts'), f.lang, 'lang'),
    h('button', { type: 'submit' }, t('board.apply')));
  const needsBox = h('div', { id: 'needs-box' });
  mount(main, h('h1', {}, t('board.title')), needsBox, form, count, list, more);
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
  const params = () => ({
    domain: f.domain.value, severity: f.severity.value, urgency: f.urgency.value, status: f.status.value,
    election: f.election.value, is_exercise: f.is_exercise.value, q: f.q.value.trim(), limit: 50,
  });
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
  const render = () => {
    // Published `immediate` pictures are pinned above the rest of what is loaded.
    const pinned = (p) => p.urgency === 'immediate' && p.status === 'published' && !p.expired;
    const ordered = [...items.filter(pinned), ...items.filter((p) => !pinned(p))];
    seen.disconnect();
    mount(list, ordered.length ? ordered.map((p) => card(p, fresh.has(p.id))) : h('li', { class: 'empty' }, t('board.none')));
    for (const el of list.querySelectorAll('.card.fresh')) seen.observe(el);
    count.textContent = t('board.count', { n: items.length });
  };
  const load = async (append) => {
    if (!append || !shown) shown = params();
    const q = { ...shown };
    if (append && cursor) q.cursor = cursor;
    try {
      const page = await request(`/pictures${query(q)}`);
      items = append ? items.concat(page.items) : page.items;
      cursor = page.next_cursor;
      more.hidden = !cursor;
      render();
    } catch (e) {
      mount(list, h('li', { class: 'form-error', role: 'alert' }, describe(e)));
    }
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    load(false);
  });
  for (const s of [f.domain, f.severity, f.urgency, f.status, f.election, f.is_exercise]) s.addEventListener('change', () => load(false));
  f.lang.addEventListener('change', () => {
    prefs.lang = f.lang.value;
    render();
  });
  more.addEventListener('click', () => load(true));
  await Promise.all([load(false), loadNeeds()]);

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
      await Promise.all([load(false), loadNeeds()]);
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
