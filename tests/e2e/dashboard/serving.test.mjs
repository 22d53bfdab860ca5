// How `tollgate serve` hands out the embedded dashboard, over plain HTTP: content types,
// the Content-Security-Policy, ETags and 304s, index.html for client-side routes, 404s that
// stay 404s, GET /api/v1/setup; and that web/ itself keeps to the CSP (no inline script).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Platform, SOURCE_DIR } from './harness.mjs';

const WEB = path.join(SOURCE_DIR, 'web');

function webFiles(dir = WEB) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? webFiles(full) : [full];
  });
}

describe('dashboard serving', { timeout: 60000 }, () => {
  let platform;

  before(async () => {
    platform = await Platform.start();
  });

  after(async () => {
    await platform?.stop();
  });

  it('serves index.html at / with a strict CSP and no caching without revalidation', async () => {
    const r = await platform.api('GET', '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.match(r.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    assert.match(r.text, /<script type="module" src="\/js\/app\.js"><\/script>/);
  });

  it('answers a matching If-None-Match with 304 and no body', async () => {
    const first = await platform.api('GET', '/js/app.js');
    const etag = first.headers.get('etag');
    const again = await platform.api('GET', '/js/app.js', { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal(again.headers.get('etag'), etag);
    const other = await platform.api('GET', '/js/app.js', { headers: { 'If-None-Match': '"something-else"' } });
    assert.equal(other.status, 200);
  });

  it('gives every file its content type', async () => {
    for (const [file, type] of [['/app.css', 'text/css; charset=utf-8'], ['/js/app.js', 'text/javascript; charset=utf-8'],
      ['/js/pages/keys.js', 'text/javascript; charset=utf-8'], ['/favicon.svg', 'image/svg+xml']]) {
      const r = await platform.api('GET', file);
      assert.equal(r.status, 200, file);
      assert.equal(r.headers.get('content-type'), type, file);
      assert.equal(r.text, fs.readFileSync(path.join(WEB, file)).toString(), `${file} is the file in web/`);
    }
  });

  it('serves index.html for client-side routes, but 404 for missing files and API paths', async () => {
    const index = (await platform.api('GET', '/')).text;
    for (const route of ['/keys', '/wallet', '/setup', '/signin', '/some/deep/route']) {
      const r = await platform.api('GET', route);
      assert.equal(r.status, 200, route);
      assert.equal(r.text, index, route);
    }
    const missing = await platform.api('GET', '/js/missing.js');
    assert.equal(missing.status, 404);
    assert.doesNotMatch(missing.headers.get('content-type'), /html/);
    for (const api of ['/api/v1/nothing', '/api', '/mcp/nothing']) {
      const r = await platform.api('GET', api);
      assert.equal(r.status, 404, api);
      assert.equal(r.body.error.code, 'NOT_FOUND', api);
    }
    // The real API routes still win over the catch-all.
    assert.equal((await platform.api('GET', '/healthz')).status, 200);
    assert.equal((await platform.api('GET', '/api/v1/me')).body.error.code, 'UNAUTHENTICATED');
  });

  it('HEAD works like GET without a body', async () => {
    const r = await platform.api('HEAD', '/keys');
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
  });

  it('GET /api/v1/setup tells a signed-in account this server’s URL', async () => {
    assert.equal((await platform.api('GET', '/api/v1/setup')).status, 401);
    const token = await platform.signup('setup@example.com');
    const r = await platform.api('GET', '/api/v1/setup', { token });
    assert.equal(r.status, 200);
    assert.equal(r.body.public_url, platform.url);
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });

  it('web/ keeps to the CSP: no inline script, handlers or styles, no HTML from strings, no other origins', () => {
    for (const file of webFiles()) {
      const text = fs.readFileSync(file, 'utf8');
      const name = path.relative(WEB, file);
      if (file.endsWith('.html')) {
        for (const tag of text.match(/<script\b[^>]*>/g) || []) assert.match(tag, /\bsrc="\//, `${name}: ${tag}`);
        assert.doesNotMatch(text, /<script\b[^>]*>[^<\s]/, `${name}: inline script`);
        assert.doesNotMatch(text, /\son[a-z]+=/i, `${name}: inline event handler`);
        assert.doesNotMatch(text, /\sstyle=|<style/i, `${name}: inline style`);
      }
      if (file.endsWith('.js')) {
        assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/, `${name}: builds HTML or code from strings`);
        assert.doesNotMatch(text, /setAttribute\('style'|\.style\./, `${name}: inline style`);
      }
      // Only the SVG namespace URI may name another origin; nothing is fetched from one.
      for (const url of text.match(/https?:\/\/[^\s'"`)<]+/g) || []) {
        assert.equal(url, 'http://www.w3.org/2000/svg', `${name} refers to ${url}`);
      }
    }
  });
});
