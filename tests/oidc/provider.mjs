// A local OpenID provider for the tests: the certified `oidc-provider` package with test users,
// their claims and how they signed in (amr/acr), started by tests/test_oidc.py on a loopback
// port. Configuration comes as JSON in OIDC_TEST_CONFIG; the process prints "klaar" on stdout
// when it listens. Test-only extras: POST /test/uitschakelen/:id disables an account (a closed
// account: the provider then refuses its refresh tokens).
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const cfg = JSON.parse(process.env.OIDC_TEST_CONFIG);
const users = cfg.users;
const issuer = `http://127.0.0.1:${cfg.port}`;

const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-1', alg: 'RS256', use: 'sig' };

async function findAccount(ctx, id) {
  const user = users[id];
  if (!user || user.disabled) return undefined;
  return {
    accountId: id,
    async claims() {
      return { sub: id, ...user.claims };
    },
  };
}

const provider = new Provider(issuer, {
  clients: cfg.clients,
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-cookie-key-not-secret'] },
  findAccount,
  claims: {
    acr: null,
    amr: null,
    auth_time: null,
    sid: null,
    // As Entra ID (amr) and Keycloak (acr) do: how the person signed in, in every ID token.
    openid: ['sub', 'acr', 'amr', 'auth_time'],
    email: ['email'],
    profile: ['name'],
    okaart: ['groups', 'organisatie', 'gemeentecode'],
  },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'okaart', 'api'],
  conformIdTokenClaims: false,
  acrValues: ['urn:test:pwd', 'urn:test:pwd-otp'],
  pkce: { required: () => true },
  ttl: {
    IdToken: cfg.ttl.IdToken,
    AccessToken: cfg.ttl.AccessToken,
    RefreshToken: 3600,
    AuthorizationCode: 60,
    Session: 3600,
    Interaction: 600,
    Grant: 3600,
  },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => cfg.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        audience: cfg.audience,
        accessTokenFormat: 'jwt',
        accessTokenTTL: cfg.ttl.AccessToken,
      }),
    },
  },
  // Scripts read the person's claims from the access token (as Entra ID's app roles are).
  extraTokenClaims: async (ctx, token) => {
    if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
    const user = users[token.accountId];
    return user ? { ...user.claims, amr: user.amr } : undefined;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // The service under test listens on the loopback address, which the provider's guard
  // against server-side request forgery refuses (rightly, in production): test only.
  fetch: (url, options) => {
    delete options.dispatcher;
    return globalThis.fetch(url, options);
  },
});
provider.proxy = false;
// Failures to reach a client's back-channel endpoint would otherwise go unseen.
provider.on('backchannel.error', (ctx, err, client) => process.stderr.write(`backchannel ${client.clientId}: ${err}\n`));

function page(body) {
  return `<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Testaanbieder</title></head><body>${body}</body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantAll(ctx, details) {
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  const grantId = await grant.save();
  await provider.interactionFinished(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

provider.use(async (ctx, next) => {
  const parts = ctx.path.split('/').filter(Boolean);
  if (parts[0] === 'test' && parts[1] === 'uitschakelen' && ctx.method === 'POST') {
    if (users[parts[2]]) users[parts[2]].disabled = true;
    ctx.status = 204;
    return;
  }
  if (parts[0] !== 'interaction') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && details.prompt.name === 'login') {
    ctx.type = 'html';
    ctx.body = page(
      `<h1>Testaanbieder</h1><form method="post" action="/interaction/${details.uid}/login">` +
        `<label>Gebruiker <input id="login" name="login" autofocus></label>` +
        `<button id="inloggen" type="submit">Inloggen</button></form>`,
    );
    return;
  }
  if (ctx.method === 'GET' && details.prompt.name === 'consent') {
    ctx.respond = false;
    await grantAll(ctx, details);
    return;
  }
  if (ctx.method === 'POST' && parts[2] === 'login') {
    const login = (await readForm(ctx.req)).get('login') || '';
    const user = users[login];
    if (!user || user.disabled) {
      ctx.type = 'html';
      ctx.status = 401;
      ctx.body = page('<p>Onbekende gebruiker</p>');
      return;
    }
    ctx.respond = false;
    await provider.interactionFinished(
      ctx.req,
      ctx.res,
      { login: { accountId: login, amr: user.amr, acr: user.acr } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  return next();
});

createServer(provider.callback()).listen(cfg.port, '127.0.0.1', () => {
  process.stdout.write('klaar\n');
});
