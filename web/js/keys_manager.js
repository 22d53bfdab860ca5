// The create / copy-once / list / delete flow, shared by agent keys (API Keys page) and
// provider keys (Provider page). The full key exists only in the create dialog: it is
// never stored, and closing the dialog removes it from the page.
import { api } from './api.js';
import {
  h, clear, icon, time, limitText, announce, loading, errorBox, emptyState, openDialog, copyButton,
  field, fieldError,
} from './ui.js';

const MAX_NAME = 64;  // src/platform/keys_api.cpp kMaxKeyNameChars
const AMOUNT = /^\d+(\.\d{1,6})?$/;

// config: {endpoint, createLabel, title (dialog), noun, caption, spendLimit, empty: [title, text]}
// Returns {createButton, list}: the page puts the button where it fits its layout.
export function keyManager(config) {
  const list = h('div', { class: 'key-list', 'aria-busy': 'true' });
  const createButton = h('button', { type: 'button', class: 'primary' }, icon('plus'), config.createLabel);
  let keys = [];

  async function load() {
    list.setAttribute('aria-busy', 'true');
    clear(list, loading(config.caption.toLowerCase()));
    try {
      keys = (await api.get(config.endpoint)).keys;
      draw();
    } catch (error) {
      clear(list, errorBox(error, load));
    } finally {
      list.setAttribute('aria-busy', 'false');
    }
  }

  function draw() {
    if (!keys.length) {
      clear(list, emptyState(config.empty[0], config.empty[1]));
      return;
    }
    const headers = ['Name', 'Key', 'Created', 'Last used', config.spendLimit && 'Spend limit'].filter(Boolean);
    clear(list, h('table', { class: 'table keys' },
      h('caption', { class: 'visually-hidden' }, config.caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', {}, keys.map(row))));
  }

  function row(key) {
    const remove = h('button', { type: 'button', class: 'danger-ghost', 'aria-label': `Delete key ${key.name}` },
      icon('trash'), h('span', {}, 'Delete'));
    remove.addEventListener('click', () => confirmDelete(key));
    return h('tr', {},
      h('th', { scope: 'row', 'data-label': 'Name' }, key.name),
      h('td', { 'data-label': 'Key' }, h('code', {}, key.display)),
      h('td', { 'data-label': 'Created' }, time(key.created_at)),
      h('td', { 'data-label': 'Last used' }, time(key.last_used_at, 'Never')),
      config.spendLimit && h('td', { 'data-label': 'Spend limit' }, limitText(key.spend_limit)),
      h('td', { class: 'row-actions' }, remove));
  }

  function confirmDelete(key) {
    const status = h('div');
    const cancel = h('button', { type: 'button', class: 'secondary', autofocus: true }, 'Cancel');
    const confirm = h('button', { type: 'button', class: 'danger' }, icon('trash'), 'Delete key');
    const dialog = openDialog({
      title: `Delete key “${key.name}”?`,
      body: [
        h('p', {}, 'The key ', h('code', {}, key.display), ' stops working at once.'),
        h('p', {}, 'Deleting a key is immediate and permanent. Any agents still using it will receive ',
          h('code', {}, 'TOKEN_INVALID'), ' errors. Deleted keys cannot be recovered.'),
        status,
        h('div', { class: 'dialog-actions' }, cancel, confirm),
      ],
    });
    cancel.addEventListener('click', () => dialog.close());
    confirm.addEventListener('click', async () => {
      confirm.disabled = cancel.disabled = true;
      confirm.lastChild.textContent = 'Deleting…';
      try {
        await api.del(`${config.endpoint}/${encodeURIComponent(key.id)}`);
      } catch (error) {
        // Already gone (deleted in another tab): the list just catches up.
        if (error.code !== 'NOT_FOUND') {
          confirm.disabled = cancel.disabled = false;
          confirm.lastChild.textContent = 'Delete key';
          clear(status, errorBox(error));
          return;
        }
      }
      keys = keys.filter((k) => k.id !== key.id);
      draw();
      dialog.close();
      createButton.focus();
      announce(`Key “${key.name}” deleted.`);
    });
  }

  function openCreate() {
    const name = field('Name', { type: 'text', name: 'name', required: true, maxlength: MAX_NAME, autocomplete: 'off', autofocus: true,
      placeholder: 'e.g. Production' }, 'A descriptive name, like “Production”, “Development” or “Claude Desktop”.');
    let limitParts = null;
    if (config.spendLimit) {
      const enable = h('input', { type: 'checkbox', id: 'limit-enable' });
      const amount = field('Amount (USD)', { type: 'text', inputmode: 'decimal', name: 'amount', placeholder: '5.00',
        autocomplete: 'off', disabled: true });
      const periodId = 'limit-period';
      const period = h('select', { id: periodId, name: 'period', disabled: true },
        h('option', { value: 'day' }, 'per day'), h('option', { value: 'month', selected: true }, 'per month'),
        h('option', { value: 'total' }, 'in total'));
      enable.addEventListener('change', () => {
        amount.input.disabled = period.disabled = !enable.checked;
        if (enable.checked) amount.input.focus();
      });
      limitParts = { enable, amount: amount.input, period };
      limitParts.wrap = h('fieldset', { class: 'limit' },
        h('legend', {}, 'Spend limit (optional)'),
        h('div', { class: 'check' }, enable, h('label', { for: 'limit-enable' }, 'Limit what this key can spend')),
        h('div', { class: 'inline-fields' }, amount.wrap,
          h('div', { class: 'field' }, h('label', { for: periodId }, 'Period'), period)));
    }
    const status = h('div');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Create');
    const form = h('form', { novalidate: true }, name.wrap, limitParts?.wrap, status,
      h('div', { class: 'dialog-actions' }, cancel, submit));
    const dialog = openDialog({ title: config.title, body: form });
    cancel.addEventListener('click', () => dialog.close());
    // Escape while the key is being created would close the only place it is ever shown.
    dialog.addEventListener('cancel', (event) => {
      if (submit.disabled && submit.isConnected) event.preventDefault();
    });

    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const body = { name: name.input.value.trim() };
      fieldError(name.input, '');
      if (!body.name) return invalid(name.input, 'Give the key a name.');
      if ([...body.name].length > MAX_NAME) return invalid(name.input, `Use at most ${MAX_NAME} characters.`);
      if (limitParts) {
        fieldError(limitParts.amount, '');
        body.spend_limit = null;
        if (limitParts.enable.checked) {
          const amount = limitParts.amount.value.trim().replace(/^\$/, '');
          if (!AMOUNT.test(amount) || !/[1-9]/.test(amount)) {
            return invalid(limitParts.amount, 'Enter an amount in dollars greater than zero, like 5 or 5.00.');
          }
          body.spend_limit = { amount, period: limitParts.period.value };
        }
      }
      submit.disabled = cancel.disabled = true;
      submit.textContent = 'Creating…';
      try {
        const created = await api.post(config.endpoint, body);
        const { key: _secret, ...listed } = created;  // the list never holds the full key
        keys = [{ ...listed, last_used_at: null }, ...keys.filter((k) => k.id !== created.id)];
        draw();
        showCreated(dialog, created);
      } catch (error) {
        submit.disabled = cancel.disabled = false;
        submit.textContent = 'Create';
        clear(status, errorBox(error));
      }
    });
  }

  function invalid(input, message) {
    fieldError(input, message);
    input.focus();
  }

  // Step two of creating: the one and only sight of the full key.
  function showCreated(dialog, created) {
    const keyId = 'new-key-value';
    // A read-only textarea shows all 72 characters (wrapped) and can be selected by hand.
    const input = h('textarea', { id: keyId, class: 'mono secret', rows: 2, readonly: true, value: created.key,
      spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'new-key-warning' });
    input.addEventListener('focus', () => input.select());
    const done = h('button', { type: 'button', class: 'primary' }, 'Done');
    done.addEventListener('click', () => dialog.close());
    const heading = dialog.querySelector('h2');
    heading.textContent = `Key “${created.name}” created`;
    clear(dialog, heading,
      h('div', { class: 'field' }, h('label', { for: keyId }, 'Your new API key'),
        h('div', { class: 'copy-row' }, input, copyButton('Copy key', created.key, input))),
      h('p', { class: 'notice warning', id: 'new-key-warning' }, icon('alert'),
        h('span', {}, h('strong', {}, 'Copy it now: this key cannot be shown again. '),
          'Store it securely. You cannot retrieve a key after creation; if you lose it, create a new one and delete the old one.')),
      h('div', { class: 'dialog-actions' }, done));
    input.focus();
    announce(`Key ${created.name} created. It is shown once: copy it now.`);
  }

  createButton.addEventListener('click', openCreate);
  load();
  return { createButton, list, reload: load };
}
