// The dashboard (/ui) in a real browser: Debian's chromium, driven by
// playwright-core, against a live dev host (nomad-iis-host agent with the
// real plugin and its Management API, 127.0.0.1 only) running the sample
// static app. Every effect is checked where it happens: on the site over
// HTTP and in the task directory's files. A PNG of each page goes to
// build/ui-artifacts/. Every process started here is stopped by its PID.
//
//   cd tests/ui && npm ci && npm test
//   BUILD_DIR=... CHROMIUM=... UI_ARTIFACTS=... npm test

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUILD = path.resolve(REPO, process.env.BUILD_DIR ?? 'build');
const HOST_BIN = process.env.HOST_BIN ?? path.join(BUILD, 'bin/nomad-iis-host');
const PLUGIN = process.env.NOMAD_IIS_PLUGIN ?? path.join(BUILD, 'bin/nomad_iis');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve(REPO, process.env.UI_ARTIFACTS ?? path.join(BUILD, 'ui-artifacts'));
const JOB_FILE = path.join(REPO, 'examples/jobs/static-app.json');

/// An HS256 token with the claims the API reads (signed here: the test's
/// own issuer, as the Go tests sign theirs).
function jwt(capabilities) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({
    iss: 'NomadIIS', aud: 'ManagementApi', iat: now, nbf: now - 60, exp: now + 3600,
    namespace: '*', jobName: '*', allocId: '*', capabilities,
  })}`;
  return `${body}.${createHmac('sha256', node.jwtSecret).update(body).digest('base64url')}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, ms = 30000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await check().catch(() => undefined);
    if (got) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function site(url) {
  const res = await fetch(url, { cache: 'no-store' });
  return { status: res.status, body: await res.text() };
}

/// The live node: the host agent with the plugin, and the sample app's job.
const node = {
  runDir: '',
  agent: null,
  key: randomBytes(16).toString('hex'),
  jwtSecret: randomBytes(32).toString('hex'),
  mgmt: '',
  app: '',
  allocId: '',
  taskDir: '',
};

function pidsMentioning(text) {
  const out = [];
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    if (Number(pid) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text)) out.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function startNode() {
  node.runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'nomad-iis-ui-'));
  fs.chmodSync(node.runDir, 0o755); // the pools' users traverse it
  const keyFile = path.join(node.runDir, 'api-key');
  fs.writeFileSync(keyFile, node.key + '\n', { mode: 0o600 });
  const jwtFile = path.join(node.runDir, 'jwt-secret');
  fs.writeFileSync(jwtFile, node.jwtSecret + '\n', { mode: 0o600 });
  const addrFile = path.join(node.runDir, 'addr');
  const [httpPort, mgmtPort] = [await freePort(), await freePort()];
  const log = fs.openSync(path.join(node.runDir, 'agent.log'), 'w');
  node.agent = spawn(HOST_BIN, ['agent', '-data-dir', path.join(node.runDir, 'data'), '-plugin', PLUGIN,
    '-bind', '127.0.0.1', '-http-port', String(httpPort), '-stop-on-exit', '-addr-file', addrFile,
    '-log-level', 'warn', '--', `--management-api-port=${mgmtPort}`,
    `--management-api-key-file=${keyFile}`, `--management-api-jwt-secret-file=${jwtFile}`,
    '--management-api-bind=127.0.0.1'],
  { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const addr = await until('the host to start', async () => {
    if (node.agent.exitCode !== null) throw new Error(fs.readFileSync(path.join(node.runDir, 'agent.log'), 'utf8'));
    return fs.existsSync(addrFile) && fs.readFileSync(addrFile, 'utf8').trim();
  }, 60000);
  execFileSync(HOST_BIN, ['job', 'run', '-address', addr, JOB_FILE], { stdio: 'ignore' });
  const urls = await until('the app allocation', async () =>
    execFileSync(HOST_BIN, ['job', 'urls', '-address', addr, 'static-app'], { encoding: 'utf8' }).trim());
  const [allocId, , appURL] = urls.split('\n')[0].split(/\s+/);
  node.allocId = allocId;
  node.app = appURL;
  node.mgmt = `http://127.0.0.1:${mgmtPort}`;
  await until('the app to serve', async () => (await site(node.app)).status === 200);
  const status = await (await fetch(`${node.mgmt}/api/v1/allocs/${allocId}/app/status`,
    { headers: { 'X-Api-Key': node.key } })).json();
  assert.equal(status.allocId, allocId);
  node.taskDir = path.join(node.runDir, 'data', 'alloc', allocId, 'app');
}

async function stopNode() {
  if (node.agent && node.agent.exitCode === null) {
    const pid = node.agent.pid;
    process.kill(pid, 'SIGTERM');
    await until('the host to stop', async () => !alive(pid), 60000).catch(() => process.kill(pid, 'SIGKILL'));
  }
  // Whatever still names the run dir (a task's nginx, the plugin): by PID.
  if (node.runDir) {
    for (const pid of pidsMentioning(node.runDir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    fs.rmSync(node.runDir, { recursive: true, force: true });
  }
}

let browser;
let page;
let shots = 0;
const requests = []; // every request the page made: [url, headers]

async function snap(name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const card = () => page.locator(`article.task[data-task="${node.allocId}/app"]`);
const poolRow = () => card().locator('tr[data-pool="default"]');
const fileRow = (name) => page.locator(`#files tr[data-name="${name}"]`);

async function poolAction(label) {
  await poolRow().getByRole('button', { name: label, exact: true }).click();
  await page.locator('#confirm').waitFor({ state: 'visible' });
  await page.locator('#confirm-ok').click();
  await card().locator('.note').filter({ hasText: `${label.toLowerCase()}: done` }).waitFor();
}

before(async () => {
  for (const [what, p] of [['host', HOST_BIN], ['plugin', PLUGIN], ['chromium', CHROMIUM]])
    assert.ok(fs.existsSync(p), `the ${what} is missing: ${p} (build with scripts/setup.sh)`);
  await startNode();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, acceptDownloads: true });
  page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err));
  page.on('request', (r) => requests.push([r.url(), r.headers()]));
  await page.goto(`${node.mgmt}/ui/`);
}, { timeout: 180000 });

