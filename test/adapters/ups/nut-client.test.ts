import { afterEach, describe, expect, it } from 'vitest';
import { NutCredentials } from '../../../adapters/ups/credentials.js';
import {
  isLoopbackHost,
  NutCleartextLoginError,
  NutClient,
  type NutClientOptions,
  NutConnectionError,
  NutProtocolError,
  NutServerError,
  NutTimeoutError,
  nutCommand,
} from '../../../adapters/ups/nut-client.js';
import { splitNutLine } from '../../../adapters/ups/nut-line.js';
import { selfSignedCertificate } from '../../../operator/runtime/self-signed.js';
import { honest, type Script, ScriptedUpsd } from './scripted-upsd.js';

const TIMEOUT = 400;
/** Event-loop lag on a loaded machine; a hang would exceed it by far. */
const SLACK = 1_500;
let server: ScriptedUpsd | undefined;
let client: NutClient | undefined;

async function connect(script: Script, options: Partial<NutClientOptions> = {}) {
  server = await ScriptedUpsd.start(script);
  client = new NutClient({ host: '127.0.0.1', port: server.port, timeoutMs: TIMEOUT, ...options });
  return { server, client };
}

/** The settled outcome and how long it took. */
async function timed<T>(promise: Promise<T>): Promise<{ error?: Error; value?: T; ms: number }> {
  const start = performance.now();
  try {
    const value = await promise;
    return { value, ms: performance.now() - start };
  } catch (error) {
    return { error: error as Error, ms: performance.now() - start };
  }
}

afterEach(async () => {
  await client?.close();
  await server?.stop();
  client = undefined;
  server = undefined;
});

describe('NUT line syntax', () => {
  it.each([
    ['VAR ups battery.charge "100"', ['VAR', 'ups', 'battery.charge', '100']],
    ['VAR ups ups.model "Back-UPS \\"ES\\" 700"', ['VAR', 'ups', 'ups.model', 'Back-UPS "ES" 700']],
    ['VAR ups x "a\\\\b"', ['VAR', 'ups', 'x', 'a\\b']],
    ['VAR ups x ""', ['VAR', 'ups', 'x', '']],
    ['  OK   Goodbye ', ['OK', 'Goodbye']],
  ])('given %j, when split, then the words are %j', (line, words) => {
    expect(splitNutLine(line)).toEqual(words);
  });

  it.each(['VAR ups x "open', 'VAR ups x "ends in escape\\'])('given %j, when split, then it throws', (line) => {
    expect(() => splitNutLine(line)).toThrow();
  });

  it('quotes arguments with spaces, quotes or backslashes and refuses control characters', () => {
    expect(nutCommand('PASSWORD', 'pa ss"w\\d')).toBe('PASSWORD "pa ss\\"w\\\\d"');
    expect(nutCommand('GET', 'VAR', 'ups', 'battery.charge')).toBe('GET VAR ups battery.charge');
    expect(() => nutCommand('PASSWORD', 'x\nFSD ups')).toThrow(/control character/);
  });
});

describe('NutClient against an honest server', () => {
  it('reads single variables and lists, over one connection', async () => {
    const { client, server } = await connect(honest());
    expect(await client.getVar('ups', 'battery.charge')).toBe('80');
    expect(await client.getVar('ups', 'ups.status')).toBe('OL');
    expect([...(await client.listVar('ups')).entries()]).toEqual([
      ['battery.charge', '80'],
      ['battery.runtime', '1200'],
      ['ups.status', 'OL'],
    ]);
    expect(server.connections).toBe(1);
  });

  it.each([
    ['DATA-STALE', /ERR DATA-STALE to GET VAR ups ups.status: the driver's data is stale/],
    ['DRIVER-NOT-CONNECTED', /ERR DRIVER-NOT-CONNECTED .*no connection to the UPS driver/],
    ['UNKNOWN-UPS', /ERR UNKNOWN-UPS .*does not know this UPS/],
    ['ACCESS-DENIED', /ERR ACCESS-DENIED .*credentials were refused/],
  ])(
    'given upsd answers ERR %s, then a NutServerError carries the code and says what it means',
    async (code, message) => {
      const { client } = await connect(honest({ error: code }));
      const error = await client.getVar('ups', 'ups.status').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NutServerError);
      expect((error as NutServerError).code).toBe(code);
      expect((error as Error).message).toMatch(message);
      // An ERR reply leaves the connection usable.
      await expect(client.getVar('ups', 'ups.status')).rejects.toThrow(NutServerError);
    },
  );

  it('reconnects when upsd dropped the connection between requests', async () => {
    const { client, server } = await connect(honest());
    expect(await client.getVar('ups', 'battery.charge')).toBe('80');
    server.dropConnections();
    expect(await client.getVar('ups', 'battery.charge')).toBe('80');
    expect(server.connections).toBe(2);
  });

  it('given upsd is not listening, then a NutConnectionError says it cannot connect', async () => {
    const { client, server } = await connect(honest());
    await server.stop();
    const { error, ms } = await timed(client.getVar('ups', 'ups.status'));
    expect(error).toBeInstanceOf(NutConnectionError);
    expect(error).not.toBeInstanceOf(NutTimeoutError);
    expect(error?.message).toMatch(/upsd at 127\.0\.0\.1:\d+: cannot connect \(ECONNREFUSED\)/);
    expect(ms).toBeLessThan(TIMEOUT + SLACK);
  });
});

