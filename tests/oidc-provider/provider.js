// A real OpenID provider for the ssomw end-to-end tests (node oidc-provider 9). TEST USE ONLY:
// it accepts loopback back-channel logout targets and exposes /__test__/ inspection endpoints.
//
// Usage: node provider.js CONFIG.json   (the config is written by tests/support/oidc_provider.py)
import { readFileSync } from 'node:fs';
import { lookup as dnsLookup } from 'node:dns';
import * as querystring from 'node:querystring';

import Provider, { errors } from 'oidc-provider';

import {
  escapeHtml,
  consentPage, errorPage, loginPage, logoutPage, signedOutPage,
} from './pages.js';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const host = cfg.host || '127.0.0.1';
const issuer = cfg.issuer || `http://${host}:${cfg.port}`;
const defaultPassword = cfg.default_password;
const users = cfg.users || {};
const brand = cfg.brand || 'Test OpenID provider';
const hint = cfg.hint || '';

const log = (...parts) => console.log(new Date().toISOString().slice(11, 23), ...parts);

// ---------------------------------------------------------------- in-memory storage
// A plain Map adapter (instead of the built-in LRU one) so /__test__/ endpoints can enumerate
// sessions and grants.
const stores = new Map();
const storeFor = (name) => {
  if (!stores.has(name)) stores.set(name, new Map());
  return stores.get(name);
};

class MapAdapter {
  constructor(name) {
    this.name = name;
    this.store = storeFor(name);
  }

  async upsert(id, payload, expiresIn) {
    this.store.set(id, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : null });
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!entry) return undefined;
    if (entry.expiresAt && entry.expiresAt < Date.now()) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findBy(field, value) {
    for (const [id, entry] of this.store) {
      if (entry.payload[field] === value) return this.find(id);
    }
    return undefined;
  }

  findByUid(uid) { return this.findBy('uid', uid); }

  findByUserCode(userCode) { return this.findBy('userCode', userCode); }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) { this.store.delete(id); }

  async revokeByGrantId(grantId) {
    for (const [id, entry] of this.store) {
      if (entry.payload.grantId === grantId) this.store.delete(id);
    }
  }
}

// ---------------------------------------------------------------- outgoing requests
// oidc-provider refuses to call special-use addresses (an SSRF guard). The tests' back-channel
// logout URIs are on loopback, so this test provider drops the guard for loopback targets only,
// and resolves *.localhost names to 127.0.0.1 (glibc does not).
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const isLoopbackHost = (hostname) => LOOPBACK.has(hostname) || hostname.endsWith('.localhost');

let loopbackAgent;
function loopbackDispatcher() {
  if (loopbackAgent === undefined) {
    Response; // eslint-disable-line no-unused-expressions -- loads node's bundled undici
    const Agent = (globalThis[Symbol.for('undici.globalDispatcher.2')]
      ?? globalThis[Symbol.for('undici.globalDispatcher.1')])?.constructor;
    const lookup = (hostname, opts, cb) => {
      if (!hostname.endsWith('.localhost')) return dnsLookup(hostname, opts, cb);
      return opts.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
    };
    loopbackAgent = Agent ? new Agent({ connect: { lookup } }) : null;
  }
  return loopbackAgent;
}

const deliveries = [];

async function testFetch(url, options) {
  const target = new URL(url);
  if (isLoopbackHost(target.hostname)) {
    const dispatcher = loopbackDispatcher();
    if (dispatcher) options.dispatcher = dispatcher; else delete options.dispatcher;
  }
  const isLogout = options.body instanceof URLSearchParams && options.body.has('logout_token');
  if (!isLogout) return fetch(url, options);
  const record = { url: target.href, logout_token: options.body.get('logout_token'), at: Date.now() };
  deliveries.push(record);
  try {
    const response = await fetch(url, options);
    record.status = response.status;
    log('backchannel', target.href, '->', response.status);
    return response;
  } catch (err) {
    record.error = String(err.cause?.message || err.message);
    log('backchannel', target.href, 'failed:', record.error);
    throw err;
  }
}

