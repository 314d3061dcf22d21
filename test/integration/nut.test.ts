/**
 * Hecate against a real NUT: upsd + dummy-ups on loopback (test/helpers/nut.ts). Reads, .dev changes and the time
 * Hecate takes to see them, a dead driver, a stopped upsd, stale data, wrong credentials, and the startup gate; and
 * STARTTLS against a upsd with a certificate, watched by a recording proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../adapters/system.js';
import { NutCredentials } from '../../adapters/ups/credentials.js';
import { NutClient } from '../../adapters/ups/nut-client.js';
import { type ClosableUpsPort, nutSource } from '../../adapters/ups/sources.js';
import { outageRecord, upsSpec } from '../../core/api/index.js';
import { UpsMonitor } from '../../core/gates/monitor.js';
import { describeUpsVerdict, evaluateUps, type UpsVerdict, upsGate, upsPolicy } from '../../core/gates/ups.js';
import { compilePlan } from '../../core/plan/index.js';
import type { Logger } from '../../core/ports/index.js';
import type { UpsReading } from '../../core/ports/ups.js';
import { StepFailedError } from '../../core/run/errors.js';
import { runPlan } from '../../core/run/runner.js';
import { EmergencyShutdownRequired, GateRefusedError, upsGateExecutor } from '../../core/steps/ups.js';
import { atlasInput } from '../helpers/atlas.js';
import { MemoryStore } from '../helpers/fakes.js';
import { NutServer, requireNut } from '../helpers/nut.js';
import { enableStartTls, RecordingProxy, requireNssTools } from '../helpers/nut-tls.js';

const nut = requireNut();
const nss = nut.ok && requireNssTools();
const PASSWORD = 'pa55 w0rd-for-hecate';
const ONLINE = { 'battery.charge': 100, 'battery.runtime': 3600, 'ups.status': 'OL', 'ups.mfr': 'Fake' };

const logged: string[] = [];
const log = (m: string, f?: Record<string, unknown>) => logged.push(`${m} ${f ? JSON.stringify(f) : ''}`);
const logger: Logger = { info: log, warn: log, error: log, debug: log };
const policy = upsPolicy(upsSpec.parse({ source: 'static', staticCharge: 1, pollInterval: '1s' }));

/** Polls `read` every 50 ms until `done` holds (at most `limitMs`); returns the last value and the time it took. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, limitMs = 10_000) {
  const start = performance.now();
  for (;;) {
    const value = await read();
    const ms = performance.now() - start;
    if (done(value) || ms > limitMs) return { value, ms };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!nut.ok)('a real upsd with dummy-ups', () => {
  let server: NutServer;
  let source: ClosableUpsPort;
  const read = () => source.read();

  beforeAll(async () => {
    server = await NutServer.start({ dev: ONLINE, users: { hecate: PASSWORD }, maxAge: 3 });
    source = nutSource({ host: server.host, port: server.port, ups: server.ups }, { clock: systemClock, logger });
  });
  afterAll(async () => {
    await source?.close();
    await server?.stop();
  });

  it('reads charge, runtime and status', async () => {
    const reading = await read();
    expect(reading).toEqual(
      expect.objectContaining({
        source: `ups@127.0.0.1:${server.port}`,
        charge: 100,
        runtimeSeconds: 3600,
        status: ['OL'],
      }),
    );
    expect(evaluate(reading).blocked).toBe(false);
  });

  it('sees each .dev change, each written right after the previous one was read (the mtime-second rule), and reports the reaction time', async () => {
    const steps = [
      { 'battery.charge': 80, 'battery.runtime': 2400, 'ups.status': 'OB DISCHRG' },
      { 'battery.charge': 60, 'battery.runtime': 1500, 'ups.status': 'OB DISCHRG' },
      { 'battery.charge': 25, 'battery.runtime': 300, 'ups.status': 'OB LB' },
    ];
    const times: number[] = [];
    for (const vars of steps) {
      await server.setDev(vars);
      const { value, ms } = await until(read, (r) => r.charge === vars['battery.charge']);
      expect(value).toEqual(
        expect.objectContaining({ charge: vars['battery.charge'], runtimeSeconds: vars['battery.runtime'] }),
      );
      expect(value.status).toEqual(vars['ups.status'].split(' '));
      times.push(Math.round(ms));
    }
    console.info(
      `NUT reaction: .dev change → Hecate read the new value after ${times.join(', ')} ms (read every 50 ms)`,
    );
    expect(Math.max(...times)).toBeLessThan(5_000);
    expect(evaluate(await read())).toEqual(expect.objectContaining({ onBattery: true, low: true, emergency: true }));
  });

  it('the UpsMonitor calls back when the UPS goes on battery, and reports the time from the change', async () => {
    await server.setDev(ONLINE);
    await until(read, (r) => r.charge === 100);
    const controller = new AbortController();
    const verdicts: UpsVerdict[] = [];
    let changedAt = 0;
    let sawAt = 0;
    const monitor = new UpsMonitor({
      gate: upsGate(source, policy, systemClock),
      clock: systemClock,
      intervalMs: 250,
      alertIntervalMs: 250,
      onChange: (verdict) => {
        verdicts.push(verdict);
        if (verdict.emergency) {
          sawAt = performance.now();
          controller.abort(new Error('seen'));
        }
      },
    });
    const running = monitor.run(controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 600));
    changedAt = performance.now();
    await server.setDev({ 'battery.charge': 20, 'battery.runtime': 200, 'ups.status': 'OB' });
    const guard = setTimeout(() => controller.abort(new Error('not seen in 10 s')), 10_000);
    await running;
    clearTimeout(guard);
    expect(verdicts.map((v) => v.emergency)).toEqual([false, true]);
    console.info(
      `NUT reaction: .dev change → UpsMonitor emergency verdict after ${Math.round(sawAt - changedAt)} ms (poll 250 ms)`,
    );
  });

  it('given the startup gate and a charge under the threshold, then startup is refused with the reading and threshold', async () => {
    await server.setDev({ 'battery.charge': 42, 'battery.runtime': 900, 'ups.status': 'OL CHRG' });
    await until(read, (r) => r.charge === 42);
    const error = await runStartupGate();
    expect(error).toBeInstanceOf(GateRefusedError);
    expect((error as Error).message).toMatch(/UPS charge 42% is below the startup minimum 50% .* --ignore-ups/);
  });

  it('given an outage window and the UPS on battery under the emergency threshold, then the emergency shutdown is required', async () => {
    await server.setDev({ 'battery.charge': 12, 'battery.runtime': 120, 'ups.status': 'OB DISCHRG' });
    await until(read, (r) => r.charge === 12);
    expect(await runStartupGate(true)).toBeInstanceOf(EmergencyShutdownRequired);
  });

  it('given a hung driver, then upsd answers DATA-STALE after MAXAGE and the UPS counts as on battery and low', async () => {
    await server.setDev(ONLINE);
    await until(read, (r) => r.charge === 100);
    server.pauseDriver(true);
    try {
      const { value, ms } = await until(read, (r) => r.error?.fault === 'stale', 20_000);
      expect(value.error?.message).toMatch(/ERR DATA-STALE/);
      expect(evaluate(value)).toEqual(expect.objectContaining({ onBattery: true, low: true, emergency: true }));
      console.info(`NUT: driver paused → DATA-STALE seen after ${Math.round(ms)} ms (MAXAGE 3 s)`);
    } finally {
      server.pauseDriver(false);
    }
    await until(read, (r) => r.error === undefined);
  });

  it('given the driver stopped, then DRIVER-NOT-CONNECTED counts as on battery and low; restarted, it reads again', async () => {
    await server.stopDriver();
    try {
      const { value } = await until(read, (r) => r.error?.message.includes('DRIVER-NOT-CONNECTED') === true);
      expect(value.error).toEqual({ fault: 'stale', message: expect.stringMatching(/ERR DRIVER-NOT-CONNECTED/) });
      expect(describeUpsVerdict(evaluate(value))).toMatch(
        /on battery and low: .*no connection to the UPS driver; counted as on battery and low, as upsmon does/,
      );
    } finally {
      await server.startDriver();
    }
    const { value: back, ms } = await until(read, (r) => r.charge === 100, 15_000);
    expect(back.error, await server.log('driver')).toBeUndefined();
    console.info(`NUT: driver restarted → readings back after ${Math.round(ms)} ms`);
  });

  it('given right credentials, then Hecate logs in as a secondary and reads', async () => {
    const credentials = new NutCredentials('hecate', PASSWORD, '/etc/hecate/nut');
    const port = nutSource(
      { host: server.host, port: server.port, ups: server.ups, credentials },
      { clock: systemClock, logger },
    );
    try {
      expect((await port.read()).charge).toBe(100);
    } finally {
      await port.close();
    }
    expect(await server.log('upsd')).toMatch(/User hecate@127\.0\.0\.1 logged into UPS \[ups\]/);
  });

  it('given a wrong password, then a clear refused error, and the password is in no message and no log', async () => {
    const wrong = 'not-the-right-one';
    const credentials = new NutCredentials('hecate', wrong, '/etc/hecate/nut');
    const port = nutSource(
      { host: server.host, port: server.port, ups: server.ups, credentials },
      { clock: systemClock, logger },
    );
    try {
      const reading = await port.read();
      expect(reading.error?.fault).toBe('refused');
      expect(reading.error?.message).toMatch(/ERR ACCESS-DENIED to LOGIN ups: the credentials were refused/);
      const verdict = evaluate(reading);
      expect(verdict).toEqual(expect.objectContaining({ blocked: true, onBattery: false, emergency: false }));
      const everything = [
        JSON.stringify(reading),
        describeUpsVerdict(verdict),
        logged.join('\n'),
        await server.log('upsd'),
      ];
      for (const text of everything) {
        expect(text).not.toContain(wrong);
        expect(text).not.toContain(PASSWORD);
      }
    } finally {
      await port.close();
    }
  });

  it('given upsd stopped, then the UPS counts as on battery and low with a clear message; restarted, Hecate reconnects', async () => {
    expect((await until(read, (r) => r.charge === 100)).value.error).toBeUndefined();
    await server.stopUpsd();
    const start = performance.now();
    const reading = await read();
    expect(performance.now() - start).toBeLessThan(5_500);
    expect(reading.error).toEqual({
      fault: 'unreachable',
      message: `upsd at 127.0.0.1:${server.port}: cannot connect (ECONNREFUSED)`,
    });
    const verdict = evaluate(reading);
    expect(verdict).toEqual(expect.objectContaining({ blocked: true, onBattery: true, low: true, emergency: true }));
    expect(describeUpsVerdict(verdict)).toContain('counted as on battery and low, as upsmon does');
    await server.startUpsd();
    expect((await read()).charge).toBe(100);
  });

  /** Runs the startup plan's UPS gate step with the Atlas thresholds (50% / 30%) against this upsd. */
  async function runStartupGate(inOutage = false): Promise<unknown> {
    const input = atlasInput({ ...(inOutage ? { outage: outageRecord.parse({ inOutage: true }) } : {}) });
    input.spec.ups.nut = { host: server.host, port: server.port, ups: server.ups };
    const plan = compilePlan('startup', input);
    const gate = upsGate(source, upsPolicy(input.spec.ups), systemClock);
    const store = new MemoryStore(inOutage ? { outage: outageRecord.parse({ inOutage: true }) } : undefined);
    const error = await runPlan({
      plan: { ...plan, steps: plan.steps.filter((s) => s.kind === 'ups-gate') },
      action: 'startup',
      executors: { 'ups-gate': upsGateExecutor(gate) },
      store,
      clock: systemClock,
      logger,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    return error instanceof StepFailedError ? error.cause : error;
  }
});

