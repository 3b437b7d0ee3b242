//! `npm run e2e` (after `npm run build`): checks the prerequisites, builds the workspace's
//! binaries, runs every spec in `tests/e2e/specs/` one file at a time with Node's test
//! runner, and exits non-zero when anything failed.
//!
//! Usage: `node tests/e2e/run.mjs [WORD…]` runs only the specs whose file name contains
//! one of the words (`node tests/e2e/run.mjs scan sync`).
//!
//! Decisions:
//! - The binaries are always brought up to date with `cargo build --workspace` (a no-op
//!   when nothing changed, about a second), so a stale `printscout` is never tested.
//!   `PRINTSCOUT_E2E_NO_BUILD=1` skips it (CI that just built); then a missing binary is
//!   an error that says what to run.
//! - The UI is not built here: `npm run e2e` builds it first; a missing `ui/dist` is an
//!   error that says to run `npm run build`.
//! - Specs run one at a time (`--test-concurrency=1`): the machine has 2 cores, and each
//!   spec already runs snmpsim, the service and Chromium.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BIN, UI_DIR, CHROMIUM, SCREENSHOTS } from './harness.mjs';

function fail(message) {
  console.error(`e2e: ${message}`);
  process.exit(2);
}

const started = Date.now();

// Prerequisites that no build makes.
if (!existsSync(CHROMIUM)) {
  fail(`${CHROMIUM} is missing: apt-get install -y chromium (or set PRINTSCOUT_CHROMIUM to a Chromium)`);
}
const snmpsim = join(process.env.PRINTSCOUT_TOOLS_HOME || join(process.env.HOME || '/root', '.cache', 'printscout'),
  'venv-snmpsim', 'bin', 'snmpsim-command-responder');
if (!process.env.PRINTSCOUT_SNMPSIM_BIN && !existsSync(snmpsim)) {
  fail(`snmpsim is not installed (${snmpsim}): run scripts/setup.sh`);
}
if (!existsSync(join(UI_DIR, 'index.html'))) {
  fail(`${UI_DIR}/index.html is missing: run \`npm run build\` (npm run e2e does it first)`);
}

// The binaries.
if (process.env.PRINTSCOUT_E2E_NO_BUILD) {
  for (const bin of ['printscout', 'printscout-e2e-lab']) {
    if (!existsSync(join(BIN, bin))) {
      fail(`${join(BIN, bin)} is missing: run \`cargo build --workspace\` (or unset PRINTSCOUT_E2E_NO_BUILD)`);
    }
  }
} else {
  const t0 = Date.now();
  const build = spawnSync('cargo', ['build', '--workspace'], { cwd: ROOT, stdio: 'inherit' });
  if (build.status !== 0) fail('`cargo build --workspace` failed (see above)');
  console.error(`e2e: binaries up to date (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}

// The specs.
const words = process.argv.slice(2);
const specDir = join(ROOT, 'tests', 'e2e', 'specs');
const specs = readdirSync(specDir)
  .filter((f) => f.endsWith('.test.mjs'))
  .filter((f) => words.length === 0 || words.some((w) => f.includes(w)))
  .sort()
  .map((f) => join(specDir, f));
if (specs.length === 0) fail(`no spec in ${specDir} matches ${words.join(' ')}`);
mkdirSync(SCREENSHOTS, { recursive: true });
// Screenshots are this run's: a full run starts from none, a partial one drops only the
// failure shots (FAILED-*.png) of earlier runs.
for (const f of readdirSync(SCREENSHOTS)) {
  if (f.endsWith('.png') && (words.length === 0 || f.startsWith('FAILED-'))) rmSync(join(SCREENSHOTS, f));
}

const t1 = Date.now();
const result = spawnSync(process.execPath, [
  '--test', '--test-concurrency=1', '--test-reporter=spec', ...specs,
], { cwd: ROOT, stdio: 'inherit', env: { ...process.env, NODE_NO_WARNINGS: '1' } });
const seconds = (ms) => (ms / 1000).toFixed(1);
console.error(`e2e: specs took ${seconds(Date.now() - t1)} s (total ${seconds(Date.now() - started)} s); screenshots in ${SCREENSHOTS}`);
process.exit(result.status === 0 ? 0 : 1);