// ---------------------------------------------------------------- accounts
function accountIdFor(login) {
  if (!login) return undefined;
  if (Object.hasOwn(users, login)) return login;
  const wanted = login.toLowerCase();
  return Object.keys(users).find((id) => (users[id].email || '').toLowerCase() === wanted);
}

function passwordOk(accountId, password) {
  const expected = users[accountId].password ?? defaultPassword;
  return typeof password === 'string' && password === expected;
}

async function findAccount(ctx, id) {
  if (!Object.hasOwn(users, id)) return undefined;
  const { password, ...claims } = users[id]; // eslint-disable-line no-unused-vars
  return { accountId: id, claims: async () => ({ ...claims, sub: id }) };
}

// ---------------------------------------------------------------- provider
const ttl = {
  AccessToken: 600,
  AuthorizationCode: 60,
  IdToken: 600,
  RefreshToken: 3600,
  Interaction: 600,
  Session: 3600,
  Grant: 3600,
  ...(cfg.ttl || {}),
};

const configuration = {
  adapter: MapAdapter,
  clients: cfg.clients || [],
  jwks: cfg.jwks,
  findAccount,
  cookies: { keys: cfg.cookie_keys },
  claims: cfg.claims || {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'department'],
    groups: ['groups'],
    phone: ['phone_number', 'phone_number_verified'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', 'phone'],
  features: {
    // Our own sign-in and consent pages (below), not devInteractions' debug views.
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => { ctx.type = 'html'; ctx.body = logoutPage(brand, form); },
      postLogoutSuccessSource: async (ctx) => { ctx.type = 'html'; ctx.body = signedOutPage(brand); },
    },
    backchannelLogout: { enabled: true },
    claimsParameter: { enabled: true },
    userinfo: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    clientCredentials: { enabled: true },
    // API access tokens (RFC 8707): `resources` in the config maps a resource indicator to its
    // audience, scope and token format (jwt, or opaque for the introspection tests).
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        const server = (cfg.resources || {})[indicator];
        if (!server) throw new errors.InvalidTarget();
        return {
          scope: server.scope,
          audience: server.audience || indicator,
          accessTokenFormat: server.format || 'jwt',
          accessTokenTTL: server.ttl || 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  acrValues: ['urn:test:loa1', 'urn:test:mfa', 'urn:test:hwk'],
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'HS256'],
  },
  pkce: { required: () => true },
  // Front-Channel Logout 1.0 is not in oidc-provider 9: the client's frontchannel_logout_uri
  // is kept as extra metadata and /__test__/frontchannel-logout renders the iframes.
  extraClientMetadata: { properties: ['frontchannel_logout_uri'] },
  // Refresh tokens whenever the client may use them (not only with offline_access + consent), so
  // the gateway's refresh logic can be tested; without offline_access they die with the session.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  clientBasedCORS: () => true,
  interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => { ctx.type = 'html'; ctx.body = errorPage(brand, out); },
  fetch: testFetch,
  ttl,
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;

// How the next sign-ins are made (acr, amr), chosen by a test through /__test__/level: the
// login form has no second factor, so a test says what the login counted as.
const level = { acr: cfg.acr || undefined, amr: undefined };
const interactionFinished = provider.interactionFinished.bind(provider);
provider.interactionFinished = (req, res, result, options) => {
  if (result && result.login) {
    if (level.acr) result.login.acr = level.acr;
    if (level.amr) result.login.amr = level.amr;
  }
  return interactionFinished(req, res, result, options);
};

// Keep the last authorization requests exactly as sent (all parameters, also unknown ones).
const authRequests = [];
// Set by a test through /__test__/ignore-step-up: drop prompt, max_age and acr_values from
// authorization requests, as a provider that ignores them would.
let ignoreStepUp = false;

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return querystring.parse(Buffer.concat(chunks).toString('utf8'));
}

