// What each error an agent can see means and how to fix it. The TOKEN_INVALID and
// TOKEN_MISSING texts are the product documentation's own (agent-api-keys), word for word.
import { h } from './ui.js';

const configureLink = () => h('a', { href: '/setup#configure' }, 'Configuring Your Agent');

export const TROUBLESHOOTING = [
  {
    code: 'TOKEN_INVALID',
    intro: 'Your key may be:',
    items: ['Deleted from the dashboard', 'Incorrectly copied (missing characters)', 'From a different account'],
    fix: 'Create a new key and update your configuration.',
  },
  {
    code: 'TOKEN_MISSING',
    intro: 'The MCP server didn’t receive your token. Check:',
    items: ['AGENT_TOKEN environment variable is set', 'HTTP Authorization header is being sent', 'No typos in your configuration'],
    after: () => h('p', {}, 'See ', configureLink(), ' for setup help.'),
  },
  {
    code: 'INSUFFICIENT_BALANCE',
    intro: 'Your account balance is below the price of the tool. Nothing was charged and the tool did not run. Check:',
    items: ['Your balance on the Wallet page (a balance exactly equal to the price is enough)',
      'That the agent uses a key of the account you funded'],
    fix: 'Ask an administrator of this Tollgate server to add credits, then call the tool again.',
  },
  {
    code: 'SPENDING_LIMIT_EXCEEDED',
    intro: 'The call would pass the spend limit of this key. The limit belongs to the key, so your account may still have money. Check:',
    items: ['The key’s limit and period (per day, per month or in total) on the API Keys page'],
    fix: 'Wait until the period starts again, or create a new key with a higher limit and delete the old one.',
  },
  {
    code: 'PLATFORM_UNAVAILABLE',
    intro: 'The paid MCP server could not reach Tollgate in time, or Tollgate could not reach its database. Nothing was charged. Check:',
    items: ['That this Tollgate server is up (its /healthz page answers)', 'Your network connection'],
    fix: 'Try again in a moment. If it keeps happening, tell the operator of the MCP server.',
  },
  {
    code: 'CHARGE_FAILED',
    intro: 'The MCP server could not charge the call for another reason, for example its own provider key was rejected. The tool did not run.',
    items: [],
    fix: 'Try again later. If it keeps happening, contact the provider of the tool: the problem is on their side, not with your key.',
  },
  {
    code: 'UPSTREAM_ERROR',
    intro: 'The Tollgate gateway reached the tool’s own MCP server, but that server failed or could not be started.',
    items: [],
    fix: 'Try again later, or contact the provider of the tool. Your Wallet’s transactions show whether the call was charged.',
  },
];

// One <section> per code, with the code as its heading and anchor (/setup#TOKEN_INVALID).
export function troubleshootingList(codes, headingLevel = 'h3') {
  return TROUBLESHOOTING.filter((t) => !codes || codes.includes(t.code)).map((t) =>
    h('section', { class: 'trouble', id: t.code, 'aria-labelledby': `${t.code}-title` },
      h(headingLevel, { id: `${t.code}-title` }, `“${t.code}” Error`),
      h('p', {}, t.intro),
      t.items.length ? h('ul', {}, t.items.map((item) => h('li', {}, item))) : null,
      t.fix && h('p', {}, h('strong', {}, 'Fix: '), t.fix),
      t.after && t.after()));
}