describe('NutClient login', () => {
  const users = { hecate: 'hunter2 with spaces' };

  it('sends USERNAME, PASSWORD and LOGIN once per connection, then reads', async () => {
    const credentials = new NutCredentials('hecate', 'hunter2 with spaces', '/etc/hecate/nut');
    const { client, server } = await connect(honest({ users }), { login: { ups: 'ups', credentials } });
    expect(await client.getVar('ups', 'battery.charge')).toBe('80');
    expect(await client.getVar('ups', 'ups.status')).toBe('OL');
    expect(server.received).toEqual([
      'STARTTLS',
      'USERNAME hecate',
      'PASSWORD "hunter2 with spaces"',
      'LOGIN ups',
      'GET VAR ups battery.charge',
      'GET VAR ups ups.status',
    ]);
  });

  it('given a wrong password, then ACCESS-DENIED names the user and the fix, never the password', async () => {
    const credentials = new NutCredentials('hecate', 'wrong-secret', '/etc/hecate/nut');
    const { client } = await connect(honest({ users }), { login: { ups: 'ups', credentials } });
    const error = (await client.getVar('ups', 'ups.status').catch((e: unknown) => e)) as NutServerError;
    expect(error).toBeInstanceOf(NutServerError);
    expect(error.code).toBe('ACCESS-DENIED');
    expect(error.message).toContain('to LOGIN ups');
    expect(error.message).toContain('upsmon secondary');
    expect(`${error.message}${error.stack}${JSON.stringify(error)}`).not.toContain('wrong-secret');
  });

  it('given a refused login, then the connection is dropped and the next request logs in afresh', async () => {
    const credentials = new NutCredentials('hecate', 'wrong-secret', '/etc/hecate/nut');
    const { client, server } = await connect(honest({ users }), { login: { ups: 'ups', credentials } });
    await expect(client.getVar('ups', 'ups.status')).rejects.toThrow(/ACCESS-DENIED/);
    await expect(client.getVar('ups', 'ups.status')).rejects.toThrow(/ACCESS-DENIED/);
    expect(server.connections).toBe(2);
    expect(server.received.filter((l) => l === 'LOGIN ups')).toHaveLength(2);
  });

  it('given a hostile server that echoes the password back, then the error quotes it redacted', async () => {
    const credentials = new NutCredentials('hecate', 'hunter2', '/etc/hecate/nut');
    const echo: Script = (line, socket) => socket.write(line.startsWith('PASSWORD') ? `${line}\n` : 'OK\n');
    const { client } = await connect(echo, { login: { ups: 'ups', credentials } });
    const { error } = await timed(client.getVar('ups', 'ups.status'));
    expect(error).toBeInstanceOf(NutProtocolError);
    expect(error?.message).toContain('<redacted>');
    expect(error?.message).not.toContain('hunter2');
  });
});

