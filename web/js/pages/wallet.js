// Wallet: balance and earnings, the transaction history (paged by cursor), how credits are
// added, and for admins the form that credits an account.
import { api } from '../api.js';
import { h, clear, usd, time, loading, errorBox, emptyState, pageHeader, field, fieldError, announce } from '../ui.js';

const PAGE_SIZE = 25;
const AMOUNT = /^\d+(\.\d{1,6})?$/;
const TYPES = {
  deposit: 'Deposit',
  charge: 'Charge',
  refund: 'Refund',
  earning: 'Earning',
  refund_issued: 'Refund issued',
};

export function walletPage(section, { me }) {
  const summary = h('div', { class: 'stats' });
  const history = h('div', { class: 'transactions' });
  section.append(
    pageHeader('Wallet', 'Your balance pays for the tools your agents call. All your keys share it.'),
    summary,
    h('section', { class: 'card', 'aria-labelledby': 'tx-title' }, h('h2', { id: 'tx-title' }, 'Transactions'), history),
    addCredits(me, () => {
      loadSummary();
      loadHistory();
    }));

  async function loadSummary() {
    clear(summary, loading('balance'));
    try {
      const wallet = await api.get('/api/v1/wallet');
      clear(summary,
        stat('Balance', usd(wallet.balance), 'Available for your agents'),
        stat('Earnings', usd(wallet.earnings), 'From your tools, as a provider'));
    } catch (error) {
      clear(summary, errorBox(error, loadSummary));
    }
  }

  // First page, or the next one appended after `cursor`.
  async function loadHistory(cursor, table) {
    const more = history.querySelector('.more');
    if (!cursor) clear(history, loading('transactions'));
    else more.replaceChildren(loading('more transactions'));
    try {
      const query = new URLSearchParams({ limit: PAGE_SIZE });
      if (cursor) query.set('cursor', cursor);
      const page = await api.get(`/api/v1/wallet/transactions?${query}`);
      if (!cursor && !page.transactions.length) {
        clear(history, emptyState('No transactions yet', 'Deposits, charges for tool calls, refunds and earnings appear here.'));
        return;
      }
      if (!table) {
        table = h('tbody');
        clear(history, h('table', { class: 'table' },
          h('caption', { class: 'visually-hidden' }, 'Transactions, newest first'),
          h('thead', {}, h('tr', {}, ['Date', 'Type', 'Details', 'Amount'].map((t) =>
            h('th', { scope: 'col', class: t === 'Amount' ? 'num' : null }, t)))),
          table));
      } else {
        more.remove();
      }
      table.append(...page.transactions.map(txRow));
      if (page.next_cursor) {
        const button = h('button', { type: 'button', class: 'secondary' }, 'Show older transactions');
        button.addEventListener('click', () => loadHistory(page.next_cursor, table));
        history.append(h('div', { class: 'more' }, button));
        if (cursor) button.focus();
      } else if (cursor) {
        announce('No older transactions.');
      }
    } catch (error) {
      if (!cursor) clear(history, errorBox(error, () => loadHistory()));
      else clear(more, errorBox(error, () => loadHistory(cursor, table)));
    }
  }

  loadSummary();
  loadHistory();
}

function stat(label, value, note) {
  return h('div', { class: 'stat' }, h('p', { class: 'stat-label' }, label), h('p', { class: 'stat-value' }, value),
    note && h('p', { class: 'stat-note' }, note));
}

function txRow(tx) {
  const details = [
    tx.tool && h('span', {}, 'Tool ', h('code', {}, tx.tool)),
    tx.key_display && h('span', {}, 'Key ', h('code', {}, tx.key_display)),
    tx.refund_of && h('span', {}, 'Refund of ', h('code', {}, tx.refund_of)),
    tx.note && h('span', {}, tx.note),
  ].filter(Boolean);
  const negative = String(tx.amount).startsWith('-');
  return h('tr', {},
    h('td', { 'data-label': 'Date' }, time(tx.created_at)),
    h('td', { 'data-label': 'Type' }, h('span', { class: `tag ${tx.type}` }, TYPES[tx.type] || tx.type)),
    h('td', { 'data-label': 'Details', class: 'details' }, details.length ? details : '—'),
    h('td', { 'data-label': 'Amount', class: `num ${negative ? 'negative' : 'positive'}` },
      negative ? usd(tx.amount) : `+${usd(tx.amount)}`));
}

function addCredits(me, onOwnCredit) {
  const card = h('section', { class: 'card', 'aria-labelledby': 'credits-title' },
    h('h2', { id: 'credits-title' }, 'Add credits'),
    h('p', {}, 'Credits are added by an administrator of this Tollgate server. Ask yours to credit ',
      h('strong', {}, me.email), '; the deposit then shows above, and your agents can pay for tools at once.'));
  if (!me.is_admin) return card;

  const email = field('Account email', { type: 'email', name: 'email', autocomplete: 'off', required: true, value: me.email });
  const amount = field('Amount (USD)', { type: 'text', inputmode: 'decimal', name: 'amount', autocomplete: 'off',
    required: true, placeholder: '10.00' });
  const note = field('Note (optional)', { type: 'text', name: 'note', maxlength: 200, autocomplete: 'off',
    placeholder: 'e.g. Invoice 1042' });
  const status = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Add credits');
  const form = h('form', { novalidate: true, class: 'admin-form' },
    h('div', { class: 'inline-fields' }, email.wrap, amount.wrap), note.wrap, status, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fieldError(email.input, '');
    fieldError(amount.input, '');
    const body = { email: email.input.value.trim(), amount: amount.input.value.trim().replace(/^\$/, '') };
    if (!body.email.includes('@')) return invalid(email.input, 'Enter the email address of the account to credit.');
    if (!AMOUNT.test(body.amount) || !/[1-9]/.test(body.amount)) {
      return invalid(amount.input, 'Enter an amount in dollars greater than zero, like 10 or 10.00.');
    }
    if (note.input.value.trim()) body.note = note.input.value.trim();
    submit.disabled = true;
    status.replaceChildren();
    try {
      const result = await api.post('/api/v1/admin/credits', body);
      status.replaceChildren(h('p', { class: 'notice success', role: 'status' },
        `Added ${usd(body.amount)} to ${body.email}. Their balance is now ${usd(result.balance)}.`));
      amount.input.value = '';
      note.input.value = '';
      if (body.email.toLowerCase() === me.email.toLowerCase()) onOwnCredit();
    } catch (error) {
      status.replaceChildren(errorBox(error));
    } finally {
      submit.disabled = false;
    }
  });
  card.append(h('h3', {}, 'Credit an account (admin)'), form);
  return card;
}

function invalid(input, message) {
  fieldError(input, message);
  input.focus();
}