function json(ctx, status, body) {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = JSON.stringify(body);
}

async function endSessionsOf(accountId) {
  const notified = [];
  const sessions = storeFor('Session');
  for (const [id, entry] of [...sessions]) {
    const session = entry.payload;
    if (session.accountId !== accountId) continue;
    for (const [clientId, auth] of Object.entries(session.authorizations || {})) {
      const client = await provider.Client.find(clientId);
      if (client?.backchannelLogoutUri) {
        try {
          await client.backchannelLogout(accountId, auth.sid);
          notified.push({ client_id: clientId, sid: auth.sid, ok: true });
        } catch (err) {
          notified.push({ client_id: clientId, sid: auth.sid, ok: false, error: err.message });
        }
      }
      if (auth.grantId) {
        for (const store of stores.values()) {
          for (const [key, item] of store) {
            if (key === auth.grantId || item.payload.grantId === auth.grantId) store.delete(key);
          }
        }
      }
    }
    sessions.delete(id);
  }
  return notified;
}

// ---------------------------------------------------------------- sign-in and consent
// GET /interaction/<uid> shows the page the interaction needs, POST answers it, GET
// .../abort cancels; the forms are those of pages.js.
const INTERACTION = /^\/interaction\/([^/]+)(\/abort)?$/;

async function interactionPage(ctx, details, login = '', failed = false) {
  const client = await provider.Client.find(details.params.client_id);
  const name = client?.clientName || client?.clientId;
  const action = `/interaction/${details.uid}`;
  ctx.type = 'html';
  if (details.prompt.name === 'login') {
    ctx.status = failed ? 401 : 200;
    ctx.body = loginPage(brand, { action, client: name, login, failed, hint });
  } else if (details.prompt.name === 'consent') {
    const scopes = details.prompt.details.missingOIDCScope || String(details.params.scope || '').split(' ');
    ctx.body = consentPage(brand, { action, abort: `${action}/abort`, client: name, scopes });
  } else {
    ctx.throw(501, 'not implemented');
  }
}

// The grant for a consent, as devInteractions makes it: whatever the prompt found missing.
async function grantFor(details) {
  const { prompt: { details: missing }, grantId, session, params } = details;
  const grant = grantId ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scope] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scope.join(' '));
  }
  return grant.save();
}