const hugeLine: Script = (_line, socket) => socket.write('V'.repeat(1024 * 1024));
const garbage: Script = (_line, socket) => socket.write(Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x32, 0x4a, 0x0a]));
const wrongVar: Script = (_line, socket) => socket.write('VAR ups battery.runtime "5"\n');
const badQuote: Script = (_line, socket) => socket.write('VAR ups battery.charge "80\n');
const flood: Script = (_line, socket) => socket.write('VAR ups x "1"\n'.repeat(5_000));
const endlessList: Script = (_line, socket, server) => {
  socket.write('BEGIN LIST VAR ups\n');
  let n = 0;
  server.every(5, () => socket.write(`VAR ups v${n++} "1"\n`));
};
const slowLoris: Script = (_line, socket, server) => server.every(50, () => socket.write('V'));
const silent: Script = () => undefined;
const hangUp: Script = (_line, socket) => socket.destroy();

describe('NutClient against hostile servers: a bounded, clear error, never a hang', () => {
  it.each([
    ['a 1 MiB line', hugeLine, 'getVar', NutProtocolError, /sent a line longer than 1024 bytes/],
    [
      'binary garbage',
      garbage,
      'getVar',
      NutProtocolError,
      /unexpected reply to GET VAR ups ups.status: "\?\?\?\?\[2J"/,
    ],
    ['the wrong variable', wrongVar, 'getVar', NutProtocolError, /unexpected reply to GET VAR ups ups.status/],
    ['an unterminated quote', badQuote, 'getVar', NutProtocolError, /malformed reply to GET VAR/],
    ['5000 unasked lines', flood, 'getVar', NutProtocolError, /unexpected reply|more than/],
    ['a list that never ends', endlessList, 'listVar', NutTimeoutError, /did not complete LIST VAR ups within 400 ms/],
    [
      'a slow-loris line',
      slowLoris,
      'getVar',
      NutTimeoutError,
      /did not complete GET VAR ups ups.status within 400 ms/,
    ],
    ['silence', silent, 'getVar', NutTimeoutError, /did not complete GET VAR ups ups.status within 400 ms/],
    ['a hang-up', hangUp, 'getVar', NutConnectionError, /closed the connection/],
  ] as const)(
    'given %s, then a bounded error of the right class',
    async (_name, script, method, errorClass, message) => {
      const { client } = await connect(script);
      const call: Promise<unknown> = method === 'getVar' ? client.getVar('ups', 'ups.status') : client.listVar('ups');
      const { error, ms } = await timed(call);
      expect(error).toBeInstanceOf(errorClass);
      expect(error?.message).toMatch(message);
      expect(ms).toBeLessThan(TIMEOUT + SLACK);
    },
  );

  it('given a list longer than the limit, then it stops reading at the limit', async () => {
    const { client } = await connect(endlessList, { maxListLength: 20, timeoutMs: 5_000 });
    const { error, ms } = await timed(client.listVar('ups'));
    expect(error).toBeInstanceOf(NutProtocolError);
    expect(error?.message).toMatch(/listed more than 20 variables/);
    expect(ms).toBeLessThan(TIMEOUT + SLACK * 2);
  });

  it('given a hostile reply, then the next request uses a fresh connection', async () => {
    let first = true;
    const script: Script = (line, socket, server) => {
      const answer = first ? garbage : honest();
      first = false;
      answer(line, socket, server);
    };
    const { client, server } = await connect(script);
    await expect(client.getVar('ups', 'ups.status')).rejects.toThrow(NutProtocolError);
    expect(await client.getVar('ups', 'ups.status')).toBe('OL');
    expect(server.connections).toBe(2);
  });

  it('given an abort while upsd is silent, then the request rejects at once with the abort reason', async () => {
    const { client } = await connect(silent, { timeoutMs: 10_000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopping')), 50);
    const { error, ms } = await timed(client.getVar('ups', 'ups.status', controller.signal));
    expect(error?.message).toBe('stopping');
    expect(ms).toBeLessThan(TIMEOUT + SLACK);
  });
});

describe('NutClient STARTTLS', () => {
  const cert = selfSignedCertificate({ commonName: 'upsd', altNames: ['127.0.0.1'], now: new Date() });
  const users = { hecate: 'hunter2' };
  const credentials = new NutCredentials('hecate', 'hunter2', '/etc/hecate/nut');
  const login = { ups: 'ups', credentials };

  it('given upsd offers TLS, then the session switches to it before the login, and says it is not verified', async () => {
    const server = await ScriptedUpsd.start(honest({ users }), { tls: cert });
    client = new NutClient({ host: '127.0.0.1', port: server.port, login, requireTlsForLogin: true });
    expect(await client.getVar('ups', 'battery.charge')).toBe('80');
    expect(server.tlsSessions).toEqual([expect.stringMatching(/^TLSv1\.[23]$/)]);
    expect(server.received).toEqual([
      'STARTTLS',
      'USERNAME hecate',
      'PASSWORD hunter2',
      'LOGIN ups',
      'GET VAR ups battery.charge',
    ]);
    expect(client.security).toMatchObject({
      tls: true,
      verified: false,
      why: expect.stringMatching(/SELF_SIGNED|self.signed/i),
    });
    await client.close();
    await server.stop();
  });

  it('given the CA of its certificate, then upsd is verified', async () => {
    const server = await ScriptedUpsd.start(honest(), { tls: cert });
    client = new NutClient({ host: '127.0.0.1', port: server.port, tls: { ca: cert.cert } });
    expect(await client.getVar('ups', 'ups.status')).toBe('OL');
    expect(client.security).toEqual({ tls: true, verified: true, protocol: expect.any(String), why: undefined });
    await client.close();
    await server.stop();
  });

  it('given upsd without a certificate, then reads go on in clear', async () => {
    const { client, server } = await connect(honest());
    expect(await client.getVar('ups', 'ups.status')).toBe('OL');
    expect(client.security).toEqual({ tls: false, why: 'upsd answered ERR FEATURE-NOT-CONFIGURED to STARTTLS' });
    expect(server.received).toEqual(['STARTTLS', 'GET VAR ups ups.status']);
  });

  it('given a login that must not be in clear and no TLS, then it is refused before the username is sent', async () => {
    const { client, server } = await connect(honest({ users }), { login, requireTlsForLogin: true });
    const { error, ms } = await timed(client.getVar('ups', 'ups.status'));
    expect(error).toBeInstanceOf(NutCleartextLoginError);
    expect(error?.message).toMatch(/does not offer STARTTLS \(upsd answered ERR FEATURE-NOT-CONFIGURED/);
    expect(error?.message).not.toContain('hunter2');
    expect(server.received).toEqual(['STARTTLS']);
    expect(ms).toBeLessThan(TIMEOUT + SLACK);
  });

  it.each([
    ['a host name', 'nut.lan', true],
    ['a LAN address', '192.168.1.10', true],
    ['loopback', '127.0.0.1', false],
    ['localhost', 'localhost', false],
  ])('refuses a cleartext login by default to %s: %s', (_name, host, refused) => {
    expect(!isLoopbackHost(host)).toBe(refused);
  });

  const okAndMore: Script = (line, socket) =>
    socket.write(line === 'STARTTLS' ? 'OK STARTTLS\nVAR ups ups.status "OL"\n' : 'OK\n');
  /** Answers the client's TLS hello with plain text. */
  const okThenPlainText: Script = (line, socket) => {
    if (line !== 'STARTTLS') return;
    socket.write('OK STARTTLS\n');
    setTimeout(() => socket.write('this is not a TLS server hello\n'), 50);
  };
  const okThenSilence: Script = (line, socket) => {
    if (line === 'STARTTLS') socket.write('OK STARTTLS\n');
  };
  const oddReply: Script = (_line, socket) => socket.write('OK MAYBE\n');

  it.each([
    ['an odd reply to STARTTLS', oddReply, NutProtocolError, /unexpected reply to STARTTLS: "OK MAYBE"/],
    ['OK STARTTLS and a line in clear', okAndMore, NutProtocolError, /sent data after OK STARTTLS/],
    ['OK STARTTLS, then plain text', okThenPlainText, NutConnectionError, /the TLS handshake failed \(/],
    ['OK STARTTLS, then silence', okThenSilence, NutTimeoutError, /did not complete GET VAR ups ups.status within/],
  ] as const)('given %s, then a bounded error of the right class', async (_name, script, errorClass, message) => {
    const server = await ScriptedUpsd.start(script, { starttls: 'script' });
    client = new NutClient({ host: '127.0.0.1', port: server.port, timeoutMs: TIMEOUT });
    const { error, ms } = await timed(client.getVar('ups', 'ups.status'));
    expect(error).toBeInstanceOf(errorClass);
    expect(error?.message).toMatch(message);
    expect(ms).toBeLessThan(TIMEOUT + SLACK);
    await server.stop();
  });
});
