import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { NutCredentials } from '../../../adapters/ups/credentials.js';
import { NutCleartextLoginError } from '../../../adapters/ups/nut-client.js';
import {
  type ClosableUpsPort,
  commandSource,
  faultOf,
  nutSource,
  staticSource,
  upsSource,
} from '../../../adapters/ups/sources.js';
import { upsSpec } from '../../../core/api/powerplan.js';
import type { Logger } from '../../../core/ports/index.js';
import { FakeClock } from '../../helpers/fakes.js';
import { type HonestOptions, honest, ScriptedUpsd } from './scripted-upsd.js';

const clock = new FakeClock();
const logged: string[] = [];
const logger: Logger = {
  info: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  warn: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  error: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  debug: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
};
const deps = { clock, logger, timeoutMs: 500 };

let server: ScriptedUpsd | undefined;
let port: ClosableUpsPort | undefined;
afterEach(async () => {
  await port?.close();
  await server?.stop();
  server = undefined;
  port = undefined;
});

async function nut(options: HonestOptions, credentials?: NutCredentials) {
  server = await ScriptedUpsd.start(honest(options));
  port = nutSource({ host: '127.0.0.1', port: server.port, ups: 'ups', credentials }, deps);
  return port;
}

describe('nutSource', () => {
  it('reads charge, runtime and status', async () => {
    const reading = await (
      await nut({ vars: { 'ups.status': 'OB DISCHRG', 'battery.charge': '87.5', 'battery.runtime': '900' } })
    ).read();
    expect(reading).toEqual({
      source: `ups@127.0.0.1:${server?.port}`,
      status: ['OB', 'DISCHRG'],
      charge: 87.5,
      runtimeSeconds: 900,
      readAt: clock.now(),
    });
  });

  it('leaves out what the UPS does not report', async () => {
    const reading = await (await nut({ vars: { 'ups.status': 'OL' } })).read();
    expect(reading.charge).toBeUndefined();
    expect(reading.runtimeSeconds).toBeUndefined();
    expect(reading.error).toBeUndefined();
  });

  it.each([
    ['ERR DATA-STALE', { error: 'DATA-STALE' }, 'stale', /ERR DATA-STALE/],
    ['ERR DRIVER-NOT-CONNECTED', { error: 'DRIVER-NOT-CONNECTED' }, 'stale', /ERR DRIVER-NOT-CONNECTED/],
    ['ERR UNKNOWN-UPS', { ups: 'other' }, 'refused', /ERR UNKNOWN-UPS/],
    ['ups.status WAIT', { vars: { 'ups.status': 'WAIT' } }, 'stale', /\(re\)connecting/],
    [
      'a charge that is not a number',
      { vars: { 'ups.status': 'OL', 'battery.charge': 'full' } },
      'protocol',
      /battery.charge is not a number: "full"/,
    ],
  ] as const)('given %s, then the reading carries a %s fault', async (_name, options, fault, message) => {
    const reading = await (await nut(options)).read();
    expect(reading.error?.fault).toBe(fault);
    expect(reading.error?.message).toMatch(message);
    expect(reading.status).toEqual([]);
  });

  it('given upsd is down, then the reading is unreachable with the OS reason', async () => {
    const source = await nut({});
    await server?.stop();
    expect((await source.read()).error).toEqual({
      fault: 'unreachable',
      message: expect.stringMatching(/cannot connect \(ECONNREFUSED\)/),
    });
  });

  it('given wrong credentials, then the reading is refused, and the password is in no message and no log', async () => {
    logged.length = 0;
    const source = await nut(
      { users: { hecate: 'right' } },
      new NutCredentials('hecate', 'wr0ng-pass', '/etc/hecate/nut'),
    );
    const reading = await source.read();
    expect(reading.error?.fault).toBe('refused');
    expect(reading.error?.message).toMatch(/ERR ACCESS-DENIED to LOGIN ups: the credentials were refused/);
    expect(JSON.stringify(reading)).not.toContain('wr0ng-pass');
    expect(logged.join('\n')).not.toContain('wr0ng-pass');
    expect(logged.length).toBeGreaterThan(0);
  });
});