describe.skipIf(!nut.ok || !nss)('STARTTLS against a real upsd with a certificate (NSS: CERTPATH, CERTIDENT)', () => {
  let plain: NutServer;
  let secure: NutServer;
  let ca: string;
  const deps = { clock: systemClock, logger };
  const credentials = new NutCredentials('hecate', PASSWORD, '/etc/hecate/nut');

  beforeAll(async () => {
    [plain, secure] = await Promise.all([
      NutServer.start({ dev: ONLINE, users: { hecate: PASSWORD } }),
      NutServer.start({ dev: ONLINE, users: { hecate: PASSWORD } }),
    ]);
    ca = await enableStartTls(secure);
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), secure?.stop()]);
  });

  /** Logs in and reads through a recording proxy; returns the reading and what crossed the wire. */
  async function readThroughProxy(server: NutServer, tls?: { ca: string }) {
    const proxy = await RecordingProxy.start({ host: server.host, port: server.port });
    const port = nutSource({ host: '127.0.0.1', port: proxy.port, ups: server.ups, credentials, tls }, deps);
    try {
      return { reading: await port.read(), wire: proxy.wire() };
    } finally {
      await port.close();
      await proxy.stop();
    }
  }

  it('given the CA, then the session is TLS, verified, and neither the password nor a reading crosses in clear', async () => {
    const { reading, wire } = await readThroughProxy(secure, { ca });
    expect(reading).toEqual(expect.objectContaining({ charge: 100, status: ['OL'] }));
    expect(reading.error).toBeUndefined();
    expect(wire).toContain('STARTTLS');
    for (const secret of [PASSWORD, 'USERNAME', 'battery.charge', 'LOGIN']) expect(wire).not.toContain(secret);
    expect(await secure.log('upsd')).toMatch(/User hecate@127\.0\.0\.1 logged into UPS \[ups\] \(SSL\)/);
  });

  it('tells a verified certificate from one it cannot verify (both encrypt)', async () => {
    const verified = new NutClient({ host: secure.host, port: secure.port, tls: { ca } });
    const unverified = new NutClient({ host: secure.host, port: secure.port });
    try {
      expect(await verified.getVar(secure.ups, 'ups.status')).toBe('OL');
      expect(await unverified.getVar(secure.ups, 'ups.status')).toBe('OL');
    } finally {
      await Promise.all([verified.close(), unverified.close()]);
    }
    expect(verified.security).toEqual(expect.objectContaining({ tls: true, verified: true }));
    expect(unverified.security).toEqual(
      expect.objectContaining({ tls: true, verified: false, why: 'SELF_SIGNED_CERT_IN_CHAIN' }),
    );
    console.info(`NUT STARTTLS: ${JSON.stringify(verified.security)}`);
  });

  it('given a upsd without a certificate on loopback, then the same login crosses in clear (what the proxy would see)', async () => {
    const { reading, wire } = await readThroughProxy(plain);
    expect(reading.charge).toBe(100);
    expect(wire).toContain('ERR FEATURE-NOT-CONFIGURED');
    expect(wire).toContain(`PASSWORD "${PASSWORD}"`);
  });
});

function evaluate(reading: UpsReading): UpsVerdict {
  return evaluateUps(reading, policy, systemClock.now());
}
