// The seed flow of the product documentation (agent-api-keys), in a real browser and by the
// names a person sees: sign up, API Keys in the sidebar, Create Key, name it, copy it once,
// see sk_live_... + last 4, use it against the charge API, delete it with a confirmation,
// see it gone, and get TOKEN_INVALID with it; the charge shows on Wallet and Usage; a second
// account sees none of it.
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Platform, launchBrowser, openPage, reportFailure, screenshot, sessionToken, signUpInBrowser, signInInBrowser, sidebarLink, textOf, until,
} from './harness.mjs';

const OWNER = 'owner@example.com';
const PROVIDER = 'provider@example.com';
const TOOL = 'weather.forecast';

describe('dashboard seed flow', { timeout: 180000 }, () => {
  let platform;
  let browser;
  let page;
  let key;            // the full agent key, seen once in the create dialog
  let keyId;
  let providerKey;

  before(async () => {
    platform = await Platform.start();
    browser = await launchBrowser();
    page = await openPage(browser, platform, { clipboard: true });
  });

  afterEach(async (t) => {
    if (!t.passed) await reportFailure(page, t.name);
  });

  after(async () => {
    await browser?.close();
    await platform?.stop();
  });

  it('signs up and lands on API Keys, reachable from the sidebar', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await screenshot(page, 'signin');
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await screenshot(page, 'signup');
    await page.getByLabel('Email').fill(OWNER);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'API Keys', level: 1 }).waitFor();

    await sidebarLink(page, 'Wallet').click();
    await page.getByRole('heading', { name: 'Wallet', level: 1 }).waitFor();
    await sidebarLink(page, 'API Keys').click();
    await page.getByRole('heading', { name: 'API Keys', level: 1 }).waitFor();
    assert.equal(new URL(page.url()).pathname, '/keys');
    assert.equal(await sidebarLink(page, 'API Keys').getAttribute('aria-current'), 'page');
    await page.getByText('No API keys yet').waitFor();
    await screenshot(page, 'keys-empty');
  });

  it('creates a key, shows it once with Copy and the warning, and lists only sk_live_... + last 4', async () => {
    await page.getByRole('button', { name: 'Create Key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create API key' });
    await dialog.waitFor();
    await dialog.getByLabel('Name').fill('Production');
    await screenshot(page, 'keys-create');
    await dialog.getByRole('button', { name: 'Create', exact: true }).click();

    const created = page.getByRole('dialog', { name: 'Key “Production” created' });
    await created.waitFor();
    key = await created.getByLabel('Your new API key').inputValue();
    assert.match(key, /^sk_live_[0-9a-f]{64}$/);
    assert.match(await textOf(created), /cannot be shown again/);

    await created.getByRole('button', { name: 'Copy key' }).click();
    await until(async () => (await textOf(created.getByRole('button', { name: 'Copy key' }))) === 'Copied', 'the Copied label');
    const clipboard = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(clipboard, key, 'the clipboard holds the full key');
    await screenshot(page, 'keys-created-once');

    await created.getByRole('button', { name: 'Done' }).click();
    await created.waitFor({ state: 'detached' });
    assert.ok(!(await page.content()).includes(key), 'the full key is gone from the page after the dialog');

    const row = page.getByRole('row', { name: /Production/ });
    await row.waitFor();
    const rowText = await textOf(row);
    assert.ok(rowText.includes(`sk_live_...${key.slice(-4)}`), rowText);
    assert.ok(!rowText.includes(key.slice(8, 20)), 'the list shows no more of the key than its last 4');
    assert.match(rowText, /Never/);

    // The list after a reload comes from the server, and still never holds the key.
    await page.reload();
    await page.getByRole('row', { name: /Production/ }).waitFor();
    assert.ok(!(await page.content()).includes(key));
    const keys = await platform.api('GET', '/api/v1/keys', { token: await sessionToken(page) });
    assert.equal(keys.body.keys.length, 1);
    keyId = keys.body.keys[0].id;
    await screenshot(page, 'keys-list');
  });

  it('the key pays for a tool call through the charge API', async () => {
    // A provider (another account) charges the agent key; the first account is the admin
    // and credits itself.
    const providerSession = await platform.signup(PROVIDER);
    const pk = await platform.api('POST', '/api/v1/provider-keys', { token: providerSession, body: { name: 'weather server' } });
    assert.equal(pk.status, 201, pk.text);
    providerKey = pk.body.key;
    const credit = await platform.api('POST', '/api/v1/admin/credits',
      { token: await sessionToken(page), body: { email: OWNER, amount: '5.00', note: 'seed' } });
    assert.equal(credit.status, 201, credit.text);

    const charge = await platform.api('POST', '/api/v1/charge',
      { token: providerKey, body: { agent_token: key, tool: TOOL, amount: '0.01' } });
    assert.equal(charge.status, 200, charge.text);
    assert.equal(charge.body.amount, '0.01');
    assert.equal(charge.body.tool, TOOL);
  });

  it('the wallet shows the balance, the deposit and the charge', async () => {
    await sidebarLink(page, 'Wallet').click();
    await page.getByRole('heading', { name: 'Wallet', level: 1 }).waitFor();
    await until(async () => (await page.getByText('$4.99').count()) > 0, 'the balance $4.99');
    const charge = page.getByRole('row', { name: /Charge/ });
    await charge.waitFor();
    const chargeText = await textOf(charge);
    assert.ok(chargeText.includes(TOOL) && chargeText.includes('-$0.01') && chargeText.includes(`sk_live_...${key.slice(-4)}`), chargeText);
    assert.match(await textOf(page.getByRole('row', { name: /Deposit/ })), /\+\$5\.00/);
    // The admin sees the credit form.
    await page.getByRole('heading', { name: 'Credit an account (admin)' }).waitFor();
    await screenshot(page, 'wallet');
  });

  it('usage charts the spend over time per key and per tool, with totals', async () => {
    await sidebarLink(page, 'Usage').click();
    await page.getByRole('heading', { name: 'Usage', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Spend over time' }).waitFor();
    // By key first: one series, named after the key, in the chart and its legend.
    assert.equal(await page.getByRole('radio', { name: 'By key' }).isChecked(), true);
    const chart = page.getByRole('img', { name: /Spend per day by key/ });
    await chart.waitFor();
    assert.match(await chart.getAttribute('aria-label'), /\$0\.01 in total/);
    assert.equal(await textOf(page.getByRole('list', { name: 'Keys in the chart' })), `Production sk_live_...${key.slice(-4)} $0.01 · 1 call`);
    // By tool: the same spend under the tool's name.
    await page.getByRole('radio', { name: 'By tool' }).check();
    await page.getByRole('img', { name: /Spend per day by tool/ }).waitFor();
    assert.equal(await textOf(page.getByRole('list', { name: 'Tools in the chart' })), `${TOOL} $0.01 · 1 call`);
    await page.getByRole('radio', { name: 'By key' }).check();
    await chart.waitFor();
    // The totals per key and per tool.
    const perKey = page.getByRole('table', { name: 'Spend per key' });
    assert.match(await textOf(perKey.getByRole('row', { name: /Production/ })), /1 \$0\.01/);
    const perTool = page.getByRole('table', { name: 'Spend per tool' });
    assert.match(await textOf(perTool.getByRole('row', { name: new RegExp(TOOL.replace('.', '\\.')) })), /1 \$0\.01/);
    await screenshot(page, 'usage');
  });

  it('API Keys shows when the key was last used', async () => {
    await sidebarLink(page, 'API Keys').click();
    await until(async () => {
      await page.reload();
      const row = page.getByRole('row', { name: /Production/ });
      await row.waitFor();
      return !(await textOf(row)).includes('Never');
    }, 'a last-used time on the key', 15000);
  });

  it('deletes the key after a confirmation; it is gone at once and then TOKEN_INVALID', async () => {
    const row = page.getByRole('row', { name: /Production/ });
    await row.getByRole('button', { name: 'Delete' }).click();
    const confirm = page.getByRole('dialog', { name: 'Delete key “Production”?' });
    await confirm.waitFor();
    assert.match(await textOf(confirm), /TOKEN_INVALID/);
    await screenshot(page, 'keys-delete-confirm');

    // Cancel keeps it.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('row', { name: /Production/ }).count(), 1);

    await row.getByRole('button', { name: 'Delete' }).click();
    await confirm.getByRole('button', { name: 'Delete key' }).click();
    await confirm.waitFor({ state: 'detached' });
    // Gone from the list without a reload.
    assert.equal(await page.getByRole('row', { name: /Production/ }).count(), 0);
    await page.getByText('No API keys yet').waitFor();
    await screenshot(page, 'keys-deleted');

    const charge = await platform.api('POST', '/api/v1/charge',
      { token: providerKey, body: { agent_token: key, tool: TOOL, amount: '0.01' } });
    assert.equal(charge.status, 401, charge.text);
    assert.equal(charge.body.error.code, 'TOKEN_INVALID');
    const gone = await platform.api('GET', '/api/v1/keys', { token: await sessionToken(page) });
    assert.deepEqual(gone.body.keys, []);
  });

  it('usage still counts the deleted key’s spend, in the chart and the totals', async () => {
    await sidebarLink(page, 'Usage').click();
    const perKey = page.getByRole('table', { name: 'Spend per key' });
    await perKey.waitFor();
    const deleted = `Deleted key sk_live_...${key.slice(-4)}`;
    assert.match(await textOf(perKey), new RegExp(`${deleted.replace(/\./g, '\\.')} 1 \\$0\\.01`));
    assert.equal(await textOf(page.getByRole('list', { name: 'Keys in the chart' })), `${deleted} $0.01 · 1 call`);
    assert.ok((await page.getByRole('img', { name: /Spend per day by key/ }).getAttribute('aria-label')).includes(`${deleted}: $0.01`));
  });

  it('a second account sees none of the first account’s keys', async () => {
    // A key the second account could be shown by mistake.
    await sidebarLink(page, 'API Keys').click();
    await page.getByRole('button', { name: 'Create Key' }).click();
    await page.getByRole('dialog', { name: 'Create API key' }).getByLabel('Name').fill('Owner only');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    const created = page.getByRole('dialog', { name: /created/ });
    await created.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('row', { name: /Owner only/ }).waitFor();
    const ownerKeys = await platform.api('GET', '/api/v1/keys', { token: await sessionToken(page) });
    const ownerKeyId = ownerKeys.body.keys[0].id;

    const other = await openPage(browser, platform);
    try {
      await signInInBrowser(other, PROVIDER);
      await other.getByText('No API keys yet').waitFor();
      assert.equal(await other.getByRole('row', { name: /Owner only|Production/ }).count(), 0);
      assert.ok(!(await textOf(other.locator('main'))).includes('Owner only'));
      await screenshot(other, 'keys-second-account');
      // Nor through the API: listing, or deleting by id.
      const token = await sessionToken(other);
      const list = await platform.api('GET', '/api/v1/keys', { token });
      assert.deepEqual(list.body.keys, []);
      const del = await platform.api('DELETE', `/api/v1/keys/${ownerKeyId}`, { token });
      assert.equal(del.status, 404);
      // The provider sees its earnings from the charge and its calls per tool.
      await sidebarLink(other, 'Provider').click();
      await other.getByRole('heading', { name: 'Provider', level: 1 }).waitFor();
      await other.getByRole('row', { name: /weather server/ }).waitFor();
      const perTool = other.getByRole('table', { name: 'Calls and earnings per tool' });
      assert.match(await textOf(perTool), /weather\.forecast 1 \$0\.01/);
      // Earnings per tool over time: the same chart, by tool only.
      await other.getByRole('img', { name: /Earnings per day by tool/ }).waitFor();
      assert.equal(await textOf(other.getByRole('list', { name: 'Tools in the chart' })), `${TOOL} $0.01 · 1 call`);
      assert.equal(await other.getByRole('radio').count(), 0);
      await until(async () => (await other.getByText('$0.01').count()) > 0, 'the provider earnings');
      await screenshot(other, 'provider');
      assert.deepEqual(other.consoleErrors, []);
    } finally {
      await other.context().close();
    }
    // The owner's key is untouched.
    await page.reload();
    await page.getByRole('row', { name: /Owner only/ }).waitFor();
    assert.ok(keyId);
  });

  it('signs out, ending the session on the server', async () => {
    const token = await sessionToken(page);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByText('You are signed out.').waitFor();
    assert.equal((await platform.api('GET', '/api/v1/me', { token })).status, 401);
    // A reload stays signed out, without even asking the server.
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  });

  // A test, not an after() hook: node:test does not fail a run on a hook's assertion.
  it('left nothing in the browser console: no errors, no warnings', () => {
    assert.deepEqual(page.consoleErrors, []);
  });
});
