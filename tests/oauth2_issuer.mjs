// A real OIDC issuer for the tests: oauth2-mock-server 8.2.3 on 127.0.0.1, a port the OS picks.
//   node tests/oauth2_issuer.mjs <path of oauth2-mock-server's dist/index.mjs> [alg]
// Prints {"issuer": url} once listening. Its /token (client_credentials) signs tokens with the
// server's key; a form field `claims` (JSON) is merged into the payload (null removes a claim),
// so a test can ask for an expired token or one for another audience, still signed by the
// issuer. Its /authorize signs in a user at once (no login form) and redirects back with a code;
// the tokens the code is exchanged for carry the claims the `user` command set. Commands on
// stdin, one JSON line answered on stdout each:
//   rotate  a new key, used for the next token (the old one stays published): {"kid": ...}
//   jwks    how many times the key set was fetched: {"jwks_requests": n}
//   user {"access": {...}, "id": {...}}  claims merged into the access and the id token of every
//           later authorization_code exchange (null removes one): who signs in: {"ok": true}
//   exchanges  codes exchanged at /token, and the last exchange's access token, HTTP Basic
//           credentials and form field names: {"exchanges": n, "last": {...}}
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [modulePath, alg = 'RS256'] = process.argv.slice(2);
const { OAuth2Issuer, OAuth2Service } = await import(pathToFileURL(modulePath).href);

const issuer = new OAuth2Issuer();
const service = new OAuth2Service(issuer);
let jwksRequests = 0;
let exchanges = 0;
let user = { access: {}, id: {} };
const merge = (payload, claims) => {
  for (const [name, value] of Object.entries(claims)) {
    if (value === null) delete payload[name];
    else payload[name] = value;
  }
};
service.on('beforeTokenSigning', (token, req) => {
  const body = req.body || {};
  if (body.grant_type === 'authorization_code') {
    // The access token is built first and carries `scope`; the id token does not.
    merge(token.payload, 'scope' in token.payload ? user.access : user.id);
    return;
  }
  if (body.claims) merge(token.payload, JSON.parse(body.claims));
});
let lastExchange = {};
service.on('beforeResponse', (response, req) => {
  if ((req.body || {}).grant_type !== 'authorization_code') return;
  exchanges += 1;
  const basic = (req.headers.authorization || '').match(/^Basic (.+)$/);
  lastExchange = {
    access_token: response.body.access_token,
    basic: basic ? Buffer.from(basic[1], 'base64').toString('utf8') : null,
    form: Object.keys(req.body).sort(),
  };
});
const server = createServer((req, res) => {
  if (req.url.split('?')[0] === '/jwks') jwksRequests += 1;
  service.requestHandler(req, res);
});
const first = await issuer.keys.generate(alg);
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
issuer.url = `http://127.0.0.1:${server.address().port}`;
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
say({ issuer: issuer.url, kid: first.kid });

let current = first;
createInterface({ input: process.stdin }).on('line', async (line) => {
  const command = line.trim();
  if (command === 'rotate') {
    const previous = current;
    current = await issuer.keys.generate(alg);
    issuer.keys.get(previous.kid); // the store hands keys out in turn: put the old one last
    say({ kid: current.kid });
  } else if (command === 'jwks') {
    say({ jwks_requests: jwksRequests });
  } else if (command.startsWith('user ')) {
    const given = JSON.parse(command.slice(5));
    user = { access: given.access || {}, id: given.id || {} };
    say({ ok: true });
  } else if (command === 'exchanges') {
    say({ exchanges, last: lastExchange });
  } else {
    say({ error: `unknown command ${command}` });
  }
}).on('close', () => server.close(() => process.exit(0)));
