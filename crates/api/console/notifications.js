// What reaches a person: the notification list (the inbox, marked read), the questions
// of their organisation, their e-mail preferences (address, urgencies, domains, quiet
// hours, digest, language), and the page an e-mail confirmation link opens, which works
// without signing in.

import { ApiError, hasRole, me, request } from './api.js';
import { t } from './i18n.js';
import { ENUMS, describe, field, h, label, mount, select, showFieldErrors, time, toast } from './ui.js';

/** The zone quiet hours and the digest are kept in: the person's own, else the console's. */
const zone = (kept) => kept || me().time_zone || 'Europe/Helsinki';

/** The unread count the navigation shows: notifications and questions together. */
export async function unreadCount() {
  let n = 0;
  if (hasRole('reader', 'author', 'approver')) {
    n += (await request('/me/notifications/inbox')).unread;
  }
  n += (await request('/me/threads')).unread;
  return n;
}

/** `#/notifications`: the list, the questions and the preferences. */
export async function notificationsView(view, onUnread) {
  const reads = hasRole('reader', 'author', 'approver');
  const [inbox, threads, prefs] = await Promise.all([
    reads ? request('/me/notifications/inbox') : Promise.resolve(null),
    request('/me/threads'),
    me().actor_type === 'user' ? request('/me/notifications') : Promise.resolve(null),
  ]);
  const inboxBox = h('section', { class: 'panel', id: 'inbox', 'aria-labelledby': 'h-inbox' });
  const renderInbox = (box) => {
    const list = box.items || [];
    mount(inboxBox, h('h2', { id: 'h-inbox' }, t('notify.inbox', { n: box.unread })),
      list.length ? h('ul', { class: 'inbox' }, list.map((i) => h('li', { class: i.read ? 'read' : 'unread', dataset: { event: i.event_id } },
        h('a', { href: `#/picture/${i.picture_id}` }, i.reference), ` · ${label(i.type)} · ${label(i.urgency)} · ${time(i.created_at)}`,
        i.read ? null : h('span', { class: 'badge' }, t('notify.new')))))
        : h('p', { class: 'empty' }, t('notify.no_inbox')),
      box.unread ? h('button', { type: 'button', class: 'secondary', onclick: async () => {
        try {
          renderInbox(await request('/me/notifications/inbox/read', { method: 'POST', body: { all: true } }));
          onUnread();
        } catch (e) {
          toast(describe(e), true);
        }
      } }, t('notify.mark_all')) : null);
  };
  if (inbox) renderInbox(inbox);
  const questions = h('section', { class: 'panel', id: 'my-threads', 'aria-labelledby': 'h-my-threads' },
    h('h2', { id: 'h-my-threads' }, t('notify.questions', { n: threads.unread })),
    threads.threads.length ? h('ul', {}, threads.threads.map((th) => h('li', { dataset: { thread: th.id } },
      h('a', { href: `#/picture/${th.picture_id}` }, th.picture_reference),
      ` · ${t('picture.question_from', { org: th.asking_organisation.code })} · ${time(th.last_message_at)}`,
      th.unread ? h('span', { class: 'badge' }, t('picture.question_unread', { n: th.unread })) : null)))
      : h('p', { class: 'empty' }, t('picture.no_questions')));
  mount(view, h('h1', {}, t('nav.notifications')),
    inbox ? inboxBox : null, questions, prefs ? preferences(prefs) : null);
}

/** The preferences form: the whole set is sent on save (what is left out takes its default). */
function preferences(p) {
  const email = h('input', { name: 'email', type: 'email', autocomplete: 'email', value: p.email || '' });
  const boxes = (name, values, chosen) => h('fieldset', { class: 'checks' }, h('legend', {}, t(`notify.${name}`)),
    values.map((v) => h('label', {}, h('input', { type: 'checkbox', name, value: v, checked: chosen.includes(v) }), ` ${label(v)}`)));
  const urgencies = boxes('urgencies', ENUMS.urgency, p.urgencies);
  const domains = boxes('domains', ENUMS.domain, p.domains);
  const quietOn = h('input', { type: 'checkbox', name: 'quiet', checked: !!p.quiet_hours });
  const quietStart = h('input', { name: 'quiet_hours.start', type: 'time', value: p.quiet_hours ? p.quiet_hours.start : '22:00' });
  const quietEnd = h('input', { name: 'quiet_hours.end', type: 'time', value: p.quiet_hours ? p.quiet_hours.end : '07:00' });
  const digestOn = h('input', { type: 'checkbox', name: 'digest_on', checked: !!p.digest });
  const digestAt = h('input', { name: 'digest.at', type: 'time', value: p.digest ? p.digest.at : '07:00' });
  const lang = select('language', ENUMS.lang, { required: true, value: p.language });
  const status = h('p', { id: 'email-status', role: 'status' },
    p.email ? (p.email_confirmed ? t('notify.confirmed') : t('notify.unconfirmed')) : t('notify.no_email'));
  const form = h('form', { class: 'panel', id: 'preferences', 'aria-labelledby': 'h-prefs', novalidate: true },
    h('h2', { id: 'h-prefs' }, t('notify.preferences')),
    field(t('notify.email'), email, 'email', t('notify.email_hint')), status,
    urgencies, domains,
    h('label', {}, quietOn, ` ${t('notify.quiet')}`), h('div', { class: 'row' },
      field(t('notify.quiet_start'), quietStart, 'quiet_hours.start'), field(t('notify.quiet_end'), quietEnd, 'quiet_hours.end')),
    h('label', {}, digestOn, ` ${t('notify.digest')}`), field(t('notify.digest_at'), digestAt, 'digest.at', t('notify.zone', { zone: zone(p.digest && p.digest.time_zone) })),
    field(t('notify.language'), lang, 'language'),
    h('button', { type: 'submit' }, t('notify.save')));
  const checked = (fs) => [...fs.querySelectorAll('input:checked')].map((i) => i.value);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {
      email: email.value.trim() || null,
      urgencies: checked(urgencies),
      domains: checked(domains),
      election_ids: p.election_ids,
      quiet_hours: quietOn.checked ? { start: quietStart.value, end: quietEnd.value, time_zone: zone(p.quiet_hours && p.quiet_hours.time_zone) } : null,
      digest: digestOn.checked ? { at: digestAt.value, time_zone: zone(p.digest && p.digest.time_zone) } : null,
      language: lang.value,
    };
    try {
      const saved = await request('/me/notifications', { method: 'PUT', body });
      mount(status, saved.email ? (saved.email_confirmed ? t('notify.confirmed') : t('notify.unconfirmed')) : t('notify.no_email'));
      toast(t('notify.saved'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) showFieldErrors(form, e.problem);
      else toast(describe(e), true);
    }
  });
  return form;
}

/** `#/confirm-email/<token>`: confirms the address the link was mailed to; no sign-in. */
export async function confirmEmailView(view, token) {
  const res = await fetch('/api/v1/email-confirmations', {
    method: 'POST',
    credentials: 'omit',
    cache: 'no-store',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  mount(view, h('h1', {}, t('notify.confirm_title')),
    h('p', { id: 'confirm-result', role: 'status', class: res.ok ? 'ok' : 'form-error' },
      res.ok ? t('notify.confirm_ok') : t('notify.confirm_failed')));
}
