import { describe, expect, it } from 'vitest';
import type { Progress } from '../../../core/api/index.js';
import {
  type DrillFacts,
  type DrillModeRun,
  drillExitCode,
  drillReport,
  renderDrillReport,
} from '../../../core/drill/report.js';

const at = (s: number) => new Date(Date.UTC(2026, 11, 7, 2, 0, s)).toISOString();

function progress(mode: string, steps: [string, number, number, string?, string?][]): Progress {
  return {
    action: mode === 'startup' ? 'startup' : 'shutdown',
    mode,
    planName: 'atlas',
    startedAt: at(0),
    updatedAt: at(100),
    steps: steps.map(([id, start, end, state = 'succeeded', message]) => ({
      id,
      state: state as Progress['steps'][number]['state'],
      startedAt: at(start),
      finishedAt: at(end),
      ...(message ? { message } : {}),
    })),
  };
}

const SHUTDOWN: DrillModeRun = {
  mode: 'shutdown',
  code: 0,
  ms: 30_000,
  progress: progress('shutdown', [
    ['outage/record', 0, 1],
    ['flux-suspend/root', 1, 2],
    ['drain/titan-04', 2, 10],
    ['drain/titan-05', 2, 14],
    ['power-off/titan-04', 14, 20],
  ]),
  output: [
    'drain/titan-05  titan-05: escalating to force: 1 pod(s) still present after 30s at evict (PDB apps/web)',
    'drain/titan-05  titan-05: escalating to disable-eviction: 1 pod(s) still present after 30s at force',
  ].join('\n'),
};

const STARTUP_OK: DrillModeRun = {
  mode: 'startup',
  code: 0,
  ms: 10_000,
  progress: progress('startup', [
    ['nodes/ready', 30, 32],
    ['chain/core', 32, 33],
    ['chain/gitea', 33, 40],
    ['flux-resume/root', 40, 41],
  ]),
  output: '',
};

const STATE = {
  ready: { 'Deployment/gitea/gitea': 1, 'StatefulSet/apps/web': 3 },
  suspended: ['Kustomization/flux-system/apps'],
  cordoned: [],
};

function facts(overrides: Partial<DrillFacts> = {}): DrillFacts {
  return {
    capture: { server: 'https://atlas:6443', capturedAt: at(0), redacted: false, objects: 120 },
    speed: 10,
    runs: [{ mode: 'prepare', code: 0, ms: 2_000, output: '' }, SHUTDOWN, STARTUP_OK],
    powerCutMs: 5_000,
    before: STATE,
    after: STATE,
    notReplayed: [],
    snapshot: 'capture',
    ...overrides,
  };
}