after(async () => {
  await browser?.close();
  await stopNode();
});

test('a wrong key shows the API\'s message and stores nothing', async () => {
  await page.fill('#token', 'not-the-key');
  await page.click('#sign-in-form button[type=submit]');
  const error = page.locator('#sign-in-error');
  await error.filter({ hasText: 'missing or invalid credentials' }).waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(await page.locator('#dashboard').isHidden(), true);
  await snap('wrong-key');
});

test('the key signs in and is kept in sessionStorage only', async () => {
  await page.fill('#token', node.key);
  await page.click('#sign-in-form button[type=submit]');
  await card().waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('nomad-iis-token')), node.key);
  const cookies = await page.context().cookies();
  assert.deepEqual(cookies, []);
});

test('the task list shows the pool with its state, workers, CPU and memory', async () => {
  await card().locator('h2').filter({ hasText: 'static-app / app' }).waitFor();
  await poolRow().locator('td.state').filter({ hasText: 'Started' }).waitFor();
  const cells = await poolRow().locator('td').allTextContents();
  assert.match(cells[2], /^\d+/, `workers: ${cells[2]}`);
  assert.match(cells[3], /%$/);
  assert.match(cells[4], /(B|KiB|MiB)$/);
  // Traffic on the site shows in the requests-per-second chart.
  for (let i = 0; i < 40; i++) await site(node.app);
  const legend = page.locator(`#rps-legend li[data-series^="static-app/app"]`);
  await until('a rate above 0', async () => {
    for (let i = 0; i < 10; i++) await site(node.app);
    const text = await legend.textContent();
    return /: [1-9][\d.]* req\/s|: 0\.[1-9]/.test(text) && text;
  });
  await snap('tasks');
});

test('stop answers 503 on the site, start 200, recycle replaces the worker', async () => {
  await poolAction('Stop');
  await poolRow().locator('td.state').filter({ hasText: 'Stopped' }).waitFor();
  assert.equal((await site(node.app)).status, 503);
  await snap('stopped');
  await poolAction('Start');
  await poolRow().locator('td.state').filter({ hasText: 'Started' }).waitFor();
  await until('the site to serve', async () => (await site(node.app)).status === 200);
  const before = (await poolRow().locator('td').nth(2).textContent()).trim();
  await poolAction('Recycle');
  assert.equal((await site(node.app)).status, 200);
  await until('a new worker after the recycle', async () => {
    const now = (await poolRow().locator('td').nth(2).textContent()).trim();
    return /^\d/.test(now) && now !== before;
  });
});

