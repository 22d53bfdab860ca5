// Shared by the dashboard browser tests: starts the real `tollgate serve` on port 0 with its
// own SQLite file, drives Debian's chromium through playwright-core, speaks the REST API
// like a script would, and waits on conditions with deadlines (never fixed sleeps).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_DIR = process.env.TOLLGATE_SOURCE_DIR || path.resolve(here, '../../..');
const BINARY = process.env.TOLLGATE_BINARY || path.join(SOURCE_DIR, 'build', 'tollgate');
const PLAYWRIGHT = path.join(SOURCE_DIR, 'tests/npm/node_modules/playwright-core/index.mjs');
const CHROMIUM = process.env.TOLLGATE_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOT_DIR = path.join(SOURCE_DIR, 'test-results', 'screenshots');

// The flags keep chromium off the network: this machine has none, and the background
// services it would otherwise start log errors and slow the start.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

export const PASSWORD = 'correct horse battery';

// Polls `fn` until it returns a truthy value; fails with `what` (or what it returns, if it is
// a function: the last value seen, say) after the deadline.
export async function until(fn, what, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${last ? `: ${last.message}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export class Platform {
  static async start() {
    if (!fs.existsSync(BINARY)) throw new Error(`${BINARY} is missing: build it with scripts/build tollgate`);
    const platform = new Platform();
    platform.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-dashboard-'));
    platform.stderr = '';
    platform.child = spawn(BINARY, ['serve', '--listen', '127.0.0.1:0', '--db', `sqlite:${platform.dir}/tollgate.db`],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    platform.child.stderr.on('data', (chunk) => {
      platform.stderr = (platform.stderr + chunk).slice(-20000);
    });
    let stdout = '';
    platform.url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tollgate serve did not print its address:\n${platform.stderr}`)), 30000);
      platform.child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      });
      platform.child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tollgate serve exited with ${code}:\n${platform.stderr}`));
      });
    });
    return platform;
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(timer);
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // One REST call; returns {status, body (parsed JSON or null), headers}.
  async api(method, pathname, { token, body, headers = {} } = {}) {
    const response = await fetch(this.url + pathname, {
      method,
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, body: json, text, headers: response.headers };
  }

  // Signs up through the REST API (for accounts the browser does not need to create).
  async signup(email) {
    const r = await this.api('POST', '/api/v1/auth/signup', { body: { email, password: PASSWORD } });
    if (r.status !== 201) throw new Error(`signup ${email}: ${r.status} ${r.text}`);
    return r.body.session_token;
  }
}

// A headless chromium; every context from it is a separate, fresh profile (cookies etc.).
export async function launchBrowser() {
  const { chromium } = await import(PLAYWRIGHT);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

// A new browser profile and page that records console errors and uncaught exceptions.
export async function openPage(browser, platform, { viewport = { width: 1280, height: 860 }, clipboard = false } = {}) {
  const context = await browser.newContext({ viewport, baseURL: platform.url, locale: 'en-US', timezoneId: 'UTC' });
  if (clipboard) await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: platform.url });
  const page = await context.newPage();
  page.setDefaultTimeout(30000);  // generous: other builds and tests share two cores
  page.consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') page.consoleErrors.push(`${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => page.consoleErrors.push(`uncaught: ${error.message}`));
  return page;
}

// The whole page; with a dialog open, the window only (a modal's backdrop covers the window).
export async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const modal = (await page.locator('dialog[open]').count()) > 0;
  await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: !modal });
}

// After a failed test: what the page showed (address, open dialogs, the focused element,
// console errors) on stderr and a screenshot `failed-NAME.png`, so that a failure seen once
// in CI can be understood afterwards. Then it closes open dialogs, so that one stuck modal
// does not make every later test of the suite time out on its clicks.
export async function reportFailure(page, name) {
  if (!page || page.isClosed()) return;
  try {
    const state = await page.evaluate(() => {
      const el = document.activeElement;
      const text = (e) => (e.tagName === 'INPUT' || e.tagName === 'TEXTAREA' ? e.value : e.textContent).trim().slice(0, 80);
      const describe = (e) => e ? `${e.tagName} ${e.getAttribute('aria-label') || text(e)}` : 'none';
      return {
        url: location.href,
        dialogs: [...document.querySelectorAll('dialog')].map((d) => `${d.open ? 'open' : 'closed'}: ${d.querySelector('h2')?.textContent ?? '(no heading)'}`),
        focused: describe(el),
        busy: [...document.querySelectorAll('[aria-busy="true"]')].length,
        announcer: document.getElementById('announcer')?.textContent ?? '',
      };
    });
    console.error(`failed "${name}": ${JSON.stringify(state)}; console: ${JSON.stringify(page.consoleErrors ?? [])}`);
    fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const file = `failed-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.png`;
    await page.screenshot({ path: path.join(SCREENSHOT_DIR, file), timeout: 5000 });
    console.error(`  screenshot: ${path.join(SCREENSHOT_DIR, file)}`);
    await page.evaluate(() => document.querySelectorAll('dialog[open]').forEach((d) => d.close()));
  } catch (error) {
    console.error(`failed "${name}": could not read the page: ${error.message}`);
  }
}

// The session token of a signed-in browser profile, for REST calls as the same account.
export async function sessionToken(page) {
  const cookie = (await page.context().cookies()).find((c) => c.name === 'tollgate_session');
  if (!cookie) throw new Error('the browser has no session cookie');
  return cookie.value;
}

export async function signUpInBrowser(page, email) {
  await page.goto('/');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await page.getByRole('link', { name: 'Create an account' }).click();
  await page.getByRole('heading', { name: 'Create your account' }).waitFor();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'API Keys', level: 1 }).waitFor();
}

export async function signInInBrowser(page, email) {
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'API Keys', level: 1 }).waitFor();
}

export function sidebarLink(page, name) {
  return page.getByRole('navigation', { name: 'Dashboard' }).getByRole('link', { name, exact: true });
}

// Text of a locator with whitespace collapsed, for comparisons.
export async function textOf(locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}
