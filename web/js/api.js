// The REST client of the dashboard (API.md): same-origin fetches with the session cookie,
// the CSRF token on every write, and API errors turned into ApiError {code, message}.

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// Called when a request comes back UNAUTHENTICATED (the session ended or was signed out
// elsewhere); app.js shows the sign-in page.
let onSignedOut = () => {};
export function setSignedOutHandler(fn) {
  onSignedOut = fn;
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

// Whether this browser holds a session at all. The CSRF cookie is readable and lives exactly
// as long as the HttpOnly session cookie, so a signed-out visitor is known without a request
// (which would only fail with 401 and log an error in the console).
export function maybeSignedIn() {
  return cookie('tollgate_csrf') !== '';
}

export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  // Double-submit CSRF: the server set this readable cookie at sign-in and checks that
  // cookie-authenticated writes repeat it in a header, which another site cannot do.
  if (method !== 'GET') headers['X-CSRF-Token'] = cookie('tollgate_csrf');
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('NETWORK', 'Could not reach the Tollgate server. Check your connection and try again.', 0);
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): reported below by status.
  }
  if (!response.ok) {
    const error = data && data.error;
    const code = (error && error.code) || `HTTP_${response.status}`;
    const message = (error && error.message) || `The server answered ${response.status}. Try again in a moment.`;
    if (code === 'UNAUTHENTICATED' && !path.startsWith('/api/v1/auth/')) onSignedOut();
    throw new ApiError(code, message, response.status);
  }
  return data;
}

export const api = {
  get: (path) => request('GET', path),
  post: (path, body = {}) => request('POST', path, body),
  del: (path) => request('DELETE', path),
};

// GET /api/v1/setup: this server's address as the outside world reaches it (tollgate serve
// --public-url) and, when it serves a gateway, the names of its MCP servers (/mcp/NAME).
// Falls back to the address in the browser.
let setupPromise = null;
export function setupInfo() {
  setupPromise ||= request('GET', '/api/v1/setup')
    .catch(() => {
      setupPromise = null;  // ask again next time
      return {};
    })
    .then((setup) => ({
      publicUrl: (setup.public_url || location.origin).replace(/\/+$/, ''),
      mcpServers: Array.isArray(setup.mcp_servers) ? setup.mcp_servers.filter((n) => typeof n === 'string') : [],
    }));
  return setupPromise;
}