test('a cancelled confirmation changes nothing', async () => {
  await poolRow().getByRole('button', { name: 'Stop', exact: true }).click();
  await page.locator('#confirm-cancel').click();
  await sleep(500);
  assert.equal((await site(node.app)).status, 200);
  assert.equal(await poolRow().locator('td.state').textContent(), 'Started');
});

test('a screenshot thumbnail appears', async () => {
  await card().getByRole('button', { name: 'Screenshot' }).click();
  const img = card().locator('img.shot');
  await img.waitFor({ state: 'visible', timeout: 60000 });
  const width = await until('the image to load', () => img.evaluate((i) => i.complete && i.naturalWidth));
  assert.ok(width >= 640, `screenshot width ${width}`);
  await snap('screenshot');
});

test('a process dump downloads as an ELF core of the worker', async () => {
  await poolRow().getByRole('button', { name: 'Dump', exact: true }).click();
  const [dump] = await Promise.all([page.waitForEvent('download', { timeout: 120000 }),
    page.locator('#confirm-ok').click()]);
  assert.match(dump.suggestedFilename(), /procdump.*\.core$/);
  const head = fs.readFileSync(await dump.path()).subarray(0, 4);
  assert.deepEqual([...head], [0x7f, 0x45, 0x4c, 0x46]);
  await card().locator('.note').filter({ hasText: 'dump: saved' }).waitFor();
  assert.equal((await site(node.app)).status, 200);
});

test('the file browser lists folders', async () => {
  await card().getByRole('button', { name: 'Files' }).click();
  await fileRow('local').waitFor();
  assert.equal(await fileRow('secrets').count(), 0);
  await fileRow('local').getByRole('button', { name: 'local/' }).click();
  await fileRow('index.html').waitFor();
  const size = fs.statSync(path.join(node.taskDir, 'local/index.html')).size;
  assert.match(await fileRow('index.html').locator('td').nth(2).textContent(), new RegExp(`^${size} B$`));
  await snap('files');
});