describe('the drill report', () => {
  it('a rehearsal that came back: stages in order with bed time and the prediction scaled by the speed, exit 0', () => {
    const report = drillReport(facts());
    expect(report.verdict).toBe('back');
    expect(drillExitCode(report)).toBe(0);
    expect(report.stages.map((s) => [s.mode, s.stage, s.bedMs, s.predictedMs])).toEqual([
      ['shutdown', 'outage', 1_000, 10_000],
      ['shutdown', 'flux-suspend', 1_000, 10_000],
      ['shutdown', 'drain', 12_000, 120_000],
      ['shutdown', 'power-off', 6_000, 60_000],
      ['startup', 'nodes', 2_000, 20_000],
      ['startup', 'chain', 8_000, 80_000],
      ['startup', 'flux-resume', 1_000, 10_000],
    ]);
    expect(report.predicted).toEqual({ shutdownMs: 200_000, startupMs: 110_000 });
  });

  it('a timeline per node: when its drain started and ended, when its power-off was sent and seen, from the shutdown’s start', () => {
    const report = drillReport(facts());
    expect(report.nodes).toEqual([
      { node: 'titan-04', drainStartMs: 20_000, drainEndMs: 100_000, powerOffStartMs: 140_000, powerOffEndMs: 200_000 },
      { node: 'titan-05', drainStartMs: 20_000, drainEndMs: 140_000 },
    ]);
    const text = renderDrillReport(report);
    expect(text).toMatch(/titan-04 +drained 20\.0s → 1m40s +powered off 2m20s → 3m20s/);
    expect(text).toMatch(/titan-05 +drained 20\.0s → 2m20s +not powered off/);
  });

  it('a stage that comes back later is its own entry, so the outage record closed at the end does not span the startup', () => {
    const startup: DrillModeRun = {
      ...STARTUP_OK,
      progress: progress('startup', [
        ['outage/adopt', 30, 30],
        ['chain/core', 30, 38],
        ['outage/close', 38, 39],
      ]),
    };
    const stages = drillReport(facts({ runs: [SHUTDOWN, startup] })).stages.filter((s) => s.mode === 'startup');
    expect(stages.map((s) => [s.stage, s.bedMs])).toEqual([
      ['outage', 0],
      ['chain', 8_000],
      ['outage', 1_000],
    ]);
  });

  it('names each drain escalation: the node, the level and why, its time at the level scaled back by the speed', () => {
    expect(drillReport(facts()).escalations).toEqual([
      {
        node: 'titan-05',
        level: 'force',
        afterMs: 300_000,
        reason: '1 pod(s) still present after 5m0s at evict (PDB apps/web)',
      },
      {
        node: 'titan-05',
        level: 'disable-eviction',
        afterMs: 300_000,
        reason: '1 pod(s) still present after 5m0s at force',
      },
    ]);
  });

  it('a chain stage that failed: not back, exit 1, the step and its message named', () => {
    const failed: DrillModeRun = {
      ...STARTUP_OK,
      code: 1,
      progress: progress('startup', [
        ['nodes/ready', 30, 32],
        ['chain/gitea', 33, 34, 'failed', 'services/gitea is not in the repo snapshot'],
      ]),
    };
    const report = drillReport(facts({ runs: [SHUTDOWN, failed] }));
    expect(report.verdict).toBe('not-back');
    expect(drillExitCode(report)).toBe(1);
    expect(report.blockers).toEqual([
      'startup failed at chain/gitea: services/gitea is not in the repo snapshot',
      'prepare did not run: an earlier run failed',
    ]);
    expect(report.stages.find((s) => s.stage === 'chain')?.state).toBe('failed');
  });

  it('an end state that differs: workloads not back, Flux left suspended, nodes left cordoned; a suspension from before is not a difference', () => {
    const after = {
      ready: { 'Deployment/gitea/gitea': 0, 'StatefulSet/apps/web': 3 },
      suspended: ['Kustomization/flux-system/apps', 'Kustomization/flux-system/gitea'],
      cordoned: ['titan-04'],
    };
    const report = drillReport(facts({ after }));
    expect(report.differences).toEqual([
      'Deployment/gitea/gitea: 0 of 1 ready pods back',
      'Kustomization/flux-system/gitea: left suspended',
      'Node/titan-04: left cordoned',
    ]);
    expect(drillExitCode(report)).toBe(1);
  });

  it('a run that failed before recording a step is named with its last line', () => {
    const prepare: DrillModeRun = { mode: 'prepare', code: 2, ms: 100, output: 'x\nhecate: kubectl is not on PATH' };
    expect(drillReport(facts({ runs: [prepare] })).blockers[0]).toBe(
      'prepare exited 2: hecate: kubectl is not on PATH',
    );
  });

  it('the text names the verdict, the timeline, the escalations, the prediction and what a rehearsal cannot know', () => {
    const text = renderDrillReport(drillReport(facts()));
    expect(text).toMatch(/^Drill of https:\/\/atlas:6443 .*speed 10×\): CAME BACK/);
    expect(text).toMatch(/shutdown +drain +12\.0s → +2m0s/);
    expect(text).toContain('titan-05 → disable-eviction: 1 pod(s) still present after 5m0s at force');
    expect(text).toContain('Predicted outage: shutdown 3m20s, startup to Flux Ready 1m50s');
    expect(text).toContain('End state: as before the shutdown');
    expect(text).toMatch(/What a rehearsal cannot know:\n {2}- Simulated:/);
  });
});
