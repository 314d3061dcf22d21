/**
 * The UPS watch during `startup --execute` (cli/run/ups-watch.ts): the pure trigger over sequences of readings,
 * and the whole CLI path on port fakes (the real runner, the real state file, the real UPS gate step over a fake
 * UPS): the startup stops at a safe point, the stop is recorded, the emergency shutdown runs to completion even
 * though power returns in the middle, and the command exits 3 with a message that says what to do.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateFile } from '../../adapters/state-file.js';
import { systemClock } from '../../adapters/system.js';
import type { CliDeps } from '../../cli/deps.js';
import { ExitError } from '../../cli/exit.js';
import type { CommonOptions } from '../../cli/options.js';
import type { CommandContext } from '../../cli/run/context.js';
import { executePlan } from '../../cli/run/execute.js';
import { startupTrigger } from '../../cli/run/ups-watch.js';
import type { ClusterWiring } from '../../cli/wiring.js';
import { type OutageRecord, outageRecord, type PlanStep, upsSpec } from '../../core/api/index.js';
import type { Gate } from '../../core/gates/index.js';
import { evaluateUps, type UpsVerdict, upsPolicy } from '../../core/gates/ups.js';
import type { OutageWatch } from '../../core/gates/watch.js';
import { compilePlan, StepKind } from '../../core/plan/index.js';
import type { UpsReading } from '../../core/ports/ups.js';
import type { Executors, StepExecutor } from '../../core/run/executor.js';
import { recordOutage } from '../../core/steps/outage.js';
import { upsGateExecutor } from '../../core/steps/ups.js';
import { atlasInput, atlasSpec } from '../helpers/atlas.js';

const SOURCE = 'ups@127.0.0.1:3493';
const policy = upsPolicy(upsSpec.parse({ source: 'static', minStartupCharge: 50, emergencyCharge: 30 }));
const T0 = Date.parse('2026-11-25T02:00:00Z');

type R = Partial<UpsReading> | 'dead' | 'refused';
const OL: R = { charge: 100, status: ['OL'] };
const dead: R = 'dead';

function reading(r: R): UpsReading {
  const readAt = new Date(T0);
  if (r === 'dead' || r === 'refused') {
    const message = r === 'dead' ? 'connect ECONNREFUSED 127.0.0.1:3493' : 'ERR ACCESS-DENIED';
    return { source: SOURCE, status: [], error: { fault: r === 'dead' ? 'unreachable' : 'refused', message }, readAt };
  }
  return { source: SOURCE, status: [], runtimeSeconds: 900, ...r, readAt };
}

/** The stop reasons, one per reading ('' = go on), the way the watch sees a sequence of readings. */
function run(readings: readonly R[], ignoreUps = false): string[] {
  let state: OutageWatch | undefined;
  return readings.map((r, i) => {
    const step = startupTrigger(state, evaluateUps(reading(r), policy, new Date(T0)), T0 + i * 1000, ignoreUps);
    state = step.state;
    return step.stop ?? '';
  });
}

describe('startupTrigger: when the UPS watch stops a startup', () => {
  it.each<{ when: string; readings: R[]; ignoreUps?: boolean; expected: string[] }>([
    {
      when: 'power fails and the charge falls under emergencyCharge',
      readings: [OL, { charge: 80, status: ['OB', 'DISCHRG'] }, { charge: 22, status: ['OB', 'DISCHRG'] }],
      expected: ['', '', `UPS ${SOURCE} on battery at 22% (emergency below 30%)`],
    },
    {
      when: 'on battery with low battery (LB) above the threshold',
      readings: [OL, { charge: 45, status: ['OB', 'LB'] }],
      expected: ['', `UPS ${SOURCE} on battery and reports low battery (ups.status OB LB, charge 45%)`],
    },
    {
      when: 'forced shutdown (FSD)',
      readings: [OL, { charge: 90, status: ['FSD', 'OL'] }],
      expected: ['', `UPS ${SOURCE} has forced shutdown set (ups.status FSD OL, charge 90%)`],
    },
    {
      when: 'on battery but above the threshold: the startup goes on',
      readings: [OL, { charge: 60, status: ['OB'] }, { charge: 55, status: ['OB'] }, OL],
      expected: ['', '', '', ''],
    },
    {
      when: 'a flapping network: failed reads while on line never stop the startup',
      readings: [OL, dead, OL, dead, dead, OL],
      expected: ['', '', '', '', '', ''],
    },
    {
      when: 'the UPS stops answering after it was seen on battery (upsmon: critical)',
      readings: [OL, { charge: 70, status: ['OB'] }, dead],
      expected: [
        '',
        '',
        `UPS ${SOURCE} stopped answering while on battery (connect ECONNREFUSED 127.0.0.1:3493); upsmon counts that as critical`,
      ],
    },
    {
      when: 'credentials refused: a configuration error, never an emergency',
      readings: [OL, { charge: 70, status: ['OB'] }, 'refused', 'refused'],
      expected: ['', '', '', ''],
    },
    {
      when: 'already an emergency at the first reading (power failed just after the gate)',
      readings: [{ charge: 20, status: ['OB'] }],
      expected: [`UPS ${SOURCE} on battery at 20% (emergency below 30%)`],
    },
    {
      when: '--ignore-ups with an emergency at the first reading: overridden until power returns and fails again',
      readings: [
        { charge: 20, status: ['OB'] },
        { charge: 15, status: ['OB', 'LB'] },
        dead,
        OL,
        { charge: 25, status: ['OB'] },
      ],
      ignoreUps: true,
      expected: ['', '', '', '', `UPS ${SOURCE} on battery at 25% (emergency below 30%)`],
    },
    {
      when: '--ignore-ups on battery above the threshold: the watch stays armed',
      readings: [
        { charge: 60, status: ['OB'] },
        { charge: 29, status: ['OB'] },
      ],
      ignoreUps: true,
      expected: ['', `UPS ${SOURCE} on battery at 29% (emergency below 30%)`],
    },
    {
      when: '--ignore-ups with a dead UPS at the start: stops only on a trustworthy emergency',
      readings: [dead, dead, { charge: 10, status: ['OB'] }],
      ignoreUps: true,
      expected: ['', '', `UPS ${SOURCE} on battery at 10% (emergency below 30%)`],
    },
  ])('given $when', ({ readings, ignoreUps, expected }) => {
    expect(run(readings, ignoreUps)).toEqual(expected);
  });
});