async function interaction(ctx, abort) {
  ctx.set('Cache-Control', 'no-store');
  let details;
  try {
    details = await provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = errorPage(brand, { error: 'session_not_found', error_description:
      'This sign-in has expired or was started in another browser. Start again from the application.' });
    return;
  }
  const finish = async (result, merge) => {
    ctx.respond = false; // interactionFinished answers (303) on the raw response
    await provider.interactionFinished(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
  };
  if (abort) {
    await finish({ error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  } else if (ctx.method === 'GET') {
    await interactionPage(ctx, details);
  } else if (ctx.method === 'POST' && ctx.is('application/x-www-form-urlencoded')) {
    const form = await readForm(ctx.req);
    if (form.prompt === 'login' && details.prompt.name === 'login') {
      const accountId = accountIdFor(form.login);
      if (!accountId || !passwordOk(accountId, form.password)) {
        log('login refused for', JSON.stringify(form.login));
        await interactionPage(ctx, details, String(form.login || ''), true);
        return;
      }
      await finish({ login: { accountId } }, false);
    } else if (form.prompt === 'consent' && details.prompt.name === 'consent') {
      await finish({ consent: { grantId: await grantFor(details) } }, true);
    } else {
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = errorPage(brand, { error: 'invalid_request', error_description: 'Unexpected form.' });
    }
  } else {
    ctx.status = 405;
  }
}

// Front-Channel Logout 1.0 §2 ("OP's iframe"): the provider's logged-out page embeds, for
// each client the ended sessions were shared with, an iframe of its frontchannel_logout_uri
// with iss and sid. The sessions end first (their back-channel notices are sent as usual).
async function frontchannelFrames(accountId) {
  const frames = [];
  for (const [, entry] of [...storeFor('Session')]) {
    const session = entry.payload;
    if (session.accountId !== accountId) continue;
    for (const [clientId, auth] of Object.entries(session.authorizations || {})) {
      const client = await provider.Client.find(clientId);
      const uri = client?.metadata().frontchannel_logout_uri;
      if (!uri) continue;
      const target = new URL(uri);
      target.searchParams.set('iss', issuer);
      target.searchParams.set('sid', auth.sid);
      frames.push(target.href);
    }
  }
  await endSessionsOf(accountId);
  return frames;
}

// Test-only endpoints, and the sign-in pages.
provider.use(async (ctx, next) => {
  const started = Date.now();
  const { path, method } = ctx;
  if (path === '/auth' && method === 'GET') {
    authRequests.push({ ...ctx.query });
    if (authRequests.length > 50) authRequests.shift();
    if (ignoreStepUp) {
      // A provider that ignores a step-up request: it reuses its session as it is.
      const query = { ...ctx.query };
      for (const name of ['prompt', 'max_age', 'acr_values']) delete query[name];
      ctx.query = query;
    }
  }
  if (path.startsWith('/__test__/')) {
    if (path === '/__test__/last-auth' && method === 'GET') {
      if (!authRequests.length) json(ctx, 404, { error: 'no authorization request yet' });
      else json(ctx, 200, authRequests[authRequests.length - 1]);
    } else if (path === '/__test__/auth-requests' && method === 'GET') {
      json(ctx, 200, authRequests);
    } else if (path === '/__test__/ignore-step-up' && method === 'POST') {
      ignoreStepUp = ctx.query.on === '1';
      json(ctx, 200, { ignoreStepUp });
    } else if (path === '/__test__/level' && method === 'POST') {
      level.acr = ctx.query.acr || undefined;
      level.amr = ctx.query.amr ? String(ctx.query.amr).split(',') : undefined;
      json(ctx, 200, level);
    } else if (path === '/__test__/backchannel' && method === 'GET') {
      json(ctx, 200, deliveries);
    } else if (path === '/__test__/frontchannel-logout' && method === 'GET') {
      const accountId = accountIdFor(ctx.query.account);
      if (!accountId) json(ctx, 404, { error: 'unknown account' });
      else {
        const frames = await frontchannelFrames(accountId);
        ctx.status = 200;
        ctx.type = 'html';
        ctx.body = `<!DOCTYPE html><html><head><title>Signed out</title></head><body>
<p>You are signed out.</p>${frames.map((src) => `<iframe src="${escapeHtml(src)}"></iframe>`)
  .join('\n')}</body></html>`;
      }
    } else if (path === '/__test__/end-sessions' && method === 'POST') {
      const accountId = accountIdFor(ctx.query.account);
      if (!accountId) json(ctx, 404, { error: 'unknown account' });
      else json(ctx, 200, { account: accountId, notified: await endSessionsOf(accountId) });
    } else {
      json(ctx, 404, { error: 'unknown test endpoint' });
    }
    log(method, path, '->', ctx.status);
    return;
  }
  const interactionPath = INTERACTION.exec(path);
  if (interactionPath) {
    await interaction(ctx, Boolean(interactionPath[2]));
  } else {
    await next();
  }
  log(method, ctx.originalUrl.split('?')[0], '->', ctx.respond === false ? ctx.res.statusCode : ctx.status,
    `${Date.now() - started}ms`);
});

for (const event of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error',
  'end_session.error', 'introspection.error', 'revocation.error']) {
  provider.on(event, (ctx, err) => log(event, err.name, err.message, err.error_description || ''));
}

const server = provider.listen(cfg.port, host, () => {
  log(`oidc-provider listening on ${host}:${cfg.port}, issuer ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
