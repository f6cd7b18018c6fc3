// A real OIDC issuer for the tests: oauth2-mock-server 8.2.3 on 127.0.0.1, a port the OS picks.
//   node tests/oauth2_issuer.mjs <path of oauth2-mock-server's dist/index.mjs> [alg]
// Prints {"issuer": url} once listening. Its /token (client_credentials) signs tokens with the
// server's key; a form field `claims` (JSON) is merged into the payload (null removes a claim),
// so a test can ask for an expired token or one for another audience, still signed by the
// issuer. Commands on stdin, one JSON line answered on stdout each:
//   rotate  a new key, used for the next token (the old one stays published): {"kid": ...}
//   jwks    how many times the key set was fetched: {"jwks_requests": n}
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [modulePath, alg = 'RS256'] = process.argv.slice(2);
const { OAuth2Issuer, OAuth2Service } = await import(pathToFileURL(modulePath).href);

const issuer = new OAuth2Issuer();
const service = new OAuth2Service(issuer);
let jwksRequests = 0;
service.on('beforeTokenSigning', (token, req) => {
  const extra = req.body && req.body.claims;
  if (!extra) return;
  for (const [name, value] of Object.entries(JSON.parse(extra))) {
    if (value === null) delete token.payload[name];
    else token.payload[name] = value;
  }
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
  } else {
    say({ error: `unknown command ${command}` });
  }
}).on('close', () => server.close(() => process.exit(0)));
