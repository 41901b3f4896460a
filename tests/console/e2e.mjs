// End-to-end scenarios of the Sitrep console in Debian's headless Chromium, driven by
// playwright-core. Run by tests/api/console.rs, which starts the server, seeds users and
// pictures and passes them in SITREP_TEST_CONSOLE_SEED. Exits non-zero on the first
// failure. Only loopback addresses are used; any request to another origin fails.

import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { encode as encodeQr } from 'uqr';

const seed = JSON.parse(process.env.SITREP_TEST_CONSOLE_SEED || '{}');
const artifacts = process.env.SITREP_TEST_CONSOLE_ARTIFACTS || 'console-artifacts';
const executablePath = process.env.SITREP_TEST_CHROMIUM || '/usr/bin/chromium';
const base = seed.url;
const origin = new URL(base).origin;
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(base).hostname)) throw new Error(`not loopback: ${base}`);
mkdirSync(artifacts, { recursive: true });

const problems = [];
let step = '';
function check(cond, what) {
  if (!cond) throw new Error(`${step}: ${what}`);
}
function log(...args) {
  console.log(`[${new Date().toISOString()}]`, ...args);
}

function base32(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of s.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** The TOTP code of the next 30-second step (the current one was used to enrol). */
function totp(secret) {
  const counter = Math.floor(Date.now() / 1000 / 30) + 1;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', base32(secret)).update(msg).digest();
  const off = mac[mac.length - 1] & 0xf;
  const n = ((mac[off] & 0x7f) << 24) | (mac[off + 1] << 16) | (mac[off + 2] << 8) | mac[off + 3];
  return String(n % 1000000).padStart(6, '0');
}

function crc32(buf) {
  let crc = ~0;
  for (const b of buf) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A `w`×`h` RGB PNG of noise from `seed` (hard to compress, so the upload takes a while). */
function png(w, h, seed) {
  const raw = Buffer.alloc((w * 3 + 1) * h);
  let x = seed;
  for (let i = 0; i < raw.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    raw[i] = i % (w * 3 + 1) === 0 ? 0 : (x >>> 16) & 0xff;
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
/** The day (YYYY-MM-DD) of an instant in the deployment's zone, computed by the test. */
const helsinkiDay = (iso) => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Helsinki' }).format(new Date(iso));

// axe-core (pinned in package-lock.json), evaluated in the page through the DevTools
// protocol: the page keeps its own Content-Security-Policy during the check (no bypassCSP).
const axeSource = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

// What axe-core could not decide by itself on each page (for a person to look at; written
// to the artefacts, not a failure).
const axeIncomplete = [];

/** The WCAG 2.2 AA violations axe-core finds on the page as it is now, one line each. */
async function axe(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(axeSource);
  const found = await page.evaluate(async (tags) => {
    const result = await window.axe.run(document, { runOnly: { type: 'tag', values: tags } });
    // A run that checked nothing is not a pass.
    if (!result.passes.length) return [{ id: 'no-rule-ran', impact: 'none', help: 'axe-core checked nothing', targets: [], more: 0 }];
    // Text in the colour of its background is left undecided by axe-core (it may be meant
    // to be hidden); nothing in the console is, so it counts as a violation here.
    const same = (n) => [...n.any, ...n.all, ...n.none].some((c) => c.data && c.data.messageKey === 'equalRatio');
    for (const v of result.incomplete.filter((x) => x.id === 'color-contrast')) {
      const nodes = v.nodes.filter(same);
      if (nodes.length) result.violations.push({ ...v, help: 'Text must not have the colour of its background (1:1 contrast)', nodes });
    }
    const unsure = result.incomplete.map((v) => ({ id: 'incomplete', impact: v.id, help: `${v.help} (e.g. ${v.nodes.length ? v.nodes[0].target.join(' ') : '?'})`, targets: [], more: 0 }));
    return unsure.concat(result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      targets: v.nodes.slice(0, 6).map((n) => `${n.target.join(' ')}${n.failureSummary ? ` [${n.failureSummary.replace(/\s+/g, ' ').slice(0, 160)}]` : ''}`),
      more: Math.max(0, v.nodes.length - 6),
    })));
  }, AXE_TAGS);
  for (const v of found.filter((x) => x.id === 'incomplete')) axeIncomplete.push(`${where}: ${v.impact}: ${v.help}`);
  return found.filter((x) => x.id !== 'incomplete').map((v) => `${where}: ${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join('\n    ')}${v.more ? `\n    … and ${v.more} more` : ''}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});

const open = [];
/** A fresh browser context (its own profile and memory) for one user. */
async function session(name, viewport = { width: 1366, height: 860 }) {
  // The server's certificate is self-signed for the test; only loopback is reached.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport });
  const page = await context.newPage();
  page.on('console', (m) => {
    // Refused API calls (a 401 asking for TOTP, a 404 for a picture not shared, a 422)
    // are expected and checked through the page; Chromium logs each as an error.
    if (/^Failed to load resource/.test(m.text())) return;
    if (m.type() === 'error' || /Content Security Policy/i.test(m.text())) problems.push(`${name} console: ${m.text()}`);
  });
  page.on('response', (r) => {
    const u = new URL(r.url());
    if (r.status() >= 500) problems.push(`${name}: ${r.status()} from ${u.pathname}`);
    if (r.status() >= 400 && !u.pathname.startsWith('/api/')) problems.push(`${name}: ${r.status()} for ${u.pathname}`);
  });
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.stack || e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('blob:') && !u.startsWith('data:')) problems.push(`${name} requested ${u}`);
  });
  const s = { context, page, name };
  open.push(s);
  return s;
}

async function signIn(s, user, { totpSecret } = {}) {
  const { page } = s;
  await page.goto(`${base}/app/`);
  await page.getByLabel('Username').fill(user.username);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (totpSecret) {
    await page.getByLabel('Authenticator code').waitFor();
    await page.getByLabel('Authenticator code').fill(totp(totpSecret));
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.locator('#top:not([hidden])').waitFor();
}

async function text(page) {
  return page.locator('body').innerText();
}

const all = Object.values;
const ok = [];
async function scenario(name, fn) {
  step = name;
  log(`scenario: ${name}`);
  await fn();
  check(problems.length === 0, `browser problems: ${problems.join(' | ')}`);
  ok.push(name);
}

try {
  const b = await session('b.reader');
  const c = await session('c.reader');
  const author = await session('a.author');
  const approver2 = await session('a.approver2');

  await scenario('a reader signs in with the TOTP step and sees the board', async () => {
    await signIn(b, seed.users.b, { totpSecret: seed.b_totp_secret });
    await b.page.getByRole('heading', { name: 'Situation board' }).waitFor();
    await b.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
    await b.page.locator(`[data-id="${seed.named.id}"]`).waitFor();
    const t = await text(b.page);
    check(t.includes(seed.group.reference), 'group picture on the board');
    check(t.includes('TLP:AMBER') && t.includes('TLP:RED'), 'TLP badges');
    check(await b.page.locator('#live.on').count() === 1 || true, 'live indicator');
    await b.page.locator('#live.on').waitFor({ timeout: 10000 });
    // Needs my action: the immediate picture first, with a red chip (under an hour left).
    const first = b.page.locator('#needs li.need').first();
    await first.waitFor();
    check(await first.getAttribute('data-picture') === seed.urgent.id, 'the immediate picture is pinned first in "Needs my action"');
    check(await first.locator('.chip.chip-red').count() === 1, 'its deadline chip is red');
    check(await first.locator('.badge.urgency-immediate').count() === 1, 'immediate is marked in red, not as a status');
    check(await b.page.locator(`#needs li[data-picture="${seed.group.id}"] .chip:not(.chip-red)`).count() === 1, 'a priority picture with hours left: a plain chip');
    check(await b.page.locator('#board-list > li').first().getAttribute('data-id') === seed.urgent.id, 'immediate pinned at the top of the board');
    check(await b.page.locator(`#board-list [data-id="${seed.urgent.id}"] .badge.status`).allInnerTexts().then((x) => !x.includes('immediate')), 'immediate is not a grey status pill');
    await b.page.screenshot({ path: join(artifacts, 'board.png'), fullPage: true });
    const stored = await b.page.evaluate(() => [localStorage.length, sessionStorage.length, document.cookie]);
    check(stored[0] === 0 && stored[1] === 0 && stored[2] === '', `tokens stored in the browser: ${stored}`);
  });

  await scenario('a reload keeps the session and no script can read its refresh token', async () => {
    const cookies = (await b.context.cookies()).filter((k) => k.name === '__Secure-sitrep_refresh');
    check(cookies.length === 1, `one refresh cookie: ${JSON.stringify(cookies.map((k) => k.name))}`);
    const [k] = cookies;
    check(k.httpOnly && k.secure && k.sameSite === 'Strict' && k.path === '/api/v1/auth',
      `cookie attributes: ${JSON.stringify({ ...k, value: undefined })}`);
    await b.page.reload();
    await b.page.getByRole('heading', { name: 'Situation board' }).waitFor();
    await b.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
    check(await b.page.evaluate(() => document.cookie) === '', 'document.cookie is empty');
    const now = (await b.context.cookies()).find((k2) => k2.name === '__Secure-sitrep_refresh');
    check(now && now.value !== k.value, 'the reload rotated the cookie');
    check(!(await b.page.content()).includes(now.value), 'the refresh token is not in the page');
    // A second tab of the same browser resumes the same session.
    const tab = await b.context.newPage();
    tab.on('pageerror', (e) => problems.push(`b.reader tab page error: ${e.message}`));
    await tab.goto(`${base}/app/#/board`);
    await tab.getByRole('heading', { name: 'Situation board' }).waitFor();
    await tab.close();
    await b.page.locator('#live.on').waitFor({ timeout: 10000 });
  });

  await scenario('filters and search narrow the board', async () => {
    await b.page.getByLabel('Search').fill('tekstiviestiäänestyksestä');
    await b.page.getByRole('button', { name: 'Apply' }).click();
    await b.page.locator(`[data-id="${seed.named.id}"]`).waitFor({ state: 'detached' });
    await b.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
    await b.page.getByLabel('Search').fill('');
    await b.page.getByLabel('Severity', { exact: true }).selectOption('critical');
    await b.page.getByText('No pictures match.').waitFor();
    await b.page.getByLabel('Severity', { exact: true }).selectOption('');
    await b.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
  });

  await scenario('a picture page shows its fields in fi, sv and en', async () => {
    await b.page.locator(`[data-id="${seed.group.id}"] a.title`).click();
    // Picture texts follow the interface language (English in this browser).
    await b.page.getByRole('heading', { level: 1, name: seed.group.title.en }).waitFor();
    const t = await text(b.page);
    for (const label of ['Summary', 'Assessment', 'Handling', 'Acknowledgements', 'Revision history', 'Sources', 'T0097.206']) {
      check(t.includes(label), `picture page shows ${label}`);
    }
    await b.page.getByRole('button', { name: 'svenska' }).click();
    await b.page.getByRole('heading', { level: 1, name: seed.group.title.sv }).waitFor();
    await b.page.getByRole('button', { name: 'suomi' }).click();
    await b.page.getByRole('heading', { level: 1, name: seed.group.title.fi }).waitFor();
    await b.page.getByRole('button', { name: 'English' }).click();
    await b.page.getByRole('heading', { level: 1, name: seed.group.title.en }).waitFor();
    await b.page.locator('#ack-countdown').waitFor();
    check(/left|overdue/.test(await b.page.locator('#ack-countdown').innerText()), 'deadline counts down');
    await b.page.screenshot({ path: join(artifacts, 'picture.png'), fullPage: true });
    await b.page.goto(`${base}/app/#/board`).catch(() => {});
    // goto with only a new fragment does not reload; the session is still in memory.
    await b.page.getByRole('heading', { name: 'Situation board' }).waitFor();
  });

  await scenario('a user of another organisation never sees the named picture', async () => {
    await signIn(c, seed.users.c);
    await c.page.getByRole('heading', { name: 'Situation board' }).waitFor();
    await c.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
    const forbidden = [seed.named.reference, seed.named.title.fi, seed.named.title.en, seed.named.id];
    const none = async (where) => {
      const t = await text(c.page);
      const html = await c.page.content();
      for (const f of forbidden) check(!t.includes(f) && !html.includes(f), `${where} shows ${f}`);
    };
    await none('board');
    await c.page.getByLabel('Search').fill('Nimetty salainen');
    await c.page.getByRole('button', { name: 'Apply' }).click();
    await c.page.getByText('No pictures match.').waitFor();
    await none('search');
    await c.page.evaluate((id) => { location.hash = `#/picture/${id}`; }, seed.named.id);
    await c.page.getByRole('heading', { name: 'Picture not found' }).waitFor();
    const t = await text(c.page);
    check(!t.includes(seed.named.reference) && !t.includes(seed.named.title.en), 'not-found page names nothing');
    await c.page.evaluate(() => { location.hash = '#/board'; });
    await c.page.getByRole('heading', { name: 'Situation board' }).waitFor();
    await none('board again');
  });

  // The interface in Finnish and Swedish: chosen at sign-in, remembered on the server.
  const UI = {
    fi: { username: 'Käyttäjätunnus', password: 'Salasana', submit: 'Kirjaudu', board: 'Tilannekuvat', apply: 'Suodata', signOut: 'Kirjaudu ulos', signIn: 'Kirjaudu Sitrepiin' },
    sv: { username: 'Användarnamn', password: 'Lösenord', submit: 'Logga in', board: 'Lägesbilder', apply: 'Filtrera', signOut: 'Logga ut', signIn: 'Logga in i Sitrep' },
  };
  const zoneName = /(EET|EEST|UTC\+[23]|GMT\+[23]|OEZ|OESZ)/;
  await scenario('a reader works in Swedish, then Finnish, and the server remembers the choice', async () => {
    const sv = await session('c.reader-sv');
    await sv.page.goto(`${base}/app/`);
    await sv.page.locator('main').getByLabel('Language').selectOption('sv');
    await sv.page.getByLabel(UI.sv.username).fill(seed.users.c.username);
    await sv.page.getByLabel(UI.sv.password).fill(seed.users.c.password);
    await sv.page.getByRole('button', { name: UI.sv.submit }).click();
    await sv.page.getByRole('heading', { name: UI.sv.board }).waitFor();
    await sv.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
    check(await sv.page.evaluate(() => document.documentElement.lang) === 'sv', 'the page says it is in Swedish');
    const card = await sv.page.locator(`[data-id="${seed.group.id}"]`).innerText();
    check(card.includes(seed.group.title.sv), `picture texts in Swedish: ${card}`);
    check(zoneName.test(card), `times with their time zone: ${card}`);
    check(/uppdaterad/.test(card) && !/updated/.test(card), `the card's own words in Swedish: ${card}`);
    await sv.page.screenshot({ path: join(artifacts, 'board-sv-1366.png'), fullPage: true });
    // Switching in the header re-renders the page and is remembered.
    await sv.page.locator('#language').selectOption('fi');
    await sv.page.getByRole('heading', { name: UI.fi.board }).waitFor();
    await sv.page.getByRole('button', { name: UI.fi.apply }).waitFor();
    await sv.page.screenshot({ path: join(artifacts, 'board-fi-1366.png'), fullPage: true });
    await sv.page.locator(`[data-id="${seed.group.id}"] a.title`).click();
    await sv.page.getByRole('heading', { level: 1, name: seed.group.title.fi }).waitFor();
    await sv.page.locator('#ack-countdown').waitFor();
    const page = await text(sv.page);
    for (const word of ['Tiivistelmä', 'Kuittaukset', 'Versiohistoria', 'Käsittely']) check(page.includes(word), `picture page in Finnish: ${word}`);
    check(!page.includes('Acknowledgements') && !page.includes('Summary'), 'no English headings left on the picture page');
    check(/jäljellä|myöhässä/.test(await sv.page.locator('#ack-countdown').innerText()), 'the countdown in Finnish');
    // The details' Markdown, rendered by the server: formatting and a safe link, raw HTML as text.
    const md = sv.page.locator('.markdown');
    await md.locator('strong').getByText('Toimi heti').waitFor();
    const link = md.getByRole('link', { name: 'ohje' });
    check(await link.getAttribute('rel') === 'noopener noreferrer', 'links get rel=noopener');
    check(await link.getAttribute('href') === 'https://vaalit.example/ohje', 'the link kept its address');
    check(await md.locator('a[href^="javascript"]').count() === 0, 'a script link lost its address');
    check(await md.locator('script, img, [onerror]').count() === 0, 'no raw HTML became markup');
    check((await md.innerText()).includes('<script>alert(1)</script>'), 'raw HTML is shown as text');
    await sv.page.screenshot({ path: join(artifacts, 'picture-fi-1366.png'), fullPage: true });
    // The PDF button downloads the picture rendered by the server, in the language shown.
    const [pdf] = await Promise.all([sv.page.waitForEvent('download'), sv.page.locator('#pdf').click()]);
    const pdfPath = join(artifacts, 'picture-fi.pdf');
    await pdf.saveAs(pdfPath);
    const pdfBytes = readFileSync(pdfPath);
    check(pdfBytes.subarray(0, 5).toString() === '%PDF-', 'the PDF button gives a PDF');
    check(pdf.suggestedFilename().endsWith('.pdf'), `the PDF is named after the reference: ${pdf.suggestedFilename()}`);
    await sv.page.waitForTimeout(300); // the language is saved in the background
    // A fresh browser, with no choice made at sign-in: the remembered Finnish.
    const fi = await session('c.reader-fi');
    await signIn(fi, seed.users.c);
    await fi.page.getByRole('heading', { name: UI.fi.board }).waitFor();
    check(await fi.page.evaluate(() => document.documentElement.lang) === 'fi', 'the page says it is in Finnish');
    for (const s of [sv, fi]) {
      await s.page.getByRole('button', { name: UI.fi.signOut }).click();
      await s.page.getByRole('heading', { name: UI.fi.signIn }).waitFor();
      await s.context.close();
    }
  });

  let posted = null;
  const title = `Valeviesti äänestyspaikoista ${Date.now()}`;
  await scenario('an author posts a picture, sees the 422 at the field, and submits it for review', async () => {
    await signIn(author, seed.users.author);
    await author.page.getByRole('link', { name: 'New picture' }).click();
    await author.page.getByRole('heading', { name: 'New situation picture' }).waitFor();
    const p = author.page;
    // Handling comes first, and the rules it implies follow the choices as they are made.
    check(await p.locator('form fieldset legend').first().innerText() === 'Handling', 'the handling is the first part of the form');
    const rule = (key) => p.locator(`#handling-rules li[data-rule="${key}"]`);
    check(await rule('tier_tlp').getAttribute('data-ok') === 'true', 'group allows AMBER');
    check((await rule('tier_tlp').innerText()).startsWith('Met'), 'a met rule says so in words');
    check(await rule('secrecy_basis').getAttribute('data-ok') === 'false', 'a secret picture still needs its basis');
    check((await rule('secrecy_basis').innerText()).startsWith('Not yet'), 'an unmet rule says so in words');
    await p.getByLabel('TLP', { exact: true }).selectOption('RED');
    check(await rule('tier_tlp').getAttribute('data-ok') === 'false', 'group does not allow RED, said at once');
    check((await rule('tier_tlp').innerText()).includes('TLP:AMBER+STRICT') && !(await rule('tier_tlp').innerText()).includes('TLP:RED'), 'the TLPs the tier allows');
    await p.getByLabel('TLP', { exact: true }).selectOption('AMBER');
    // Which languages the texts need, and why: the original, and English for the RAS tier.
    const langRule = p.locator('#language-rule');
    check((await langRule.innerText()).includes('Finnish (the original language)'), `the original language is required: ${await langRule.innerText()}`);
    check(!(await langRule.innerText()).includes('English'), 'English is not required at the group tier');
    await p.getByLabel('Tier', { exact: true }).selectOption('group_virt_ras');
    check((await langRule.innerText()).includes('English (the RAS tier is read in English)'), `English for the RAS: ${await langRule.innerText()}`);
    check(await p.getByLabel('Title (English)').getAttribute('aria-required') === 'true', 'the English title is marked required');
    check((await p.locator('label', { hasText: 'Title (English)' }).innerText()).includes('(required)'), 'and says so in its label');
    for (const k of ['consent_virt', 'consent_ras', 'english']) check(await rule(k).getAttribute('data-ok') === 'false', `${k} applies at the RAS tier`);
    check(await rule('four_eyes').count() === 1, 'four eyes said for the RAS tier');
    await p.locator('form fieldset').first().screenshot({ path: join(artifacts, 'editor-handling-1366.png') });
    await p.locator('[data-checks="Originator consents"]').getByLabel('ras').check();
    check(await rule('consent_ras').getAttribute('data-ok') === 'true', 'a consent given meets its rule at once');
    await p.locator('[data-checks="Originator consents"]').getByLabel('ras').uncheck();
    await p.getByLabel('Tier', { exact: true }).selectOption('group');
    check(await rule('consent_ras').count() === 0 && await p.getByLabel('Title (English)').getAttribute('aria-required') === null, 'back at group: no RAS rules, English optional');
    // Leaving unsaved work asks first; called off, the editor stays with what was written.
    await p.getByLabel('Title (Finnish)').fill(title);
    const asked = [];
    p.once('dialog', (d) => { asked.push(d.message()); d.dismiss(); });
    await p.getByRole('link', { name: 'Situation board' }).click();
    await p.waitForTimeout(300);
    check(asked.length === 1 && asked[0].includes('not saved'), `asked before leaving unsaved work: ${asked}`);
    check(new URL(p.url()).hash === '#/new', `still at the editor's address: ${p.url()}`);
    check(await p.getByLabel('Title (Finnish)').inputValue() === title, 'the text written is still there');
    check(await p.evaluate(() => {
      const e = new Event('beforeunload', { cancelable: true });
      window.dispatchEvent(e);
      return e.defaultPrevented;
    }), 'a reload or a closed tab is asked about too');
    // Dates are written YYYY-MM-DD HH:MM whatever the browser's locale (no native picker).
    const from = p.getByLabel('Valid from');
    check(await from.getAttribute('type') === 'text' && await from.getAttribute('placeholder') === 'YYYY-MM-DD HH:MM', 'an ISO date field');
    await from.fill('01/12/2026 09:30');
    await p.getByLabel('Summary (Finnish)').fill('Väitteitä suljetuista äänestyspaikoista levitetään.');
    await p.getByLabel('Title (English)').fill('False claims about closed polling stations');
    await p.getByLabel('Summary (English)').fill('Claims that polling stations are closed are spreading.');
    await p.getByLabel('Urgency').selectOption('priority');
    await p.getByLabel('Impact on the conduct of elections').selectOption('moderate');
    await p.getByLabel('Impact on public confidence').selectOption('significant');
    await p.getByLabel('polling stations').check();
    await p.getByLabel('Geographic scope').selectOption('constituency');
    await p.getByLabel('Area codes').fill('FI-VP-10');
    await p.getByLabel('DISARM techniques').fill('T9999');
    check((await p.locator('[data-picked="disarm"] li[data-technique="T9999"]').innerText()).includes('not in the pinned list'), 'an unknown id is said at once');
    await p.getByLabel('Description').fill('Own monitoring of social media');
    await p.getByLabel('Secrecy basis').fill('JulkL 24 § 1 mom 7 k');
    check(await rule('secrecy_basis').getAttribute('data-ok') === 'true', 'the basis written meets its rule');
    await p.getByRole('button', { name: 'Save and submit for review' }).click();
    // A date that is not one is said before anything is sent: the summary counts it and
    // links to the field.
    const summary = p.locator('#error-summary');
    await summary.waitFor({ state: 'visible' });
    check(await summary.locator('h2').innerText() === 'There is 1 problem to fix', `one problem: ${await summary.locator('h2').innerText()}`);
    check(await p.evaluate(() => document.activeElement && document.activeElement.id) === 'error-summary', 'focus on the summary');
    check(await from.getAttribute('aria-invalid') === 'true', 'the date field is marked invalid');
    await summary.getByRole('link', { name: /^Valid from: Write the date and time as year-month-day/ }).click();
    check(await p.evaluate(() => document.activeElement && document.activeElement.name) === 'valid_from', 'the link goes to the field');
    check(new URL(p.url()).hash === '#/new', 'following a link of the summary does not leave the editor');
    await from.fill('2026-12-01 09:30');
    await p.getByRole('button', { name: 'Save and submit for review' }).click();
    const err = p.locator('.field[data-field="disarm_techniques"] .error');
    await err.waitFor({ state: 'visible' });
    check((await err.innerText()).length > 0, 'the API error is shown at the DISARM field');
    check(await p.getByLabel('DISARM techniques').getAttribute('aria-invalid') === 'true', 'field marked invalid');
    check(await summary.locator('h2').innerText() === 'There is 1 problem to fix', 'the API\'s error counted in the summary');
    check((await summary.getByRole('link').innerText()).startsWith('DISARM techniques'), 'the summary links the DISARM field by its label');
    await summary.screenshot({ path: join(artifacts, 'editor-error-summary-1366.png') });
    await summary.getByRole('link').click();
    check(await p.evaluate(() => document.activeElement && document.activeElement.name) === 'disarm_techniques', 'its link goes to the DISARM field');
    // The picker searches the pinned list by name and by id; a hit's button adds the id.
    await p.locator('[data-picked="disarm"] li[data-technique="T9999"]').getByRole('button', { name: 'Remove T9999' }).click();
    check(await p.getByLabel('DISARM techniques').inputValue() === '', 'removed from the ids');
    const search = p.getByLabel('Search the DISARM list by id or name');
    await search.fill('localised cont');
    await p.getByRole('button', { name: 'Add T0101 Create Localised Content (TA05)' }).click();
    await search.fill('T0097.20');
    check((await p.locator('.picker-results button').count()) > 1, 'an id prefix finds the sub-techniques');
    await search.fill('t0097.206');
    await search.press('Enter');
    check(await p.getByLabel('DISARM techniques').inputValue() === 'T0101, T0097.206', `the picked ids: ${await p.getByLabel('DISARM techniques').inputValue()}`);
    check((await p.locator('[data-picked="disarm"]').innerText()).includes('Create Localised Content'), 'the picked ids with their names');
    await search.fill('zzzz no such technique');
    check((await p.locator('.picker-results button').count()) === 0, 'nothing found for a name that is not there');
    // The ATT&CK picker searches MITRE's pinned list the same way; the id is then removed
    // again (the picture is saved without it).
    await p.getByLabel('Search the ATT&CK list by id or name').fill('phishing');
    await p.getByRole('button', { name: 'Add T1566 Phishing (initial-access)' }).click();
    check(await p.getByLabel('ATT&CK techniques').inputValue() === 'T1566', `the picked ATT&CK id: ${await p.getByLabel('ATT&CK techniques').inputValue()}`);
    await p.locator('[data-picked="attack"] li[data-technique="T1566"]').getByRole('button', { name: 'Remove T1566' }).click();
    check(await p.getByLabel('ATT&CK techniques').inputValue() === '', 'the ATT&CK id removed');
    await p.getByRole('button', { name: 'Save and submit for review' }).click();
    // Shown in the author's interface language (English), which the picture has too.
    await p.getByRole('heading', { level: 1, name: 'False claims about closed polling stations' }).waitFor();
    await p.getByText('in review').first().waitFor();
    posted = { id: new URL(p.url()).hash.split('/')[2] };
    check(posted.id && posted.id.length === 36, `picture id in the address: ${p.url()}`);
    // Saved: leaving asked nothing. The date was read in the deployment's zone (Helsinki,
    // UTC+2 in December), not the browser's.
    const saved = await p.evaluate(async (id) => (await import('./api.js')).request(`/pictures/${id}`), posted.id);
    check(new Date(saved.valid_from).toISOString() === '2026-12-01T07:30:00.000Z', `valid_from in Helsinki time: ${saved.valid_from}`);
  });

  await scenario('a second approver approves and publishes it from the queue (four eyes)', async () => {
    // Before publication the other organisation's reader does not have it.
    const before = await text(b.page);
    check(!before.includes(title) && !before.includes('False claims about closed polling stations'), 'not on B\'s board before publication');
    await b.page.evaluate(() => { window.__noReload = true; });
    await signIn(approver2, seed.users.approver2);
    await approver2.page.locator('#needs li[data-need="queue"]').getByText(/2 pictures await review/).waitFor();
    await approver2.page.getByRole('link', { name: 'Review queue' }).click();
    const row = approver2.page.locator(`tr[data-id="${posted.id}"]`);
    await row.waitFor();
    await approver2.page.screenshot({ path: join(artifacts, 'queue-1366.png') });
    await row.getByRole('button', { name: 'Approve' }).click();
    await approver2.page.getByText('Approve: done').waitFor();
    await row.getByRole('button', { name: 'Publish' }).click();
    await approver2.page.getByText('Publish: done').waitFor();
  });

  await scenario('the new picture appears live on another organisation\'s board', async () => {
    await b.page.locator(`[data-id="${posted.id}"]`).waitFor({ timeout: 20000 });
    check(await b.page.evaluate(() => window.__noReload === true), 'the board was not reloaded');
    // The board shows titles in the language last chosen (English, above).
    const card = await b.page.locator(`[data-id="${posted.id}"]`).innerText();
    check(card.includes('False claims about closed polling stations'), `title on the board: ${card}`);
    // Marked fresh, and the mark clears once it has been seen.
    await b.page.locator(`#board-list [data-id="${posted.id}"].fresh`).waitFor();
    await b.page.locator(`#board-list [data-id="${posted.id}"]:not(.fresh)`).waitFor({ timeout: 10000 });
    await b.page.locator(`#needs li[data-picture="${posted.id}"]`).waitFor();
  });

  await scenario('the reader acknowledges it and the deadline counts down', async () => {
    await b.page.locator(`[data-id="${posted.id}"] a.title`).click();
    await b.page.getByRole('heading', { level: 1, name: 'False claims about closed polling stations' }).waitFor();
    const before = await b.page.locator('#ack-countdown').innerText();
    check(/h .* min .* s left/.test(before), `countdown: ${before}`);
    await b.page.waitForTimeout(1100);
    check((await b.page.locator('#ack-countdown').innerText()) !== before, 'countdown ticks');
    const banner = b.page.locator('#tlp-banner');
    check((await banner.innerText()).startsWith('TLP:AMBER'), 'the TLP banner in FIRST words');
    await b.page.getByRole('button', { name: 'Acknowledge: received' }).click();
    await b.page.locator('#ack-list').getByText('ORG-B').waitFor();
    await b.page.getByText('Your organisation acknowledged (received).').waitFor();
    // Acknowledged: the countdown stops, the buttons go, focus is on the confirmation.
    check(await b.page.locator('#ack-countdown').count() === 0, 'the countdown stopped');
    check(await b.page.getByRole('button', { name: /^Acknowledge/ }).count() === 0, 'the buttons are gone');
    check(await b.page.evaluate(() => document.activeElement && document.activeElement.id) === 'ack-confirmation', 'focus on the confirmation');
    // The TLP:RED picture's banner: white-on-black is not enough, it is red on black.
    await b.page.evaluate((id) => { location.hash = `#/picture/${id}`; }, seed.named.id);
    await b.page.locator('#tlp-banner').getByText('TLP:RED').waitFor();
    const colours = await b.page.locator('#tlp-banner').evaluate((el) => [getComputedStyle(el).backgroundColor, getComputedStyle(el).color]);
    check(colours[0] === 'rgb(0, 0, 0)' && colours[1] === 'rgb(255, 43, 43)', `TLP:RED in FIRST colours: ${colours}`);
    await b.page.screenshot({ path: join(artifacts, 'picture-red-1366.png'), fullPage: true });
    await b.page.evaluate(() => { location.hash = '#/board'; });
    await b.page.locator('#needs').waitFor();
    check(await b.page.locator(`#needs li[data-picture="${posted.id}"]`).count() === 0, 'acknowledged: no longer needs my action');
  });

  await scenario('the author sees the acknowledgement and the revision history', async () => {
    await author.page.evaluate((id) => { location.hash = `#/board`; location.hash = `#/picture/${id}`; }, posted.id);
    await author.page.locator('#ack-list').getByText('ORG-B').waitFor();
    const t = await text(author.page);
    check(t.includes('Revision history'), 'history shown');
    // The originator sees how far the acknowledgements have come: B of those asked.
    const status = await author.page.evaluate(async (id) => (await import('./api.js')).request(`/pictures/${id}/acknowledgements`), posted.id);
    const asked = new Set([...status.acknowledgements.map((a) => a.organisation.id), ...status.pending.map((o) => o.id)]).size;
    check(asked > 1, `more than one organisation asked: ${asked}`);
    const progress = await author.page.locator('#ack-progress .progress-text').innerText();
    check(progress.startsWith(`1 of ${asked} organisations acknowledged (`), `acknowledgement progress: ${progress}`);
    const bar = Number(await author.page.locator('#ack-progress rect.progress-done').getAttribute('width'));
    check(Math.abs(bar - 239 / asked) < 0.5, `the bar is the same share: ${bar} of 239 for 1 of ${asked}`);
    check(await b.page.locator('#ack-progress').count() === 0, 'a reader of another organisation sees its own acknowledgement only, no progress');
    await author.page.getByRole('link', { name: 'Propose a revision' }).click();
    // The editor of a saved picture shows its dates as it takes them.
    check(await author.page.getByLabel('Valid from').inputValue() === '2026-12-01 09:30', 'the saved date, ISO, in Helsinki time');
    await author.page.getByLabel('Urgency').selectOption('immediate');
    await author.page.getByLabel('Search the DISARM list by id or name').fill('T0002');
    await author.page.getByRole('button', { name: /^Add T0002 / }).click();
    await author.page.getByRole('button', { name: 'Remove T0097.206' }).click();
    await author.page.getByLabel('Summary (English)').fill('Claims that polling stations are closed are spreading in Vaasa.');
    await author.page.getByRole('button', { name: 'Save revision' }).click();
    await author.page.getByText(/Revision \d+ is proposed/).waitFor();
    await author.page.getByRole('button', { name: 'Compare' }).click();
    // Side by side, each changed field on its row by its name, values as words.
    const diff = author.page.locator('#diff table.side-by-side');
    await diff.waitFor();
    const row = (path) => diff.locator(`tr[data-path="${path}"]`);
    check(await row('urgency').locator('th').innerText() === 'Urgency', 'the field by its name');
    check(await row('urgency').locator('td.old').innerText() === 'priority' && await row('urgency').locator('td.new').innerText() === 'immediate', 'its two values side by side');
    check((await row('summary.en').locator('th').innerText()) === 'Summary (English)', 'a text by its language');
    check((await row('summary.en').locator('td.new').innerText()).includes('in Vaasa'), 'the new text');
    check(await row('summary.fi').count() === 0, 'an unchanged language is not listed');
    check((await row('disarm_techniques').locator('td.new ins').innerText()) === 'T0002', 'an added id marked');
    check((await row('disarm_techniques').locator('td.new').innerText()).includes('(added)'), 'and said, not only coloured');
    check((await row('disarm_techniques').locator('td.old del').innerText()) === 'T0097.206', 'a removed id marked');
    check(!(await diff.innerText()).includes('{'), 'no JSON in the comparison');
    await author.page.locator('#history').screenshot({ path: join(artifacts, 'picture-compare-1366.png') });
  });

  await scenario('the reader asks the originator a question and the author answers it', async () => {
    await b.page.evaluate((id) => { location.hash = '#/board'; location.hash = `#/picture/${id}`; }, posted.id);
    await b.page.getByLabel(/^Ask the originator/).fill('Which polling stations are named?');
    await b.page.getByRole('button', { name: 'Ask', exact: true }).click();
    await b.page.locator('#thread-list').getByText('Which polling stations are named?').waitFor();
    check(await b.page.getByLabel(/^Ask the originator/).count() === 0, 'one thread per organisation: no second ask form');
    await author.page.evaluate((id) => { location.hash = '#/board'; location.hash = `#/picture/${id}`; }, posted.id);
    const thread = author.page.locator('#thread-list li').filter({ hasText: 'Question from ORG-B' });
    await thread.getByText('Which polling stations are named?').waitFor();
    check(await author.page.getByLabel(/^Ask the originator/).count() === 0, 'the originator does not ask itself');
    await thread.getByLabel('Answer').fill('Three in Vaasa.');
    await thread.getByRole('button', { name: 'Send' }).click();
    await author.page.locator('#thread-list').getByText('Three in Vaasa.').waitFor();
    await b.page.evaluate((id) => { location.hash = '#/board'; location.hash = `#/picture/${id}`; }, posted.id);
    await b.page.locator('#thread-list').getByText('Three in Vaasa.').waitFor();
    await author.page.locator('#questions').screenshot({ path: join(artifacts, 'picture-questions.png') });
  });

  await scenario('notifications: the list, the questions, e-mail preferences, and a confirmation link that needs no sign-in', async () => {
    // The link from the confirmation message, opened in a browser where nobody is signed in.
    const anon = await session('anonymous');
    await anon.page.goto(`${seed.url}/app/#/confirm-email/${encodeURIComponent(seed.c_confirm_token)}`);
    await anon.page.locator('#confirm-result').getByText('The address is confirmed.').waitFor();
    await anon.page.reload();
    await anon.page.locator('#confirm-result').getByText('This link is unknown, used or expired.', { exact: false }).waitFor();
    // B: the navigation counts what is unread (the answer to B's question, above).
    await b.page.getByRole('link', { name: /^Notifications/ }).waitFor();
    await b.page.getByRole('link', { name: /^Notifications/ }).click();
    await b.page.getByRole('heading', { level: 1, name: 'Notifications' }).waitFor();
    await b.page.locator('#my-threads').getByText(posted.reference || 'VTY-', { exact: false }).waitFor();
    await b.page.getByLabel('Address').fill('b.reader@b.example.org');
    await b.page.getByLabel('A daily digest of what I have not read').check();
    await b.page.getByLabel('Digest at').fill('07:30');
    await b.page.getByRole('button', { name: 'Save' }).click();
    await b.page.locator('#email-status').getByText('The address is not confirmed yet', { exact: false }).waitFor();
    const saved = await b.page.evaluate(async () => (await import('./api.js')).request('/me/notifications'));
    check(saved.digest && saved.digest.at === '07:30', `the digest was saved: ${JSON.stringify(saved.digest)}`);
    check(saved.email === 'b.reader@b.example.org' && !saved.email_confirmed, 'a new address is unconfirmed');
    await b.page.screenshot({ path: join(artifacts, 'notifications-1366.png'), fullPage: true });
  });

  await scenario('the author attaches files in the editor by the file button and by a drop, with progress and clear refusals', async () => {
    const p = author.page;
    await p.evaluate((id) => { location.hash = `#/edit/${id}`; }, seed.attach.id);
    await p.locator('#attachment-current').getByText('No files attached.').waitFor();
    // The file's TLP starts at the picture's and offers nothing looser.
    const tlp = p.getByLabel('TLP of the file');
    check(await tlp.inputValue() === 'AMBER', 'the file TLP starts at the picture\'s');
    const offered = await tlp.locator('option').evaluateAll((os) => os.map((o) => o.value));
    check(JSON.stringify(offered) === '["AMBER","AMBER+STRICT","RED"]', `only the picture's TLP or stricter: ${offered}`);
    await p.getByLabel('Description (English)').fill('Screenshot of the false claim');
    await p.getByLabel('Description (Finnish)').fill('Kuvakaappaus väitteestä');
    await p.getByLabel('Description (Swedish)').fill('Skärmdump av påståendet');
    await p.getByLabel('Choose files').setInputFiles({ name: 'claim.png', mimeType: 'image/png', buffer: png(180, 120, 7) });
    const claim = p.locator('#upload-progress li[data-file="claim.png"]');
    await claim.locator('.att-status.ok').waitFor();
    check(await claim.locator('progress').evaluate((bar) => bar.value === bar.max), 'the progress bar reached its end');
    check((await claim.locator('.att-percent').innerText()).replace(/\s/g, '') === '100%', 'progress shows 100 %');
    const listed = p.locator('#attachment-list li', { hasText: 'claim.png' });
    await listed.locator('img[src^="blob:"]').waitFor();
    check(await listed.locator('img').evaluate((img) => img.complete && img.naturalWidth > 0), 'the thumbnail shows');
    check(await listed.locator('.badge.tlp-AMBER').innerText() === 'TLP:AMBER', 'the file\'s TLP pill');
    check(await p.getByLabel('Description (English)').inputValue() === '', 'the descriptions are cleared after an upload');
    // A second image, RED, dropped on the editor's heading (anywhere on the editor).
    await tlp.selectOption('RED');
    await p.locator('#editor-h').evaluate((el, b64) => {
      const bytes = Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'source-red.png', { type: 'image/png' }));
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, png(160, 160, 11).toString('base64'));
    const red = p.locator('#upload-progress li[data-file="source-red.png"]');
    await red.locator('.att-status.ok').waitFor();
    check(await red.locator('progress').evaluate((bar) => bar.value === bar.max), 'the dropped file\'s progress reached its end');
    await p.locator('#attachment-list li', { hasText: 'source-red.png' }).locator('.badge.tlp-RED').waitFor();
    // Refusals, each said at the file: too large (413), not what its type says (422).
    await p.getByLabel('Choose files').setInputFiles({ name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(400000, 'a') });
    const huge = p.locator('#upload-progress li[data-file="huge.txt"] .att-status.bad');
    await huge.waitFor();
    check(/huge\.txt is too large: at most 300 kB fits/.test(await huge.innerText()), `the 413 message: ${await huge.innerText()}`);
    const fake = Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(2000, 'x')]);
    await p.getByLabel('Choose files').setInputFiles({ name: 'fake.png', mimeType: 'image/png', buffer: fake });
    const mismatch = p.locator('#upload-progress li[data-file="fake.png"] .att-status.bad');
    await mismatch.waitFor();
    check(/fake\.png is not what its type says: it was sent as image\/png, but its content is application\/pdf/.test(await mismatch.innerText()),
      `the 422 message names both types: ${await mismatch.innerText()}`);
    check(await p.locator('#attachment-list li').count() === 2, 'refused files are not listed');
    // The refusals, progress bars and messages shown are accessible too.
    const found = await axe(p, 'editor with refused uploads (en, 1366 px)');
    check(found.length === 0, `axe-core found violations:\n${found.join('\n')}`);
    // Removal from the next revision asks once.
    await tlp.selectOption('AMBER');
    await p.getByLabel('Choose files').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Seen at 10:02.\n') });
    await p.locator('#attachment-list li', { hasText: 'notes.txt' }).waitFor();
    const asked = [];
    p.once('dialog', (d) => { asked.push(d.message()); d.accept(); });
    await p.getByRole('button', { name: 'Remove notes.txt from the next revision' }).click();
    await p.locator('#attachment-list li', { hasText: 'notes.txt' }).waitFor({ state: 'detached' });
    check(asked.length === 1 && asked[0].includes('notes.txt'), `asked once before removing: ${asked}`);
    // Someone else changes the picture meanwhile: the upload is refused (412) and says to reload.
    await p.evaluate(async (id) => {
      const api = await import('./api.js');
      const { etag } = await api.request(`/pictures/${id}`, { withEtag: true });
      await api.request(`/pictures/${id}`, { method: 'PATCH', body: { outlook: 'stable' }, headers: { 'if-match': etag } });
    }, seed.attach.id);
    await p.getByLabel('Choose files').setInputFiles({ name: 'late.txt', mimeType: 'text/plain', buffer: Buffer.from('late\n') });
    await p.locator('#upload-progress li[data-file="late.txt"] .att-status.bad').getByText('Someone changed this picture meanwhile').waitFor();
    await p.locator('#attachment-message').getByRole('button', { name: 'Reload the picture' }).click();
    // The editor is shown again (its upload log empty), with the files as they are now.
    await p.locator('#upload-progress li').first().waitFor({ state: 'detached' });
    await p.locator('#attachment-list li', { hasText: 'claim.png' }).waitFor();
    await p.screenshot({ path: join(artifacts, 'editor-attachments-1366.png'), fullPage: true });
  });

  await scenario('readers see the attachments with thumbnails, a checked download, and a notice for a file left out', async () => {
    // Submitted by the author, approved and published by another approver.
    await author.page.evaluate(async (id) => (await import('./api.js')).request(`/pictures/${id}/submit`, { method: 'POST', body: {} }), seed.attach.id);
    await approver2.page.evaluate(async (id) => {
      const api = await import('./api.js');
      for (const a of ['approve', 'publish']) await api.request(`/pictures/${id}/${a}`, { method: 'POST', body: {} });
    }, seed.attach.id);
    const p = author.page;
    await p.evaluate((id) => { location.hash = `#/picture/${id}`; }, seed.attach.id);
    const items = p.locator('#attachment-list > li');
    await items.first().waitFor();
    check(await items.count() === 2, 'the originator sees both files');
    const claim = items.filter({ hasText: 'claim.png' });
    await claim.locator('img[src^="blob:"]').waitFor();
    check(await claim.locator('.att-description').innerText() === 'Screenshot of the false claim', 'the description in English');
    check(/image\/png/.test(await claim.innerText()) && /kB/.test(await claim.innerText()), 'size and media type');
    const redSha = await items.filter({ hasText: 'source-red.png' }).locator('.att-sha').getAttribute('data-sha256');
    const [file] = await Promise.all([p.waitForEvent('download'), claim.getByRole('button', { name: 'Download claim.png' }).click()]);
    const saved = join(artifacts, 'claim-downloaded.png');
    await file.saveAs(saved);
    const shown = await claim.locator('.att-sha').getAttribute('data-sha256');
    check(file.suggestedFilename() === 'claim.png', `saved under its name: ${file.suggestedFilename()}`);
    check(sha256(readFileSync(saved)) === shown, 'the downloaded bytes have the SHA-256 the page shows');
    await claim.locator('.att-status.ok').getByText('SHA-256 checked').waitFor();
    check(await claim.locator('.att-status').getAttribute('data-sha256') === shown, 'the page checked the same hash');
    await p.screenshot({ path: join(artifacts, 'picture-attachments-1366.png'), fullPage: true });

    // A reader of another organisation: the RED file is not shared with it.
    const cp = c.page;
    await cp.evaluate((id) => { location.hash = `#/picture/${id}`; }, seed.attach.id);
    await cp.locator('#attachments-redacted').getByText('1 attachment has a stricter TLP').waitFor();
    const theirs = cp.locator('#attachment-list > li');
    check(await theirs.count() === 1, 'one file shown to the other organisation');
    await theirs.first().locator('img[src^="blob:"]').waitFor();
    const html = await cp.content();
    check(!html.includes('source-red.png') && !html.includes(redSha), 'nothing of the RED file reaches the page');
    await cp.locator('#attachments').screenshot({ path: join(artifacts, 'attachments-section.png') });
    for (const [lang, heading, notice, description] of [
      ['fi', 'Liitteet', 'liitteellä on tiukempi TLP', 'Kuvakaappaus väitteestä'],
      ['sv', 'Bilagor', 'bilaga har en striktare TLP', 'Skärmdump av påståendet'],
    ]) {
      await cp.locator('#language').selectOption(lang);
      await cp.getByRole('heading', { name: heading, exact: true }).waitFor();
      await cp.locator('#attachments-redacted').getByText(notice).waitFor();
      await cp.locator('#attachment-list .att-description').getByText(description).waitFor();
      await cp.locator('#attachment-list img[src^="blob:"]').waitFor();
      const width = await cp.evaluate(() => document.scrollingElement.scrollWidth);
      check(width <= 1366, `the picture in ${lang} is ${width} px wide at 1366 px`);
      await cp.screenshot({ path: join(artifacts, `picture-attachments-${lang}-1366.png`), fullPage: true });
    }
    await cp.locator('#language').selectOption('en');
    await cp.getByRole('heading', { name: 'Attachments', exact: true }).waitFor();

    // A file uploaded to the published picture is proposed: the author's editor lists it
    // with the revision it proposes, the picture page (the revision in force) does not,
    // and readers are not given it.
    await p.evaluate((id) => { location.hash = `#/edit/${id}`; }, seed.attach.id);
    await p.locator('#attachment-list li', { hasText: 'claim.png' }).waitFor();
    await p.getByLabel('Choose files').setInputFiles({ name: 'later.png', mimeType: 'image/png', buffer: png(64, 48, 3) });
    await p.locator('#upload-progress li[data-file="later.png"] .att-status.ok').waitFor();
    await p.locator('#attachment-list li', { hasText: 'later.png' }).locator('img[src^="blob:"]').waitFor();
    await p.evaluate((id) => { location.hash = `#/picture/${id}`; }, seed.attach.id);
    await p.getByText(/Revision \d+ is proposed/).waitFor();
    await p.locator('#attachment-list li', { hasText: 'claim.png' }).waitFor();
    check(await p.locator('#attachment-list li', { hasText: 'later.png' }).count() === 0, 'the picture page shows the revision in force');
    const seen = await cp.evaluate(async (id) => (await (await import('./api.js')).request(`/pictures/${id}`)).attachments.map((a) => a.file_name), seed.attach.id);
    check(JSON.stringify(seen) === '["claim.png"]', `the reader is given the files in force it may see: ${seen}`);
  });

  const r = await session('r.reader');
  await scenario('an author composes a report from published pictures and downloads its PDF', async () => {
    const p = author.page;
    await p.getByRole('link', { name: 'Reports' }).click();
    await p.getByRole('heading', { level: 1, name: 'Reports' }).waitFor();
    await p.getByRole('link', { name: 'New report' }).click();
    await p.getByRole('heading', { level: 1, name: 'New report' }).waitFor();
    await p.getByLabel('Title', { exact: true }).fill('Common situation picture, election day');
    await p.getByLabel('Summary', { exact: true }).fill('The day so far.');
    await p.getByLabel('Assessment', { exact: true }).fill('Calm, with one false claim spreading.');
    await p.locator(`#report-picker input[value="${seed.group.id}"]`).check();
    // The window is written YYYY-MM-DD HH:MM in Helsinki time; another form is refused
    // at the field, with nothing sent.
    await p.getByLabel('Window from').fill('6.12.2026 08:00');
    await p.getByLabel('Window to').fill('2026-12-06 18:00');
    await p.getByRole('button', { name: 'Create the report' }).click();
    await p.locator('.field[data-field="window.from"].invalid').waitFor();
    check(new URL(p.url()).hash === '#/new-report', 'not created with a date that is not one');
    await p.getByLabel('Window from').fill('2026-12-06 08:00');
    await p.getByRole('button', { name: 'Create the report' }).click();
    await p.getByRole('heading', { level: 1, name: 'Common situation picture, election day' }).waitFor();
    const made = await p.evaluate(async (id) => (await import('./api.js')).request(`/reports/${id}`), new URL(p.url()).hash.split('/')[2]);
    check(new Date(made.window.from).toISOString() === '2026-12-06T06:00:00.000Z' && new Date(made.window.to).toISOString() === '2026-12-06T16:00:00.000Z',
      `the window in Helsinki time: ${JSON.stringify(made.window)}`);
    await p.locator(`#report-pictures a[href="#/picture/${seed.group.id}"]`).waitFor();
    const [pdf] = await Promise.all([p.waitForEvent('download'), p.locator('#report-pdf').click()]);
    const pdfPath = join(artifacts, 'report.pdf');
    await pdf.saveAs(pdfPath);
    check(readFileSync(pdfPath).subarray(0, 5).toString() === '%PDF-', 'the report PDF button gives a PDF');
    check(/^REP-\d{4}-\d{4}\.pdf$/.test(pdf.suggestedFilename()), `named after the report: ${pdf.suggestedFilename()}`);
    await p.screenshot({ path: join(artifacts, 'report-page.png'), fullPage: true });
  });

  await scenario('the RAS contact point records its release decision', async () => {
    await signIn(r, seed.users.r);
    await r.page.locator(`#needs li[data-need="ras"][data-picture="${seed.ras.id}"]`).waitFor();
    await r.page.locator(`#board-list [data-id="${seed.ras.id}"] a.title`).click();
    await r.page.getByRole('heading', { name: 'Release decision (RAS)' }).waitFor();
    // The decision starts at a prompt the form will not submit (no raw validation message).
    const decision = r.page.getByLabel('Decision', { exact: true });
    check(await decision.inputValue() === '', 'the decision starts at the prompt');
    await r.page.getByRole('button', { name: 'Record decision' }).click();
    check(await decision.evaluate((el) => el.validity.valueMissing), 'an unchosen decision is not submitted');
    check(await r.page.locator('#release li').count() === 0, 'nothing recorded');
    await r.page.getByLabel('Decision', { exact: true }).selectOption('shared_for_awareness');
    await r.page.getByRole('button', { name: 'Record decision' }).click();
    await r.page.locator('#release li strong').getByText('shared for awareness').waitFor();
  });

  await scenario('the board as a table: every filter of the API, sortable columns, kept in the address across a reload', async () => {
    const s = await session('a.author-table');
    await signIn(s, seed.users.author);
    const p = s.page;
    await p.getByRole('heading', { name: 'Situation board' }).waitFor();
    await p.locator('#board-list > li').first().waitFor();
    // Every filter GET /pictures has, each with its label.
    for (const name of ['Search', 'Domain', 'Severity', 'Urgency', 'Status', 'Tier', 'TLP', 'Originator', 'Election', 'Kind', 'Exercise',
      'Acknowledgements', 'Expired pictures', 'Indicator (type:value)', 'Changed from', 'Changed before']) {
      check(await p.getByLabel(name, { exact: true }).count() === 1, `the filter "${name}"`);
    }
    await p.getByRole('button', { name: 'Table', exact: true }).click();
    await p.locator('#board-table tbody tr').first().waitFor();
    check(await p.getByRole('button', { name: 'Table', exact: true }).getAttribute('aria-pressed') === 'true', 'the table button is pressed');
    check(await p.locator('#board-list > li').count() === 0, 'no cards beside the table');
    const column = (n) => p.locator(`#board-table tbody tr td:nth-child(${n})`).allInnerTexts();
    // TLP: only RED pictures, the two of them this author published.
    await p.getByLabel('TLP', { exact: true }).selectOption('RED');
    await p.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#board-table tbody tr td:nth-child(5)')].map((td) => td.textContent);
      return cells.length >= 2 && cells.every((x) => x === 'TLP:RED');
    });
    const refs = await column(1);
    check(refs.includes(seed.named.reference) && refs.includes(seed.late.reference), `the RED pictures: ${refs}`);
    check(/[#/]board\/.*tlp=RED/.test(await p.evaluate(() => location.hash)) && (await p.evaluate(() => location.hash)).includes('view=table'),
      `the filter and the view in the address: ${await p.evaluate(() => location.hash)}`);
    // Sorting by reference, ascending then descending, marked on the column.
    const numeric = (a, b) => a.localeCompare(b, 'en', { numeric: true });
    await p.getByRole('button', { name: 'Reference' }).click();
    await p.locator('th[aria-sort="ascending"]', { hasText: 'Reference' }).waitFor();
    let shown = await column(1);
    check(JSON.stringify(shown) === JSON.stringify([...shown].sort(numeric)), `ascending by reference: ${shown}`);
    await p.getByRole('button', { name: 'Reference' }).click();
    await p.locator('th[aria-sort="descending"]', { hasText: 'Reference' }).waitFor();
    shown = await column(1);
    check(JSON.stringify(shown) === JSON.stringify([...shown].sort(numeric).reverse()), `descending by reference: ${shown}`);
    // By deadline: the acknowledgement overdue for an hour comes first, in red.
    await p.getByRole('button', { name: 'Deadline' }).click();
    await p.locator('th[aria-sort="ascending"]', { hasText: 'Deadline' }).waitFor();
    const first = p.locator('#board-table tbody tr').first();
    check(await first.getAttribute('data-id') === seed.late.id, 'the earliest deadline first');
    check(await first.locator('td.overdue').count() === 1, 'a passed deadline is marked');
    // A reload keeps the view, the filter and the sort.
    await p.reload();
    await p.locator('#board-table tbody tr').first().waitFor();
    check(await p.getByLabel('TLP', { exact: true }).inputValue() === 'RED', 'the TLP filter after a reload');
    check(await p.locator('th[aria-sort="ascending"]', { hasText: 'Deadline' }).count() === 1, 'the sort after a reload');
    check((await column(5)).every((x) => x === 'TLP:RED'), 'still only RED after a reload');
    // "Changed from" is written YYYY-MM-DD HH:MM, in Helsinki time whatever the browser's;
    // another form is said at the field and not sent; the address keeps the instant.
    await p.locator('.more-filters').evaluate((d) => { d.open = true; });
    const since = p.getByLabel('Changed from', { exact: true });
    check(await since.getAttribute('type') === 'text' && await since.getAttribute('placeholder') === 'YYYY-MM-DD HH:MM', 'an ISO date filter');
    await since.fill('12/01/2026');
    await p.getByRole('button', { name: 'Apply', exact: true }).click();
    await p.locator('.field[data-field="updated_since"].invalid').getByText('Write the date and time as year-month-day').waitFor();
    check(!(await p.evaluate(() => location.hash)).includes('updated_since'), 'a date that is not one is not sent');
    await since.fill('2026-12-01 09:30');
    await p.getByRole('button', { name: 'Apply', exact: true }).click();
    await p.waitForFunction(() => location.hash.includes('updated_since='));
    const kept = decodeURIComponent(await p.evaluate(() => location.hash));
    check(kept.includes('updated_since=2026-12-01T07:30:00.000Z'), `the instant in the address: ${kept}`);
    check(await p.locator('.field[data-field="updated_since"].invalid').count() === 0, 'the error cleared');
    await p.reload();
    await p.locator('#board-table tbody tr').first().waitFor();
    check(await p.getByLabel('Changed from', { exact: true }).inputValue() === '2026-12-01 09:30', 'shown again as written after a reload');
    await p.getByLabel('Changed from', { exact: true }).fill('');
    await p.getByRole('button', { name: 'Apply', exact: true }).click();
    await p.waitForFunction(() => !location.hash.includes('updated_since='));
    await p.locator('.more-filters').evaluate((d) => { d.open = false; });
    // The originator filter: organisation C published nothing.
    await p.getByLabel('Originator', { exact: true }).selectOption({ label: 'ORG-C' });
    await p.locator('#board-table-box').getByText('No pictures match.').waitFor();
    check((await p.evaluate(() => location.hash)).includes('originator='), 'the originator in the address');
    await p.getByLabel('Originator', { exact: true }).selectOption('');
    await p.getByLabel('TLP', { exact: true }).selectOption('');
    await p.locator('#board-table tbody tr').nth(4).waitFor();
    // The filters used less often sit behind "More filters": the exercise filter works there too.
    await p.getByText('More filters').click();
    await p.getByLabel('Exercise', { exact: true }).selectOption('true');
    await p.locator('#board-table-box').getByText('No pictures match.').waitFor();
    await p.getByLabel('Exercise', { exact: true }).selectOption('');
    await p.locator('#board-table tbody tr').first().waitFor();
    // On a phone the table scrolls inside its own box; the page does not scroll sideways.
    await p.setViewportSize({ width: 390, height: 844 });
    await p.waitForTimeout(300);
    const width = await p.evaluate(() => document.scrollingElement.scrollWidth);
    check(width <= 390, `the board table is ${width} px wide at 390 px`);
    const inner = await p.locator('#board-table-box .table-scroll').evaluate((el) => [el.scrollWidth, el.clientWidth]);
    check(inner[0] > inner[1], `the table scrolls inside its box (${inner})`);
    await p.screenshot({ path: join(artifacts, 'board-table-390.png'), fullPage: true });
    await p.setViewportSize({ width: 1366, height: 860 });
    await p.screenshot({ path: join(artifacts, 'board-table-1366.png'), fullPage: true });
    await s.context.close();
  });

  // Pages that show more once something is done on them: the editor with technique hits
  // and the summary of a date that is not one; a picture's two revisions side by side.
  const editorErrors = async (page) => {
    await page.locator('input[data-picker="disarm"]').fill('loc');
    await page.locator('.picker-results button').first().waitFor();
    await page.locator('input[name="valid_until"]').fill('31.12.2026');
    await page.locator('form button[type="submit"][value="draft"]').click();
    await page.locator('#error-summary:not([hidden]) a').first().waitFor();
  };
  const compareRevisions = async (page) => {
    await page.locator('#history form button[type="submit"]').click();
    await page.locator('#diff table.side-by-side tbody tr').first().waitFor();
  };
  await scenario('axe-core finds no WCAG 2.2 AA violation on any main page, in Finnish and Swedish, at 1366 and 390 px', async () => {
    const reportHref = await author.page.evaluate(async () => {
      const list = await (await import('./api.js')).request('/reports');
      const items = list.items || list;
      return items.length ? `#/report/${items[0].id}` : null;
    });
    check(reportHref, 'a report to check');
    // Each person's pages: [name, address, what shows once it is loaded].
    const who = [
      ['a.author', seed.users.author, [
        ['board', '#/board', '#board-list > li'],
        ['board-table', '#/board/view=table&status=published', '#board-table tbody tr'],
        ['picture', `#/picture/${seed.group.id}`, '#history table'],
        ['picture-attachments', `#/picture/${seed.attach.id}`, '#attachment-list img[src^="blob:"]'],
        ['editor', '#/new', '#editor-h'],
        ['editor-errors', '#/new', '#editor-h', editorErrors],
        ['picture-compare', `#/picture/${posted.id}`, '#history form', compareRevisions],
        ['editor-attachments', `#/edit/${seed.attach.id}`, '#attachment-list img[src^="blob:"]'],
        ['reports', '#/reports', '#report-list a'],
        ['report', reportHref, '#report-pictures a'],
        ['new-report', '#/new-report', '#report-picker input'],
        ['notifications', '#/notifications', '#email-status'],
        ['account', '#/account', '#totp-start'],
      ]],
      ['a.approver2', seed.users.approver2, [['queue', '#/queue', `tr[data-id="${seed.review.id}"]`]]],
      ['r.reader', seed.users.r, [['ras-picture', `#/picture/${seed.ras.id}`, '#release li']]],
      ['c.reader', seed.users.c, [['picture-redacted', `#/picture/${seed.attach.id}`, '#attachments-redacted']]],
      ['s.secretariat', seed.users.secretariat, [
        ['secretariat-overdue', '#/secretariat/overdue', '#overdue-table tbody tr'],
        ['secretariat-organisations', '#/secretariat/organisations', '#user-table tbody tr'],
        ['secretariat-elections', '#/secretariat/elections', '#election-table, #no-elections'],
      ]],
      ['s.auditor', seed.users.auditor, [['audit', '#/audit', '#chain-state']]],
    ];
    const violations = [];
    const sizes = [{ width: 1366, height: 860 }, { width: 390, height: 844 }];
    // The sign-in page, before anyone is signed in.
    const anon = await session('axe-anonymous');
    await anon.page.goto(`${base}/app/`);
    await anon.page.getByRole('heading', { name: 'Sign in to Sitrep' }).waitFor();
    await anon.page.screenshot({ path: join(artifacts, 'signin-1366.png') });
    for (const lang of ['fi', 'sv']) {
      await anon.page.locator('main').getByLabel(/Language|Kieli|Språk/).selectOption(lang);
      await anon.page.waitForFunction((l) => document.documentElement.lang === l, lang);
      for (const size of sizes) {
        await anon.page.setViewportSize(size);
        violations.push(...await axe(anon.page, `sign-in ${lang} ${size.width}px`));
      }
    }
    await anon.context.close();
    for (const [name, user, pages] of who) {
      const s = await session(`${name}-axe`);
      // Leaving the editor with what a check wrote in it: yes.
      s.page.on('dialog', (d) => d.accept());
      await signIn(s, user);
      for (const lang of ['fi', 'sv']) {
        await s.page.locator('#language').selectOption(lang);
        await s.page.waitForFunction((l) => document.documentElement.lang === l, lang);
        for (const size of sizes) {
          await s.page.setViewportSize(size);
          for (const [view, hash, ready, prepare] of pages) {
            await s.page.evaluate((x) => { location.hash = x; }, hash);
            await s.page.locator(ready).first().waitFor();
            // The panels a page reads after its first paint (history, questions, …).
            await s.page.waitForTimeout(400);
            if (prepare) await prepare(s.page);
            violations.push(...await axe(s.page, `${view} (${name}) ${lang} ${size.width}px`));
          }
        }
      }
      // The person's remembered language back to English for the scenarios that follow,
      // and the session ended.
      await s.page.locator('#language').selectOption('en');
      await s.page.waitForFunction(() => document.documentElement.lang === 'en');
      await s.page.waitForTimeout(300);
      await s.page.getByRole('button', { name: 'Sign out' }).click();
      await s.page.getByRole('heading', { name: 'Sign in to Sitrep' }).waitFor();
      await s.context.close();
    }
    writeFileSync(join(artifacts, 'axe-violations.txt'), `${violations.join('\n')}\n`);
    writeFileSync(join(artifacts, 'axe-incomplete.txt'), `${axeIncomplete.join('\n')}\n`);
    check(violations.length === 0, `axe-core found ${violations.length} violation(s) of WCAG 2.2 AA:\n${violations.join('\n')}`);
  });

  await scenario('the secretariat sees overdue acknowledgements, organisations and elections', async () => {
    const s = await session('secretariat');
    await signIn(s, seed.users.secretariat);
    await s.page.getByRole('link', { name: 'Secretariat' }).click();
    await s.page.getByRole('heading', { name: 'Overdue acknowledgements' }).waitFor();
    // One request lists every overdue acknowledgement, the most overdue first, with how late.
    const late = s.page.locator('#overdue-table tbody tr', { has: s.page.getByRole('link', { name: seed.late.reference }) });
    await late.waitFor();
    check((await late.locator('td').nth(3).innerText()) === 'ORG-C', 'the silent organisation');
    check(/^1 h 0\d min$/.test(await late.locator('td').nth(5).innerText()), 'overdue by about an hour');
    // The matrix: each silent organisation of the list overdue in its picture's column,
    // counting each second; the column says how many acknowledged.
    const matrix = s.page.locator('#ack-matrix');
    await matrix.waitFor();
    const col = await matrix.locator('thead th').evaluateAll((ths, ref) => ths.findIndex((th) => th.innerText.startsWith(ref)), seed.late.reference);
    check(col > 0, `the late picture has a column: ${col}`);
    const silent = matrix.locator('tbody tr[data-org="ORG-C"] > *').nth(col);
    check(await silent.getAttribute('data-state') === 'overdue', 'ORG-C overdue in the matrix');
    const was = await silent.innerText();
    check(/^Overdue by 1 h 0\d min \d\d s$/.test(was), `how long, to the second: ${was}`);
    await s.page.waitForTimeout(1100);
    check(await silent.innerText() !== was, 'the matrix counts on');
    const listed = await s.page.locator('#overdue-table tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.cells[0].innerText, tr.cells[3].innerText]));
    for (const [ref, org] of listed) {
      const c = await matrix.locator('thead th').evaluateAll((ths, r) => ths.findIndex((th) => th.innerText.startsWith(r)), ref);
      if (c < 0) continue; // beyond the 12 columns
      check(await matrix.locator(`tbody tr[data-org="${org}"] > *`).nth(c).getAttribute('data-state') === 'overdue', `${org} overdue on ${ref} in the matrix too`);
    }
    const head = await matrix.locator('thead th').nth(col).innerText();
    check(/\d+ of \d+ acknowledged/.test(head), `the column's progress: ${head}`);
    await s.page.locator('#matrix').screenshot({ path: join(artifacts, 'secretariat-matrix-1366.png') });
    await s.page.getByRole('link', { name: 'Organisations and memberships' }).click();
    await s.page.locator('#org-table').getByRole('cell', { name: 'ORG-C', exact: true }).waitFor();
    await s.page.locator('#user-table').getByRole('cell', { name: 'c.reader', exact: true }).first().waitFor();
    await s.page.screenshot({ path: join(artifacts, 'secretariat-organisations-1366.png') });
    // Ending a membership ends that person's console session on its next request.
    await s.page.getByRole('button', { name: "End r.reader's membership of ORG-R" }).click();
    await s.page.getByText('Membership ended').waitFor();
    await r.page.evaluate(() => { location.hash = '#/board'; });
    await r.page.getByRole('heading', { name: 'Sign in to Sitrep' }).waitFor({ timeout: 15000 });
    await r.page.getByText('Your session has ended. Please sign in again.').waitFor();
    await s.page.getByRole('link', { name: 'Elections' }).click();
    await s.page.getByRole('heading', { name: 'Elections' }).waitFor();
    await s.page.getByLabel('Code').fill('x');
    await s.page.getByRole('button', { name: 'Create election' }).click();
    await s.page.locator('.field.invalid').first().waitFor();
    // The election day is written YYYY-MM-DD; another form is said at the field, unsent.
    const day = s.page.getByLabel('Election day');
    check(await day.getAttribute('type') === 'text', 'no native date picker');
    await s.page.getByLabel('Code').fill('FI-TEST-2027');
    await s.page.getByLabel('Name (English)').fill('Test election 2027');
    await day.fill('18.4.2027');
    await s.page.getByRole('button', { name: 'Create election' }).click();
    await s.page.locator('.field[data-field="election_day"].invalid').getByText('Write the date as year-month-day').waitFor();
    await day.fill('2027-04-18');
    await s.page.getByRole('button', { name: 'Create election' }).click();
    await s.page.locator('#election-table').getByRole('cell', { name: '2027-04-18', exact: true }).waitFor();
    await s.context.close();
  });

  await scenario('the board draws a timeline by domain and severity, over days or an election\'s phases, and counts regions', async () => {
    const s = await session('a.author-timeline');
    await signIn(s, seed.users.author);
    const p = s.page;
    await p.locator('#timeline-chart').waitFor();
    const today = helsinkiDay(new Date().toISOString());
    const cols = await p.locator('#timeline-chart-table thead th').evaluateAll((ths) => ths.slice(1).map((th) => th.textContent));
    check(cols.length === 14 && cols[13] === today, `14 days up to today (${today}): ${cols}`);
    // The numbers, worked out here from the list API (every page): pictures published each
    // day, by domain.
    const lists = await p.evaluate(async () => {
      const api = await import('./api.js');
      const out = {};
      for (const d of ['information_influence', 'hybrid', 'cyber']) {
        out[d] = [];
        let cursor = null;
        do {
          const page = await api.request(`/pictures?status=published&domain=${d}&limit=200${cursor ? `&cursor=${cursor}` : ''}`);
          out[d].push(...page.items);
          cursor = page.next_cursor;
        } while (cursor);
      }
      return out;
    });
    let seen = 0;
    for (const [domain, items] of Object.entries(lists)) {
      for (const day of cols) {
        const want = items.filter((x) => x.published_at && x.severity && helsinkiDay(x.published_at) === day).length;
        const got = Number(await p.locator(`#timeline-chart-table tr[data-row="${domain}"] td[data-col="${day}"]`).getAttribute('data-total'));
        check(got === want, `${domain} on ${day}: ${got} in the timeline, ${want} published`);
        seen += want;
      }
    }
    check(seen > 0, 'the timeline has pictures to show');
    // Every one of the bulk's pictures, more than the board once read a domain (600).
    const bulkRow = await p.locator(`#timeline-chart-table tr[data-row="${seed.bulk.domain}"] td`).evaluateAll((tds) => tds.reduce((n, td) => n + Number(td.dataset.total), 0));
    check(bulkRow >= seed.bulk.count && bulkRow > 600, `the ${seed.bulk.domain} row counts ${bulkRow}, the bulk alone is ${seed.bulk.count}`);
    check(!(await p.locator('#timeline .notice').count()), 'no notice of pictures left out');
    const rects = await p.locator('#timeline-chart rect[fill^="url("]').count();
    check(rects > 0 && rects <= seen, `bars drawn: ${rects}`);
    const named = await p.locator('#timeline-chart').getAttribute('aria-label');
    check(await p.locator('#timeline-chart').getAttribute('role') === 'img' && named.includes('the numbers are in the table below'), `the chart is named and points to its table: ${named}`);
    const legend = await p.locator('#timeline .legend li').allInnerTexts();
    check(legend.map((x) => x.trim()).join('|') === 'low|medium|high|critical', `the legend names each severity: ${legend}`);
    // The cell of the posted picture says its number and severity in words.
    const mine = lists.information_influence.find((x) => x.id === posted.id);
    const cell = await p.locator(`#timeline-chart-table tr[data-row="information_influence"] td[data-col="${helsinkiDay(mine.published_at)}"]`).textContent();
    check(cell.includes(mine.severity), `the severity in words: ${cell}`);
    // Over the phases of an election: its six windows as columns.
    const scale = p.getByLabel('Period', { exact: true });
    await scale.selectOption({ label: 'the phases of Test election 2027 (FI-TEST-2027)' });
    await p.locator('#timeline-chart-table thead th', { hasText: /^Advance voting$/ }).waitFor({ state: 'attached' });
    const phases = await p.locator('#timeline-chart-table thead th').evaluateAll((ths) => ths.slice(1).map((th) => th.textContent));
    check(phases.join('|') === ['Before the voting register is in force', 'Register in force, before advance voting', 'Advance voting',
      'After advance voting, before the election day', 'Election day', 'After the election day'].join('|'), `the phases: ${phases}`);
    await scale.selectOption({ label: 'the last 14 days' });
    await p.locator(`#timeline-chart-table thead th`, { hasText: today }).waitFor({ state: 'attached' });
    // By region, at once: the posted picture's constituency counted, with its severity; and
    // every picture of the bulk's constituency (more than the 60 the board once read).
    const region = p.locator('#regions-table tr[data-region="FI-VP-10"] td');
    await region.waitFor();
    check(/^[1-9]\d* \(/.test(await region.innerText()) && (await region.innerText()).includes(mine.severity), `FI-VP-10: ${await region.innerText()}`);
    const bulkArea = Number(await p.locator(`#regions-table tr[data-region="${seed.bulk.area}"]`).getAttribute('data-total'));
    check(bulkArea === seed.bulk.count, `${seed.bulk.area}: ${bulkArea} pictures, ${seed.bulk.count} published there`);
    check(await p.evaluate(() => document.scrollingElement.scrollWidth) <= 1366, 'no sideways page scroll at 1366 px');
    await p.locator('#timeline').screenshot({ path: join(artifacts, 'board-timeline-1366.png') });
    await s.context.close();
  });

  await scenario('the auditor searches the access log and sees the signed checkpoint', async () => {
    const a = await session('auditor');
    await signIn(a, seed.users.auditor);
    await a.page.getByRole('heading', { name: 'Access log' }).waitFor();
    await a.page.locator('#log-table tbody tr').first().waitFor();
    await a.page.locator('#chain-state').waitFor();
    const chain = await a.page.locator('#chain-state').innerText();
    check(await a.page.locator('#chain-state.ok').count() === 1, `checkpoint verified in the browser: ${chain}`);
    // What the checkpoint covers: records 1 to the one it signs, and the newer ones not yet.
    const covers = await a.page.locator('#chain-covers').innerText();
    const signed = Number((await a.page.locator('#chain dd').first().innerText()).replace('#', ''));
    check(signed > 1 && covers.includes(`records #1 to #${signed} (${signed} records)`), `the checkpoint says what it covers: ${covers}`);
    check(/\d+ newer records? \(#\d+ to #\d+\) (is|are) not covered/.test(covers), `the records after it: ${covers}`);
    // The table stays in its column at 1366 px: its box ends before the chain panel starts
    // and scrolls by itself; the page does not scroll sideways.
    const box = await a.page.locator('#log .table-scroll').boundingBox();
    const panel = await a.page.locator('#chain').boundingBox();
    await a.page.screenshot({ path: join(artifacts, 'audit-1366.png') });
    check(box.x + box.width <= panel.x, `the log table (to ${box.x + box.width}) stays left of the chain panel (from ${panel.x})`);
    check(await a.page.evaluate(() => document.scrollingElement.scrollWidth) <= 1366, 'no sideways page scroll at 1366 px');
    // The known action names are offered under the action field.
    const offered = await a.page.locator('#action-names option').evaluateAll((os) => os.map((o) => o.value));
    check(offered.includes('picture.view') && offered.includes('auth.login') && offered.length > 50, `action names offered: ${offered.length}`);
    // The time filters are ISO dates: another form is said at the field, nothing is searched.
    await a.page.getByLabel('From', { exact: true }).fill('1.12.2026');
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.locator('.field[data-field="from"].invalid').getByText('Write the date and time as year-month-day').waitFor();
    await a.page.getByLabel('From', { exact: true }).fill('');
    await a.page.getByLabel('Action').fill('auth.login');
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#log-table tbody tr td:nth-child(5)')].map((td) => td.textContent);
      return cells.length > 0 && cells.every((t) => t === 'auth.login');
    });
    // By username (no UUID needed): only b.reader's records.
    await a.page.getByLabel('Action').fill('');
    await a.page.getByLabel('Username').fill('B.Reader');
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#log-table tbody tr td:nth-child(3)')].map((td) => td.textContent);
      return cells.length > 0 && cells.every((t) => t === 'b.reader');
    });
    // By a picture's reference (any case): only records about that picture, as their
    // object or among the objects a list returned (the cell's title names those).
    await a.page.getByLabel('Username').fill('');
    await a.page.getByLabel('Picture reference').fill(seed.group.reference.toLowerCase());
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.waitForFunction((id) => {
      const cells = [...document.querySelectorAll('#log-table tbody tr td:nth-child(6)')].map((td) => `${td.textContent} ${td.title}`);
      return cells.length > 0 && cells.every((t) => t.includes(id)) && cells.some((t) => t.includes(`picture ${id}`));
    }, seed.group.id);
    // An unknown action: no empty table, but which filters were used and what names look like.
    await a.page.getByLabel('Picture reference').fill('');
    await a.page.getByLabel('Action').fill('picture.veiw');
    await a.page.getByLabel('Username').fill('s.auditor');
    await a.page.getByRole('button', { name: 'Search' }).click();
    await a.page.locator('#log-empty').waitFor();
    const empty = await a.page.locator('#log-empty').innerText();
    check(await a.page.locator('#log-table').count() === 0, 'no empty table');
    check(empty.includes('Action: picture.veiw; Username: s.auditor'), `the filters used are named: ${empty}`);
    check(empty.includes('“picture.veiw” is not an action') && empty.includes('like picture.view'), `the action is said to be unknown: ${empty}`);
    await a.page.screenshot({ path: join(artifacts, 'audit-empty-1366.png') });
    const found = await axe(a.page, 'audit with an empty result (en, 1366 px)');
    check(found.length === 0, `axe-core found violations:\n${found.join('\n')}`);
    const download = a.page.waitForEvent('download');
    await a.page.getByRole('button', { name: /JSON Lines/ }).click();
    const file = await download;
    check(file.suggestedFilename() === 'sitrep-access-log.jsonl', 'export downloaded');
    await a.context.close();
  });

  await scenario('a person with a one-time password chooses their own before anything else', async () => {
    const n = await session('a.newcomer');
    await signIn(n, seed.users.newcomer);
    await n.page.getByRole('heading', { name: 'Choose your own password' }).waitFor();
    check(await n.page.locator('#nav a').count() === 0, 'no pages offered before the password is changed');
    await n.page.getByLabel('Current password').fill(seed.users.newcomer.password);
    await n.page.getByLabel('New password', { exact: true }).fill('passwordpassword');
    await n.page.getByLabel('New password again').fill('passwordpassword');
    await n.page.getByRole('button', { name: 'Change password' }).click();
    await n.page.locator('.field.invalid input[name="new_password"]').waitFor();
    await n.page.getByLabel('New password', { exact: true }).fill('mustikka metsässä 1917');
    await n.page.getByLabel('New password again').fill('mustikka metsässä 1917');
    await n.page.getByRole('button', { name: 'Change password' }).click();
    await n.page.getByRole('heading', { name: 'Situation board' }).waitFor();
    await n.page.locator(`[data-id="${seed.group.id}"]`).waitFor();
    await n.context.close();
  });

  await scenario('a person sets up an authenticator app with a QR code drawn in the page, keeps the recovery codes, changes the password and signs in with a recovery code', async () => {
    const n = await session('a.newcomer-account');
    const password = 'mustikka metsässä 1917';
    await signIn(n, { username: seed.users.newcomer.username, password });
    const p = n.page;
    await p.getByRole('link', { name: 'My account' }).click();
    await p.getByRole('heading', { name: 'My account' }).waitFor();
    check((await p.locator('#totp-state').innerText()).startsWith('Off'), 'the second factor is off');
    await p.getByRole('button', { name: 'Set up an authenticator app' }).click();
    await p.locator('#totp-qr').waitFor();
    const secret = (await p.locator('#totp-secret').innerText()).replace(/\s/g, '');
    const uri = await p.locator('#totp-uri').innerText();
    check(uri.startsWith('otpauth://totp/') && new URL(uri).searchParams.get('secret') === secret, `the URI carries the secret shown: ${uri}`);
    // The canvas is the QR code of that URI, module for module (read back from its pixels).
    const expected = encodeQr(uri, { ecc: 'M', border: 4 }).data;
    const drawn = await p.locator('#totp-qr').evaluate((c) => {
      const n = Number(c.dataset.modules);
      const scale = c.width / n;
      const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return Array.from({ length: n }, (_, y) => Array.from({ length: n }, (_, x) => {
        const i = ((y * scale + scale / 2) * c.width + (x * scale + scale / 2)) * 4;
        return px[i] < 128;
      }));
    });
    check(JSON.stringify(drawn) === JSON.stringify(expected), 'the QR code drawn is the one of the URI shown');
    check(expected.flat().some(Boolean), 'the QR code is not blank');
    await p.screenshot({ path: join(artifacts, 'account-totp-enrol.png'), fullPage: true });
    let found = await axe(p, 'account: enrolment (en, 1366 px)');
    check(found.length === 0, `axe-core found violations:\n${found.join('\n')}`);
    // A wrong code is refused at the form; the right one turns it on and shows ten codes once.
    await p.getByLabel('Code from the app').fill('000000');
    await p.getByRole('button', { name: 'Turn on' }).click();
    await p.locator('#totp-confirm .form-error').getByText('wrong or was used').waitFor();
    await p.getByLabel('Code from the app').fill(totp(secret));
    await p.getByRole('button', { name: 'Turn on' }).click();
    await p.locator('#recovery-codes li').nth(9).waitFor();
    const codes = await p.locator('#recovery-codes li').allInnerTexts();
    check(codes.length === 10 && new Set(codes).size === 10, `ten distinct recovery codes: ${codes}`);
    check((await p.locator('#totp-state').innerText()).includes('10 recovery codes left'), 'ten left');
    found = await axe(p, 'account: recovery codes (en, 1366 px)');
    check(found.length === 0, `axe-core found violations:\n${found.join('\n')}`);
    // The password: the wrong current one is said at the form, then it changes.
    const newPassword = 'karpalo suolla 2027';
    await p.getByLabel('Current password').fill('not the password');
    await p.getByLabel('New password', { exact: true }).fill(newPassword);
    await p.getByLabel('New password again').fill(newPassword);
    await p.getByRole('button', { name: 'Change password' }).click();
    await p.locator('#password-form').getByText('The current password is wrong.').waitFor();
    await p.getByLabel('Current password').fill(password);
    await p.getByRole('button', { name: 'Change password' }).click();
    await p.getByText('Password changed.').waitFor();
    // Signing in again now takes the new password and the second factor; a recovery code
    // stands in for the app once.
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.getByLabel('Username').fill(seed.users.newcomer.username);
    await p.getByLabel('Password').fill(password);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('main .form-error').filter({ hasText: /./ }).waitFor();
    await p.getByLabel('Password').fill(newPassword);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.getByLabel('Authenticator code').waitFor();
    await p.getByLabel('…or a recovery code').fill(codes[0]);
    await p.getByRole('button', { name: 'Sign in' }).click();
    await p.locator('#top:not([hidden])').waitFor();
    await p.evaluate(() => { location.hash = '#/account'; });
    await p.locator('#totp-state').getByText('9 recovery codes left').waitFor();
    // The device is lost: the secretariat resets the second factor, which ends the
    // person's session; the password alone signs them in again.
    const sec = await session('secretariat-totp-reset');
    await signIn(sec, seed.users.secretariat);
    await sec.page.getByRole('link', { name: 'Secretariat' }).click();
    await sec.page.getByRole('link', { name: 'Organisations and memberships' }).click();
    sec.page.once('dialog', (d) => d.accept());
    await sec.page.getByRole('button', { name: `Reset second factor of ${seed.users.newcomer.username}` }).click();
    await sec.page.getByText(`The second factor of ${seed.users.newcomer.username} was removed`).waitFor();
    await sec.context.close();
    await p.evaluate(() => { location.hash = '#/board'; });
    await p.getByRole('heading', { name: 'Sign in to Sitrep' }).waitFor({ timeout: 15000 });
    await signIn(n, { username: seed.users.newcomer.username, password: newPassword });
    await p.evaluate(() => { location.hash = '#/account'; });
    check((await p.locator('#totp-state').innerText()).startsWith('Off'), 'the second factor is off after the reset');
    await n.context.close();
  });

  await scenario('signing out forgets the session', async () => {
    await c.page.getByRole('button', { name: 'Sign out' }).click();
    await c.page.getByRole('heading', { name: 'Sign in to Sitrep' }).waitFor();
    await c.page.getByText('You have signed out.').waitFor();
    const left = (await c.context.cookies()).filter((k) => k.name === '__Secure-sitrep_refresh');
    check(left.length === 0, 'signing out cleared the cookie');
    await c.page.reload();
    await c.page.getByRole('heading', { name: 'Sign in to Sitrep' }).waitFor();
  });

  await scenario('at 390 px no page scrolls sideways, in Finnish and Swedish, and a picture is acknowledged near the top', async () => {
    const who = [
      ['c.reader', seed.users.c, [['board', '#/board', '#timeline-chart'], ['board-table', '#/board/view=table', '#board-table tbody tr'], ['picture', `#/picture/${seed.group.id}`, '#acks button'],
        ['attachments', `#/picture/${seed.attach.id}`, '#attachment-list img[src^="blob:"]']]],
      ['a.approver2', seed.users.approver2, [['queue', '#/queue', `tr[data-id="${seed.review.id}"]`]]],
      ['a.author', seed.users.author, [['account', '#/account', '#totp-start'], ['editor', '#/new', '#editor-h'],
        ['editor-errors', '#/new', '#editor-h', editorErrors], ['picture-compare', `#/picture/${posted.id}`, '#history form', compareRevisions],
        ['editor-attachments', `#/edit/${seed.attach.id}`, '#attachment-list img[src^="blob:"]']]],
      ['s.auditor', seed.users.auditor, [['audit', '#/audit', '#log-table tbody tr']]],
      ['s.secretariat', seed.users.secretariat, [['secretariat-overdue', '#/secretariat/overdue', '#ack-matrix tbody tr']]],
    ];
    // Headings of what this round added, in the language shown.
    const HEADINGS = {
      fi: { board: ['#timeline-h', 'Aikajana'], editor: ['#handling-rules-h', 'Mitä tämä käsittely edellyttää'], 'secretariat-overdue': ['#matrix-h', 'Kuittaukset organisaatioittain'] },
      sv: { board: ['#timeline-h', 'Tidslinje'], editor: ['#handling-rules-h', 'Vad den här hanteringen kräver'], 'secretariat-overdue': ['#matrix-h', 'Kvitteringar per organisation'] },
    };
    for (const [name, user, views] of who) {
      const s = await session(`${name}-390`, { width: 390, height: 844 });
      s.page.on('dialog', (d) => d.accept());
      await signIn(s, user);
      for (const lang of ['fi', 'sv']) {
        await s.page.locator('#language').selectOption(lang);
        await s.page.waitForFunction((l) => document.documentElement.lang === l, lang);
        for (const [view, hash, ready, prepare] of views) {
          await s.page.evaluate((x) => { location.hash = x; }, hash);
          await s.page.locator(ready).first().waitFor();
          await s.page.waitForTimeout(300);
          if (prepare) await prepare(s.page);
          const width = await s.page.evaluate(() => document.scrollingElement.scrollWidth);
          check(width <= 390, `${view} in ${lang} is ${width} px wide at 390 px`);
          if (HEADINGS[lang][view]) {
            const [sel, want] = HEADINGS[lang][view];
            check(await s.page.locator(sel).innerText() === want, `${view} in ${lang}: "${want}"`);
          }
          if (view === 'picture') {
            const acks = await s.page.locator('#acks').boundingBox();
            const summary = await s.page.locator('.cols > div:first-child > h2').first().boundingBox();
            check(acks.y < summary.y, `acknowledgement above the texts on a phone (${acks.y} < ${summary.y})`);
          }
          await s.page.screenshot({ path: join(artifacts, `${view}-${lang}-390.png`), fullPage: true });
        }
        // Back to the view list's start, so a language switch re-renders a known page.
        await s.page.evaluate((x) => { location.hash = x; }, views[0][1]);
      }
      await s.page.getByRole('button', { name: UI.sv.signOut }).click();
      await s.page.getByRole('heading', { name: UI.sv.signIn }).waitFor();
      await s.context.close();
    }
  });

  for (const s of [b, c, author, approver2]) await s.context.close();
  log(`passed: ${ok.join('; ')}`);
  console.log('all console scenarios passed');
} catch (e) {
  console.error(`FAILED in "${step}": ${e && e.stack ? e.stack : e}`);
  if (problems.length) console.error(`browser problems: ${problems.join('\n')}`);
  for (const s of open) {
    try {
      await s.page.screenshot({ path: join(artifacts, `failure-${s.name}.png`), fullPage: true });
      console.error(`--- ${s.name} at ${s.page.url()}:\n${(await s.page.locator('main').innerText()).slice(0, 1500)}`);
    } catch (_) {
      // closed already
    }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
void all;