/** A UPS whose reading the test sets; counts reads and resolves `sawEmergency` on the first emergency verdict. */
class FakeUps implements Gate<UpsVerdict> {
  reads = 0;
  private current: UpsReading = { ...reading(OL), source: 'ups@fake' };
  private onEmergency: (() => void) | undefined;
  readonly sawEmergency = new Promise<void>((resolve) => {
    this.onEmergency = resolve;
  });
  set(r: Partial<UpsReading>): void {
    this.current = { source: 'ups@fake', status: [], ...r, readAt: new Date() };
  }
  async evaluate(): Promise<UpsVerdict> {
    this.reads++;
    const verdict = evaluateUps({ ...this.current, readAt: new Date() }, policy, new Date());
    if (verdict.emergency) this.onEmergency?.();
    return verdict;
  }
}

const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

describe('startup --execute under the UPS watch (port fakes)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-ups-watch-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function scenario(outage: OutageRecord | undefined) {
    const spec = atlasSpec();
    spec.ups = upsSpec.parse({
      source: 'nut',
      nut: { ups: 'ups', host: '127.0.0.1' },
      minStartupCharge: 50,
      emergencyCharge: 30,
      pollInterval: '20ms',
    });
    const statePath = join(dir, 'state');
    const stateFile = new RecordingStateFile(statePath);
    if (outage) await stateFile.save({ outage });
    const log = stateFile.log;
    const input = atlasInput({
      spec,
      execute: true,
      observed: { api: 'reachable', flux: { sourceReady: false } },
      paths: { repoSnapshot: join(dir, 'repo'), stateFile: statePath },
      ...(outage ? { outage } : {}),
    });
    const startup = compilePlan('startup', input);
    const ups = new FakeUps();
    let emergencyReads = -1;
    /** Logs `apply <step id>`, then does `work`. */
    const logged = (work?: () => Promise<void>): StepExecutor => ({
      check: async () => false,
      apply: async (step) => {
        log.push(`apply ${step.id}`);
        await work?.();
      },
    });
    const executorsFor = (steps: readonly PlanStep[]): Executors =>
      Object.fromEntries(steps.map((s) => [s.kind, logged()]));
    const wire = (w: { mode: string }): ClusterWiring => {
      const emergency = w.mode === 'emergency-shutdown';
      const executors: Executors = emergency
        ? {
            ...executorsFor(compilePlan('emergency-shutdown', input).steps),
            [StepKind.RecordOutage]: {
              check: recordOutage.check,
              apply: async (step, ctx) => {
                log.push(`apply ${step.id}`);
                await recordOutage.apply(step, ctx);
              },
            },
            // Power comes back during the emergency shutdown, for several poll intervals.
            [StepKind.SuspendFlux]: logged(async () => {
              emergencyReads = ups.reads;
              ups.set({ charge: 24, status: ['OL', 'CHRG'] });
              await tick(200);
            }),
          }
        : {
            ...executorsFor(startup.steps),
            [StepKind.UpsGate]: upsGateExecutor(ups),
            // Power fails while the first chain stage is in flight; the stage finishes after the watch saw it.
            [StepKind.ApplyChainStage]: {
              check: async () => false,
              apply: async (step) => {
                log.push(`apply ${step.id}`);
                if (step.id !== 'chain/core') return;
                ups.set({ charge: 22, runtimeSeconds: 240, status: ['OB', 'DISCHRG'] });
                await ups.sawEmergency;
                await tick(20);
                log.push('chain/core finished');
              },
            },
          };
      return { executors, guard: async () => true, ...(emergency ? {} : { upsGate: ups }), close: async () => {} };
    };
    const ctx: CommandContext = {
      plan: { name: 'atlas', spec, source: 'test' },
      paths: input.paths,
      stateFile,
      observed: input.observed,
      kubeConfig: new KubeConfig(),
      ...(outage ? { saved: { outage } } : {}),
    };
    let stderr = '';
    const deps: CliDeps = {
      stdout: () => {},
      stderr: (t) => {
        stderr += t;
      },
      env: {},
      cwd: dir,
      now: () => new Date(),
      isTTY: false,
    };
    const options: CommonOptions = { execute: true, output: 'text', offline: false };
    const error = await executePlan(
      startup,
      ctx,
      options,
      deps,
      (latest) =>
        compilePlan('emergency-shutdown', { ...input, ...(latest.saved ? { outage: latest.saved.outage } : {}) }),
      { wire, clock: systemClock },
    ).catch((e: unknown) => e);
    const emergencyIds = compilePlan('emergency-shutdown', input).steps.map((s) => s.id);
    return { error, log, stderr, state: await stateFile.load(), ups, emergencyReads, startup, emergencyIds };
  }

  it.each([
    {
      given: 'inside an outage window (the cold boot)',
      outage: outageRecord.parse({ inOutage: true, reason: 'planned shutdown' }),
    },
    { given: 'with no outage recorded (an unplanned cut)', outage: undefined },
  ])(
    'given $given, when the UPS goes on battery under the threshold during the chain, then the chain stops at a safe point and the emergency shutdown completes though power returns',
    async ({ outage }) => {
      const { error, log, stderr, state, ups, emergencyReads, startup, emergencyIds } = await scenario(outage);

      expect(error).toBeInstanceOf(ExitError);
      expect((error as ExitError).code).toBe(3);
      const reason = 'UPS ups@fake on battery at 22% (emergency below 30%)';
      expect((error as ExitError).message).toBe(
        `startup stopped by the UPS (${reason}); the emergency shutdown ran to completion. Rerun hecate startup --execute when power is stable.`,
      );
      const helm = startup.steps.findIndex((s) => s.id === 'chain/helm') + 1;
      expect(stderr).toContain(`Power failed again during the startup: ${reason}.`);
      expect(stderr).toContain(`stopped at a safe point before step ${helm} (chain/helm: `);

      // order: the chain stage in flight finished, the stop was recorded, then the emergency plan; no chain step after
      const stop = log.indexOf('recorded stopped before chain/helm');
      expect(stop).toBeGreaterThan(log.indexOf('chain/core finished'));
      const firstEmergency = log.findIndex((l) => l.startsWith(outage ? 'apply flux-suspend/' : 'apply outage/record'));
      expect(firstEmergency).toBeGreaterThan(stop);
      const core = startup.steps.findIndex((s) => s.id === 'chain/core');
      const later = new Set(startup.steps.slice(core + 1).map((s) => `apply ${s.id}`));
      expect(later.size).toBeGreaterThan(10);
      expect(log.filter((l) => later.has(l))).toEqual([]);
      expect(log.filter((l) => l.startsWith('apply chain/'))).toEqual(['apply chain/core']);

      // power returned during the emergency shutdown: no UPS read since the watch closed, every step done
      expect(emergencyReads).toBeGreaterThan(0);
      expect(ups.reads).toBe(emergencyReads);
      expect(state?.progress?.mode).toBe('emergency-shutdown');
      expect(state?.progress?.finishedAt).toBeDefined();
      expect(state?.progress?.steps.map((s) => `${s.id} ${s.state}`).sort()).toEqual(
        emergencyIds.map((id) => `${id} done`).sort(),
      );

      // the outage record says why the startup stopped and where
      expect(state?.outage.inOutage).toBe(true);
      expect(state?.outage.reason).toMatch(
        new RegExp(
          `^${outage ? 'planned shutdown; ' : 'emergency shutdown: '}startup stopped by the UPS watch before step chain/helm at \\S+Z: UPS ups@fake on battery at 22%`,
        ),
      );
    },
  );
});

/** The real state file, logging when a save first records a stop. */
class RecordingStateFile extends StateFile {
  readonly log: string[] = [];
  override async save(...args: Parameters<StateFile['save']>): Promise<void> {
    const stopped = args[0].progress?.stopped;
    if (stopped && !this.log.includes(`recorded stopped before ${stopped.beforeStep}`)) {
      this.log.push(`recorded stopped before ${stopped.beforeStep}`);
    }
    await super.save(...args);
  }
}
