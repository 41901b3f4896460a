// The interface language: every text the console shows comes from a message catalogue,
// one file per language (messages-fi.json, messages-sv.json, messages-en.json), never from
// the code. Dates and times are written in the language's conventions and in the
// deployment's time zone (GET /me says which; Europe/Helsinki until signed in).

export const LANGS = ['fi', 'sv', 'en'];
const LOCALES = { fi: 'fi-FI', sv: 'sv-FI', en: 'en-GB' };

const catalogues = {};
let current = 'en';
let zone = 'Europe/Helsinki';
const listeners = new Set();

/** The language the browser prefers, if the console speaks it; else English. */
export function browserLanguage() {
  for (const l of navigator.languages || [navigator.language || '']) {
    const base = String(l).slice(0, 2).toLowerCase();
    if (LANGS.includes(base)) return base;
  }
  return 'en';
}

/** Loads the three catalogues (same origin, no script). */
export async function loadCatalogues() {
  await Promise.all(LANGS.map(async (l) => {
    const res = await fetch(`messages-${l}.json`, { credentials: 'omit' });
    catalogues[l] = await res.json();
  }));
}

export function language() {
  return current;
}

/** Switches the interface language (and says so to whoever listens). */
export function setLanguage(l) {
  if (!LANGS.includes(l) || l === current) return;
  current = l;
  document.documentElement.lang = l;
  for (const fn of listeners) fn(l);
}

export function onLanguage(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The time zone times are shown in (an IANA name; the browser refuses unknown ones). */
export function setTimeZone(tz) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    zone = tz;
  } catch (_) {
    zone = 'Europe/Helsinki';
  }
}

/**
 * The text of `key` in the interface language, with `{name}` replaced from `vars`. With
 * `vars.n`, a key `key.one` / `key.other` (the language's plural rule) is taken first.
 */
export function t(key, vars = {}) {
  const cat = catalogues[current] || {};
  let text;
  if (typeof vars.n === 'number') {
    const rule = new Intl.PluralRules(LOCALES[current]).select(vars.n);
    text = cat[`${key}.${rule}`] ?? cat[`${key}.other`];
  }
  text = text ?? cat[key] ?? (catalogues.en || {})[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

/** Whether the catalogue has `key` (for labels of values the API may add later). */
export function has(key) {
  return key in (catalogues[current] || {});
}

/** A date and time in the interface language and the deployment's time zone, with its name. */
export function dateTime(iso) {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(LOCALES[current], {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
    timeZone: zone, timeZoneName: 'short',
  }).format(new Date(iso));
}

/** A file size in the interface language (kB and MB of 1000, as the units say). */
export function fileSize(bytes) {
  const units = [['byte', 1], ['kilobyte', 1e3], ['megabyte', 1e6], ['gigabyte', 1e9]];
  let [unit, div] = units[0];
  for (const u of units) if (bytes >= u[1]) [unit, div] = u;
  return new Intl.NumberFormat(LOCALES[current], {
    style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: unit === 'byte' ? 0 : 1,
  }).format(bytes / div);
}

/** A share (0 to 1) as a whole percentage in the interface language. */
export function percent(share) {
  return new Intl.NumberFormat(LOCALES[current], { style: 'percent', maximumFractionDigits: 0 }).format(share);
}

/** The deployment's time zone (an IANA name). */
export function timeZone() {
  return zone;
}

const WALL = { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' };

/** The wall-clock fields of instant `ms` in the deployment's time zone, as numbers. */
function wall(ms) {
  const parts = new Intl.DateTimeFormat('en-GB', { ...WALL, timeZone: zone }).formatToParts(new Date(ms));
  const out = {};
  for (const p of parts) if (p.type !== 'literal') out[p.type] = Number(p.value);
  return out;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

/**
 * An instant written as ISO 8601 in the deployment's time zone, whatever the browser's
 * locale: `2027-04-18 09:30` (`withTime` false: `2027-04-18`). Empty for no instant.
 */
export function isoLocal(iso, withTime = true) {
  if (!iso) return '';
  const ms = new Date(iso).getTime();
  if (Number.isNaN(ms)) return '';
  const w = wall(ms);
  const date = `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}`;
  return withTime ? `${date} ${pad(w.hour)}:${pad(w.minute)}` : date;
}

/**
 * The instant a wall-clock time in the deployment's time zone names, as a `Date`; null
 * when there is no such date or time (30 February, 25:00, the hour skipped when summer
 * time starts).
 */
export function fromIsoLocal(year, month, day, hour = 0, minute = 0) {
  const target = Date.UTC(year, month - 1, day, hour, minute);
  let ms = target;
  // The zone's offset at the guess, twice: once more settles a guess across a change.
  for (let i = 0; i < 2; i += 1) {
    const w = wall(ms);
    ms = target - (Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - ms);
  }
  const w = wall(ms);
  const same = w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute;
  return same ? new Date(ms) : null;
}
