// Entry point: checks the session, then draws either the sign-in page or the dashboard
// (header, sidebar, one page) and routes between pages with the History API.
import { api, setSignedOutHandler, maybeSignedIn } from './api.js';
import { h, clear, icon, announce, errorBox, loading } from './ui.js';
import { authPage } from './pages/auth.js';
import { keysPage } from './pages/keys.js';
import { walletPage } from './pages/wallet.js';
import { usagePage } from './pages/usage.js';
import { providerPage } from './pages/provider.js';
import { setupPage } from './pages/setup.js';

const PAGES = [
  { path: '/keys', label: 'API Keys', icon: 'key', render: keysPage },
  { path: '/wallet', label: 'Wallet', icon: 'wallet', render: walletPage },
  { path: '/usage', label: 'Usage', icon: 'chart', render: usagePage },
  { path: '/provider', label: 'Provider', icon: 'plug', render: providerPage },
  { path: '/setup', label: 'Setup', icon: 'terminal', render: setupPage },
];
const HOME = '/keys';

const root = document.getElementById('app');
let me = null;        // GET /api/v1/me once signed in
let shell = null;     // {main, links} while the dashboard is drawn
let wanted = null;    // the page asked for before signing in, shown after it

function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render({ focus: true });
}

// Signed in or out: which page the address shows.
function render({ focus = false, message } = {}) {
  const path = location.pathname;
  if (!me) {
    shell = null;
    const mode = path === '/signup' ? 'signup' : 'signin';
    if (path !== '/signin' && path !== '/signup') {
      if (PAGES.some((p) => p.path === path)) wanted = path + location.hash;
      history.replaceState(null, '', '/signin');
    }
    const main = h('main', { id: 'main', class: 'auth', tabindex: '-1' });
    clear(root, main);
    document.title = `${mode === 'signup' ? 'Sign up' : 'Sign in'} · Tollgate`;
    authPage(main, { mode, message, navigate, onSignedIn: signedIn });
    return;
  }
  if (path === '/' || path === '/signin' || path === '/signup') {
    history.replaceState(null, '', HOME);
    return render({ focus });
  }
  shell ||= drawShell();
  const page = PAGES.find((p) => p.path === path);
  for (const [p, link] of shell.links) {
    if (p === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const section = h('div', { class: 'page' });
  clear(shell.main, section);
  document.title = `${page ? page.label : 'Page not found'} · Tollgate`;
  if (page) page.render(section, { me, navigate, refreshMe });
  else notFound(section);
  if (location.hash) {
    // A link to a section of a page (/setup#TOKEN_INVALID): show it once it is drawn.
    requestAnimationFrame(() => document.getElementById(location.hash.slice(1))?.scrollIntoView());
  } else if (focus) {
    // Keyboard and screen-reader users land on the new page's heading, not the old link.
    (section.querySelector('h1') || shell.main).focus();
    window.scrollTo(0, 0);
  }
}

function drawShell() {
  const links = new Map();
  const nav = h('nav', { class: 'sidebar', 'aria-label': 'Dashboard' },
    h('ul', {}, PAGES.map((page) => {
      const link = h('a', { href: page.path }, icon(page.icon), h('span', {}, page.label));
      links.set(page, link);
      return h('li', {}, link);
    })));
  const signOut = h('button', { type: 'button', class: 'link-button' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    signOut.disabled = true;
    try {
      await api.post('/api/v1/auth/logout');
    } catch (error) {
      // Already signed out elsewhere is fine; anything else is worth saying.
      if (error.code !== 'UNAUTHENTICATED') {
        signOut.disabled = false;
        announce(`Could not sign out: ${error.message}`);
        return;
      }
    }
    me = null;
    history.pushState(null, '', '/signin');
    render({ message: 'You are signed out.' });
  });
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: HOME }, h('img', { src: '/favicon.svg', alt: '', width: 24, height: 24 }), 'Tollgate'),
    h('div', { class: 'account' },
      h('span', { class: 'email' }, me.email),
      me.is_admin && h('span', { class: 'badge' }, 'Admin'),
      signOut));
  const main = h('main', { id: 'main', tabindex: '-1' });
  clear(root, header, h('div', { class: 'layout' }, nav, main));
  return { main, links };
}

function notFound(section) {
  section.append(
    h('h1', { tabindex: '-1' }, 'Page not found'),
    h('p', {}, 'There is nothing at this address. ', h('a', { href: HOME }, 'Go to API Keys'), '.'));
}

async function refreshMe() {
  me = await api.get('/api/v1/me');
  return me;
}

function signedIn(account) {
  me = account;
  shell = null;
  navigate(wanted || HOME, { replace: true });
  wanted = null;
}

// Same-origin links change pages without reloading; modified clicks (new tab) are left alone.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download')) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  if (url.pathname === location.pathname && url.hash) return;  // in-page anchor
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener('popstate', () => render({ focus: true }));

async function start() {
  setSignedOutHandler(() => {
    if (!me) return;
    me = null;
    render({ message: 'Your session has ended. Sign in again.' });
  });
  const boot = document.getElementById('main');
  clear(boot, loading('Tollgate'));
  try {
    if (maybeSignedIn()) me = await api.get('/api/v1/me');
  } catch (error) {
    if (error.code !== 'UNAUTHENTICATED') {
      clear(boot, h('h1', {}, 'Tollgate'), errorBox(error, () => start()));
      return;
    }
  }
  render();
}

start();