describe('commandSource', () => {
  const node = (script: string) => [process.execPath, '-e', script];
  // NOTE: generous: node's start-up on a loaded 2-core machine takes seconds; only the hung case waits it out.
  const commandDeps = { clock, logger, timeoutMs: 15_000 };
  it.each([
    ['87', 87],
    ['87.5%', 87.5],
    ['battery.charge: 42', 42],
    ['  100\n', 100],
  ])('given output %j, then the charge is %s', async (out, charge) => {
    const reading = await commandSource(node(`process.stdout.write(${JSON.stringify(out)})`), commandDeps).read();
    expect(reading).toEqual(expect.objectContaining({ charge, status: [] }));
    expect(reading.error).toBeUndefined();
  });

  it.each([
    ['garbage output', node('process.stdout.write("n/a")'), 'protocol', /printed "n\/a", not a charge in percent/],
    ['a charge above 100', node('process.stdout.write("140")'), 'protocol', /not a charge in percent/],
    [
      'a failing command',
      node('process.stderr.write("upsc: no such ups"); process.exit(1)'),
      'unreachable',
      /upsc: no such ups/,
    ],
    ['a hung command', node('setTimeout(() => {}, 60000)'), 'unreachable', /timed out/],
    ['a missing binary', ['/nonexistent/upsc'], 'unreachable', /ENOENT/],
  ] as const)('given %s, then the reading carries the right fault', async (_name, command, fault, message) => {
    const hung = command.some((c) => c.includes('60000'));
    const reading = await commandSource(command, hung ? { ...commandDeps, timeoutMs: 1_000 } : commandDeps).read();
    expect(reading.error?.fault).toBe(fault);
    expect(reading.error?.message).toMatch(message);
  });
});

describe('upsSource', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-ups-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds the source the plan names', async () => {
    expect(upsSource(upsSpec.parse({}), deps)).toBeUndefined();
    const fixed = upsSource(upsSpec.parse({ source: 'static', staticCharge: 64 }), deps);
    expect(await fixed?.read()).toEqual({ source: 'static', charge: 64, status: ['OL'], readAt: clock.now() });
    expect(await staticSource(10, clock).read()).toEqual(expect.objectContaining({ charge: 10 }));
  });

  it('given a credentials file that cannot be read, then the reading is refused and names the file', async () => {
    const file = join(dir, 'missing');
    const spec = upsSpec.parse({ source: 'nut', nut: { ups: 'ups', port: 1, credentialsFile: file } });
    const reading = await upsSource(spec, deps)?.read();
    expect(reading?.error).toEqual({
      fault: 'refused',
      message: `NUT credentials file ${file} cannot be read (ENOENT)`,
    });
  });

  it('reads credentials from the file and logs in with them', async () => {
    const file = join(dir, 'nut');
    await writeFile(file, 'hecate right\n', { mode: 0o600 });
    server = await ScriptedUpsd.start(honest({ users: { hecate: 'right' } }));
    const spec = upsSpec.parse({ source: 'nut', nut: { ups: 'ups', port: server.port, credentialsFile: file } });
    port = upsSource(spec, deps);
    expect((await port?.read())?.charge).toBe(80);
    expect(server.received.slice(0, 4)).toEqual(['STARTTLS', 'USERNAME hecate', 'PASSWORD right', 'LOGIN ups']);
  });

  it('a refused cleartext login counts as refused (a configuration error), like wrong credentials', () => {
    const error = new NutCleartextLoginError('upsd at nut.lan:3493 does not offer STARTTLS');
    expect(faultOf(error)).toEqual({ fault: 'refused', message: error.message });
  });
});
