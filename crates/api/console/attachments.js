// Evidence attachments: the list on a picture page (thumbnails, facts, the file's own TLP,
// a download checked against its SHA-256) and, in the editor, uploads with progress by a
// file button or by dropping files, and removal from the next revision. Thumbnails and
// files are fetched with the access token and handed to the page as blob URLs: an <img>
// or a link cannot send the token, and the token never goes into an address.

import { ApiError, fetchOk, request, upload } from './api.js';
import { ENUMS, describe, field, fieldMessage, h, mount, pick, select, toast, uid } from './ui.js';
import { fileSize, language, percent, t } from './i18n.js';

/** The TLP labels from the loosest to the strictest. */
const TLP_ORDER = ['CLEAR', 'GREEN', 'AMBER', 'AMBER+STRICT', 'RED'];

/** The TLPs a file of a picture at `tlp` may have: the picture's or stricter. */
export function fileTlps(tlp) {
  const i = TLP_ORDER.indexOf(tlp);
  return i < 0 ? TLP_ORDER : TLP_ORDER.slice(i);
}

// A declared type for a file whose type the browser does not know (it goes by the name's
// ending); the server checks the content against it either way.
const BY_ENDING = {
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', webp: 'image/webp', gif: 'image/gif',
  pdf: 'application/pdf', txt: 'text/plain', csv: 'text/csv', json: 'application/json',
  mp4: 'video/mp4', webm: 'video/webm', zip: 'application/zip', eml: 'message/rfc822',
};

function mediaType(file) {
  if (file.type) return file.type;
  const ending = (file.name.split('.').pop() || '').toLowerCase();
  return BY_ENDING[ending] || 'application/octet-stream';
}

// Blob URLs of the thumbnails shown, by attachment id; revoked when the page changes.
const thumbnails = new Map();

/** Forgets every thumbnail's blob URL and download state (the page that showed them is gone). */
function forgetPage() {
  for (const url of thumbnails.values()) {
    Promise.resolve(url).then((u) => u && URL.revokeObjectURL(u)).catch(() => {});
  }
  thumbnails.clear();
  downloads.clear();
}
window.addEventListener('hashchange', forgetPage);

function thumbnailUrl(pictureId, a) {
  if (!thumbnails.has(a.id)) {
    const url = fetchOk(`/pictures/${pictureId}/attachments/${a.id}/thumbnail`)
      .then((res) => res.blob())
      .then((blob) => URL.createObjectURL(blob))
      .catch(() => null);
    thumbnails.set(a.id, url);
  }
  return thumbnails.get(a.id);
}

/** The thumbnail of an image (fetched with the token), or a tile naming the file's type. */
function thumbnail(pictureId, a) {
  const box = h('div', { class: 'att-thumb' }, h('span', { class: 'att-type' }, (a.media_type.split('/')[1] || '').toUpperCase()));
  if (a.media_type.startsWith('image/')) {
    thumbnailUrl(pictureId, a).then((url) => {
      if (url) mount(box, h('img', { src: url, alt: t('attach.thumbnail_of', { name: a.file_name }), width: '96' }));
    });
  }
  return box;
}

/** Says `text` in a status element, marked `ok` or `bad` (or neither). */
function say(el, text, mark = '') {
  el.classList.remove('ok', 'bad');
  if (mark) el.classList.add(mark);
  el.textContent = text;
}