test('a zip dropped on the folder uploads with progress and the site serves it', async () => {
  // A real zip (Python's zipfile): a page and 6 MiB that does not compress.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'nomad-iis-ui-zip-'));
  const zipPath = path.join(tmp, 'upload.zip');
  execFileSync('python3', ['-c', `import os, zipfile, sys
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('dropped/hello.html', '<p>dropped by the dashboard</p>')
    z.writestr('dropped/blob.bin', os.urandom(6 << 20))`, zipPath]);
  const bytes = fs.readFileSync(zipPath).toString('base64');
  fs.rmSync(tmp, { recursive: true, force: true });
  // The upload is throttled so its progress can be seen on the way.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 3 << 20 });
  await page.evaluate(() => {
    window.progressSeen = [];
    const bar = document.querySelector('#files progress');
    new MutationObserver(() => window.progressSeen.push([bar.value, bar.max]))
      .observe(bar, { attributes: true, attributeFilter: ['value', 'max'] });
  });
  await page.locator('#files select').selectOption('PATCH');
  await page.evaluate((b64) => {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([raw], 'upload.zip', { type: 'application/zip' }));
    const drop = document.querySelector('#files .drop');
    drop.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    drop.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.locator('#files .note').filter({ hasText: /uploading upload\.zip: [1-9]\d? %/ }).waitFor();
  await snap('uploading');
  await page.locator('#files .note').filter({ hasText: 'uploaded upload.zip' }).waitFor({ timeout: 60000 });
  await cdp.send('Network.emulateNetworkConditions',
    { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  const seen = await page.evaluate(() => window.progressSeen);
  assert.ok(seen.some(([v, m]) => v > 0 && v < m), `no progress between 0 and the end: ${JSON.stringify(seen)}`);
  assert.ok(seen.some(([v, m]) => m > 6e6 && v === m), 'the bar never reached its end');
  await fileRow('dropped').waitFor();
  const served = await site(node.app + 'dropped/hello.html');
  assert.deepEqual(served, { status: 200, body: '<p>dropped by the dashboard</p>' });
  await snap('uploaded');
});

test('a file and a folder download', async () => {
  const [file] = await Promise.all([page.waitForEvent('download'),
    fileRow('index.html').getByRole('button', { name: 'Download' }).click()]);
  assert.equal(file.suggestedFilename(), 'index.html');
  const got = fs.readFileSync(await file.path(), 'utf8');
  assert.equal(got, fs.readFileSync(path.join(node.taskDir, 'local/index.html'), 'utf8'));
  assert.equal(got, (await site(node.app)).body);
  const [zip] = await Promise.all([page.waitForEvent('download'),
    fileRow('dropped').getByRole('button', { name: 'Download zip' }).click()]);
  assert.equal(zip.suggestedFilename(), 'dropped.zip');
  const listing = execFileSync('unzip', ['-l', await zip.path()], { encoding: 'utf8' });
  assert.match(listing, /hello\.html/);
  assert.match(listing, /blob\.bin/);
});

test('a delete removes the folder from the site', async () => {
  await fileRow('dropped').getByRole('button', { name: 'Delete' }).click();
  await page.locator('#confirm-ok').click();
  await page.locator('#files .note').filter({ hasText: 'deleted local/dropped' }).waitFor();
  assert.equal(await fileRow('dropped').count(), 0);
  assert.equal(fs.existsSync(path.join(node.taskDir, 'local/dropped')), false);
  assert.equal((await site(node.app + 'dropped/hello.html')).status, 404);
  await snap('deleted');
});

test('a refused upload shows the API\'s own message', async () => {
  // Not a zip at all: the API refuses it, and the page shows its message.
  const garbage = 'this is not a zip archive';
  const direct = await fetch(`${node.mgmt}/api/v1/allocs/${node.allocId}/app/fs/local`,
    { method: 'PATCH', headers: { 'X-Api-Key': node.key, 'Content-Type': 'application/zip' }, body: garbage });
  const refused = await direct.json();
  assert.equal(direct.status, 400);
  await page.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'broken.zip', { type: 'application/zip' }));
    document.querySelector('#files .drop').dispatchEvent(
      new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, garbage);
  await page.locator('#files .error').filter({ hasText: refused.message }).waitFor();
  assert.equal((await site(node.app)).status, 200);
  await snap('refused-upload');
});

test('a JWT signs in as a Bearer token; a capability it lacks shows the API\'s 403 message', async () => {
  const token = jwt(['Status']);
  await page.click('#sign-out');
  await page.locator('#sign-in').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  await poolRow().locator('td.state').filter({ hasText: 'Started' }).waitFor();
  assert.equal(await page.textContent('#who'), 'signed in with a JWT');
  await poolRow().getByRole('button', { name: 'Stop', exact: true }).click();
  await page.locator('#confirm-ok').click();
  await card().locator('.error').filter({ hasText: 'the credentials lack the AppPoolLifecycle capability' }).waitFor();
  assert.equal((await site(node.app)).status, 200);
  const bearer = requests.filter(([, h]) => h.authorization === `Bearer ${token}`);
  assert.ok(bearer.length > 0, 'no request carried the JWT as a Bearer token');
  assert.ok(requests.every(([url]) => !url.includes(token)), 'the JWT went into a URL');
  await snap('jwt-forbidden');
});

test('the credentials went only in headers, never in a URL', async () => {
  const api = requests.filter(([url]) => new URL(url).pathname.startsWith('/api/v1/'));
  assert.ok(api.length > 20, `only ${api.length} API requests`);
  for (const [url, headers] of requests) {
    assert.ok(!url.includes(node.key), `the key is in ${url}`);
    assert.ok(!headers.cookie, `a cookie went to ${url}`);
  }
  const signedIn = api.filter(([, h]) => h['x-api-key'] === node.key);
  const wrong = api.filter(([, h]) => h['x-api-key'] === 'not-the-key');
  const bearer = api.filter(([, h]) => /^Bearer /.test(h.authorization ?? ''));
  assert.equal(signedIn.length + wrong.length + bearer.length, api.length,
    'an API request without credentials in a header');
  assert.equal(wrong.length, 1);
});
