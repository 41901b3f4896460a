// Browser timings of the console (run by deploy/bench-console): in Debian's headless
// Chromium, driven by playwright-core from tests/console, a reader signs in on the sign-in
// page and then opens the first picture of the board. Each run is a fresh browser context
// (no cache, no session). Both times are taken inside the page with performance.now():
//   sign-in: from the press of "Sign in" to the first picture card of the board in the
//            document;
//   open:    from the click on that card's title to the picture page showing its TLP
//            banner, its heading and its reference.
// Prints one JSON line per run. Only loopback addresses are used.

import { createRequire } from 'node:module';

// playwright-core as tests/console pins and installs it (BENCH_CONSOLE_DIR).
const { chromium } = createRequire(`${process.env.BENCH_CONSOLE_DIR}/package.json`)('playwright-core');

const base = process.env.BENCH_URL;
const runs = Number(process.env.BENCH_RUNS || 5);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(base).hostname)) throw new Error(`not loopback: ${base}`);

const browser = await chromium.launch({ executablePath: process.env.BENCH_CHROMIUM || '/usr/bin/chromium' });
try {
  for (let run = 1; run <= runs; run++) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1366, height: 900 } });
    await context.route(/^(?!https:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/])/, (route) => route.abort());
    const page = await context.newPage();
    await page.goto(`${base}/app/`);
    await page.locator('form.login').waitFor();
    await page.fill('form.login input[name=username]', process.env.BENCH_USERNAME);
    await page.fill('form.login input[name=password]', process.env.BENCH_PASSWORD);
    const signIn = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const started = performance.now();
          const ready = () => document.querySelector('li.card[data-id] a.title');
          setTimeout(() => resolve(`no board after 30 s: ${document.body.innerText.slice(0, 300)}`), 30000);
          const seen = new MutationObserver(() => {
            if (ready()) {
              seen.disconnect();
              resolve(performance.now() - started);
            }
          });
          seen.observe(document.body, { childList: true, subtree: true });
          document.querySelector('form.login button[type=submit]').click();
        }),
    );
    const open = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const card = document.querySelector('li.card[data-id]');
          const reference = card.dataset.reference;
          const started = performance.now();
          const ready = () =>
            location.hash === `#/picture/${card.dataset.id}` &&
            document.querySelector('#tlp-banner') &&
            document.querySelector('h1') &&
            document.body.textContent.includes(reference);
          setTimeout(() => resolve(`no picture after 30 s: ${document.body.innerText.slice(0, 300)}`), 30000);
          const seen = new MutationObserver(() => {
            if (ready()) {
              seen.disconnect();
              resolve(performance.now() - started);
            }
          });
          seen.observe(document.body, { childList: true, subtree: true });
          card.querySelector('a.title').click();
        }),
    );
    if (typeof signIn !== 'number') throw new Error(signIn);
    if (typeof open !== 'number') throw new Error(open);
    console.log(JSON.stringify({ run, sign_in_ms: Math.round(signIn), open_ms: Math.round(open) }));
    await context.close();
  }
} finally {
  await browser.close();
}