function hex(buffer) {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

// What the last download of each file said (kept while the page shows it, so that a
// re-rendering of the page, by a language switch or a change from the live stream, keeps it).
const downloads = new Map();

/** Says the state of the download of attachment `id` wherever the page shows that file. */
function report(id, key, mark = '', vars = {}) {
  downloads.set(id, { key, mark, vars });
  for (const el of document.querySelectorAll('.att-status[data-for]')) {
    if (el.dataset.for === id) showDownload(el);
  }
}

function showDownload(el) {
  const d = downloads.get(el.dataset.for);
  if (!d) return;
  if (d.vars.got) el.dataset.sha256 = d.vars.got;
  say(el, t(d.key, d.vars), d.mark);
}

/**
 * Downloads a file with the token, checks its SHA-256 against the one the revision lists,
 * and only then hands it to the browser under its own name; says the outcome beside it.
 */
async function save(pictureId, a) {
  report(a.id, 'attach.downloading');
  const res = await fetchOk(`/pictures/${pictureId}/attachments/${a.id}/content`);
  const blob = await res.blob();
  const digest = hex(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  if (digest !== a.sha256) {
    report(a.id, 'attach.hash_mismatch', 'bad', { got: digest });
    return;
  }
  const url = URL.createObjectURL(blob);
  const link = h('a', { href: url, download: a.file_name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  report(a.id, 'attach.verified', 'ok', { got: digest });
}

/** The full SHA-256, shortened on screen (selecting it copies all of it), and a copy button. */
function sha(a) {
  const full = h('code', { class: 'att-sha mono', title: a.sha256, dataset: { sha256: a.sha256 } }, a.sha256);
  const copy = h('button', {
    type: 'button', class: 'secondary att-copy', 'aria-label': t('attach.copy_sha_of', { name: a.file_name }),
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(a.sha256);
        toast(t('attach.copied'));
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(full);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        toast(t('attach.copy_selected'));
      }
    },
  }, t('attach.copy'));
  return h('span', { class: 'att-hash' }, h('span', {}, t('attach.sha256')), ' ', full, ' ', copy);
}

/** One attachment: thumbnail, name, size, type, hash, TLP pill, description, actions. */
function item(pictureId, a, lang, original, extra) {
  const status = h('span', { class: 'att-status', role: 'status', dataset: { for: a.id } });
  showDownload(status);
  const description = pick(a.description, lang, original);
  const download = h('button', {
    type: 'button', class: 'secondary', 'aria-label': t('attach.download_of', { name: a.file_name }),
    onclick: async (ev) => {
      const b = ev.currentTarget;
      b.disabled = true;
      try {
        await save(pictureId, a);
      } catch (e) {
        downloads.delete(a.id);
        say(status, describe(e), 'bad');
      } finally {
        b.disabled = false;
      }
    },
  }, t('attach.download'));
  return h('li', { class: 'att', dataset: { attachment: a.id } },
    thumbnail(pictureId, a),
    h('div', { class: 'att-body' },
      h('div', { class: 'att-name' }, h('strong', {}, a.file_name), ' ',
        h('span', { class: `badge tlp-${a.tlp}`, title: t('badge.tlp') }, `TLP:${a.tlp}`)),
      h('div', { class: 'att-facts' },
        h('span', { title: t('attach.bytes', { n: a.size }) }, fileSize(a.size)), ' · ', h('span', { class: 'mono' }, a.media_type)),
      sha(a),
      description.text ? h('p', { class: 'att-description', lang: description.lang }, description.text) : null,
      h('div', { class: 'actions' }, download, extra || null, status)));
}

/**
 * The attachments of picture `p` on its page, descriptions in `lang`, with the notice of
 * files left out at a stricter TLP than the reader's reach.
 */
export function attachmentSection(p, lang) {
  const list = p.attachments || [];
  if (!list.length && !p.redacted_attachments) return null;
  return h('section', { id: 'attachments', 'aria-labelledby': 'h-attachments' },
    h('h2', { id: 'h-attachments' }, t('attach.heading')),
    p.redacted_attachments ? h('p', { class: 'notice', id: 'attachments-redacted' }, t('attach.redacted', { n: p.redacted_attachments })) : null,
    list.length ? h('ul', { class: 'att-list', id: 'attachment-list' }, list.map((a) => item(p.id, a, lang, p.original_lang))) : null);
}

/** The message for a refused upload of `file`, in the interface language. */
function uploadError(e, name) {
  if (!(e instanceof ApiError)) return describe(e);
  const p = e.problem || {};
  switch (e.status) {
    case 0:
      return t('attach.broken', { name });
    case 413: {
      const limit = /at most (\d+) bytes/.exec(p.detail || '');
      return limit ? t('attach.too_large_limit', { name, limit: fileSize(Number(limit[1])) }) : t('attach.too_large', { name });
    }
    case 412:
      return t('attach.changed');
    case 400:
      return p.code === 'upload_truncated' ? t('attach.truncated', { name }) : t('attach.bad_request', { name, detail: describe(e) });
    case 422: {
      const parts = (p.errors || []).map((x) => {
        const found = /^declared (\S+), but the content is (\S+)$/.exec(x.message || '');
        if (x.code === 'media_type_mismatch' && found) return t('attach.mismatch', { name, declared: found[1], found: found[2] });
        if (x.code === 'media_type_not_allowed') return t('attach.type_not_allowed', { name, type: (x.message || '').split(' ')[0] });
        if (['image_too_large', 'image_undecodable', 'image_too_slow'].includes(x.code)) return t(`attach.${x.code}`, { name });
        return t('editor.field_error', { field: x.field, message: fieldMessage(x) });
      });
      return parts.join(' ') || describe(e);
    }
    default:
      return describe(e);
  }
}

/**
 * The attachments part of the editor of picture `p` (a draft, or a published picture
 * whose next revision is proposed): the files of the revision a change applies to, each
 * removable from the next revision, and an upload area. `etag` gets and sets the
 * picture's ETag, which every upload and removal changes; `reload` shows the editor
 * again from the server (after a 412). The area also takes files dropped anywhere on
 * `dropTarget` (the whole editor).
 */
export function editorAttachments(p, { etag, reload, dropTarget }) {
  const section = h('fieldset', { id: 'attachments-editor', class: 'att-editor' }, h('legend', {}, t('attach.heading')));
  if (!p) {
    section.append(h('p', { class: 'empty' }, t('attach.save_first')));
    return section;
  }
  const lang = language();
  const tlp = select('attachment-tlp', fileTlps(p.tlp), { required: true, value: p.tlp });
  const descriptions = ENUMS.lang.map((l) => {
    const input = h('input', { name: `attachment-description-${l}`, lang: l, maxlength: '1000' });
    return { l, input, field: field(t('attach.description_in', { lang: t(`editor.lang_${l}`) }), input, `description.${l}`) };
  });
  const input = h('input', { type: 'file', multiple: true, name: 'attachment-file', class: 'att-input', id: uid('file') });
  const progress = h('ul', { class: 'att-progress', id: 'upload-progress', 'aria-live': 'polite' });
  const current = h('div', { id: 'attachment-current' });
  const message = h('div', { class: 'form-error', role: 'alert', id: 'attachment-message' });
  const zoneHint = uid('hint');
  const zone = h('div', { class: 'dropzone', id: 'dropzone', 'aria-describedby': zoneHint },
    h('p', { id: zoneHint }, t('attach.drop_hint')),
    // The browser's own file button speaks the browser's language; this label, styled as a
    // button, speaks the console's (the input itself is hidden from sight, not from focus).
    h('div', { class: 'att-pick' }, input, h('label', { for: input.id, class: 'button' }, t('attach.choose'))),
    h('div', { class: 'grid' }, field(t('attach.tlp'), tlp, 'tlp', t('attach.tlp_hint')), descriptions.map((d) => d.field)));

  let files = [];
  const showList = () => {
    mount(current, files.length
      ? h('ul', { class: 'att-list', id: 'attachment-list' }, files.map((a) => item(p.id, a, lang, p.original_lang, h('button', {
        type: 'button', class: 'danger', 'aria-label': t('attach.remove_of', { name: a.file_name }),
        onclick: () => remove(a),
      }, t('attach.remove')))))
      : h('p', { class: 'empty' }, t('attach.none')));
  };
  const changed = () => {
    mount(message, t('attach.changed'), ' ', h('button', { type: 'button', class: 'secondary', onclick: reload }, t('attach.reload')));
  };
  // The files of the revision a change applies to: the proposed one if there is one.
  const load = async () => {
    const { data, etag: tag } = await request(`/pictures/${p.id}`, { withEtag: true });
    etag(tag);
    files = data.attachments || [];
    if (data.pending_revision) files = (await request(`/pictures/${p.id}/revisions/${data.pending_revision}`)).attachments || [];
    showList();
  };
  async function remove(a) {
    if (!window.confirm(t('attach.remove_confirm', { name: a.file_name }))) return;
    message.textContent = '';
    try {
      const { etag: tag } = await request(`/pictures/${p.id}`, {
        method: 'PATCH', body: { attachments: files.filter((x) => x.id !== a.id) }, headers: { 'if-match': etag() }, withEtag: true,
      });
      etag(tag);
      toast(t('attach.removed', { name: a.file_name }));
      await load();
    } catch (e) {
      if (e instanceof ApiError && e.status === 412) changed();
      else message.textContent = describe(e);
    }
  }
  const send = async (file) => {
    const bar = h('progress', { max: '100', value: '0', 'aria-label': t('attach.progress_of', { name: file.name }) });
    const shown = h('span', { class: 'att-percent' }, percent(0));
    const state = h('span', { class: 'att-status' });
    const row = h('li', { dataset: { file: file.name } }, h('span', { class: 'att-file' }, file.name), ' ', bar, ' ', shown, ' ', state);
    progress.append(row);
    const headers = {
      'content-type': mediaType(file),
      'attachment-file-name': encodeURIComponent(file.name.normalize('NFC')),
      'attachment-tlp': tlp.value,
      'if-match': etag(),
      'idempotency-key': crypto.randomUUID(),
    };
    for (const d of descriptions) {
      const v = d.input.value.trim().normalize('NFC');
      if (v) headers[`attachment-description-${d.l}`] = encodeURIComponent(v);
    }
    try {
      const { etag: tag } = await upload(`/pictures/${p.id}/attachments`, file, {
        headers,
        onProgress: (sent, total) => {
          const share = total ? sent / total : 1;
          bar.value = Math.round(share * 100);
          shown.textContent = percent(share);
        },
      });
      etag(tag);
      row.classList.add('done');
      say(state, t('attach.uploaded'), 'ok');
      return true;
    } catch (e) {
      row.classList.add('failed');
      say(state, uploadError(e, file.name), 'bad');
      if (e instanceof ApiError && e.status === 412) changed();
      return false;
    }
  };
  // Batches are uploaded one after another: a drop during an upload waits for it.
  let queue = Promise.resolve();
  const enqueue = (list) => {
    queue = queue.then(() => take(list)).catch(() => {});
  };
  const take = async (list) => {
    message.textContent = '';
    let any = false;
    // One at a time: each upload makes a revision, and the next one needs its ETag.
    for (const file of list) any = (await send(file)) || any;
    if (any) {
      for (const d of descriptions) d.input.value = '';
      await load().catch((e) => { message.textContent = describe(e); });
    }
  };
  input.addEventListener('change', () => {
    const list = [...input.files];
    input.value = '';
    enqueue(list);
  });
  const target = dropTarget || zone;
  target.addEventListener('dragover', (ev) => {
    if (!ev.dataTransfer || ![...ev.dataTransfer.types].some((x) => x.toLowerCase() === 'files')) return;
    ev.preventDefault();
    ev.dataTransfer.dropEffect = 'copy';
    zone.classList.add('over');
  });
  target.addEventListener('dragleave', (ev) => {
    if (!target.contains(ev.relatedTarget)) zone.classList.remove('over');
  });
  target.addEventListener('drop', (ev) => {
    if (!ev.dataTransfer || !ev.dataTransfer.files.length) return;
    ev.preventDefault();
    zone.classList.remove('over');
    enqueue([...ev.dataTransfer.files]);
  });

  mount(current, h('p', { class: 'empty' }, t('picture.loading')));
  section.append(current, zone, progress, message);
  load().catch((e) => { message.textContent = describe(e); });
  return section;
}
