/**
 * Ctrl-C: a real `hecate` child gets SIGINT as a terminal sends it. During an executing startup's
 * long wait (the API server on a closed port: the cold boot's "wait for the API"), it stops at a safe point, says it
 * was interrupted, exits 130 and leaves a whole state file that records the step in flight and where it stopped; a
 * rerun resumes there. With nothing executing (a status watch), Ctrl-C exits 130 at once. SIGTERM (`systemctl stop`)
 * takes the same safe stop and exits 143.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../bed/ports.js';
import { Interrupts } from '../../cli/interrupt.js';

const ROOT = resolve(import.meta.dirname, '../..');

interface Child {
  process: ChildProcess;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

function hecate(args: string[], home: string): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: home, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { process: child, stderr: () => stderr, stdout: () => stdout, exited };
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Ctrl-C', () => {
  let home: string;
  let plan: string;
  let kubeconfig: string;
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'hecate-interrupt-'));
    const [api, ups] = await freePorts(2); // free a moment ago: nothing listens on them
    plan = join(home, 'plan.yaml');
    const text = await readFile(join(ROOT, 'examples/atlas-powerplan.yaml'), 'utf8');
    await writeFile(plan, text.replace('port: 3493', `port: ${ups}`));
    kubeconfig = join(home, 'kubeconfig');
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        `clusters: [{ name: gone, cluster: { server: "https://127.0.0.1:${api}", insecure-skip-tls-verify: true } }]`,
        'users: [{ name: admin, user: { token: secret-token } }]',
        'contexts: [{ name: atlas, context: { cluster: gone, user: admin } }]',
        'current-context: atlas',
      ].join('\n'),
    );
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it('given an executing startup waiting for the API, then it stops at a safe point, says so and exits 130', async () => {
    const state = join(home, 'state');
    const args = ['startup', '--execute', '--ignore-ups', '--plan', plan, '--kubeconfig', kubeconfig];
    const run = hecate([...args, '--state-file', state], home);
    await until('the API wait', () => /→ 2\. Wait for the Kubernetes API/.test(run.stderr()));
    run.process.kill('SIGINT');
    expect(await run.exited).toBe(130);

    const stderr = run.stderr();
    expect(stderr).toContain('Interrupted: stopping at the next safe point');
    expect(stderr).toMatch(
      /^hecate: interrupted \(Ctrl-C\): stopped while waiting on step api\/wait \(Wait for the Kubernetes API[^\n]*\), which had acted: its wait was cut short and a rerun checks it again\. The state file records where; rerun the same command to resume\.$/m,
    );
    // whole JSON (written by rename), the step in flight recorded running, the stop recorded where it happened
    const saved = JSON.parse(await readFile(state, 'utf8'));
    expect(saved.progress.steps.map((s: { id: string; state: string }) => [s.id, s.state])).toEqual([
      ['power-gate/ups', 'done'],
      ['api/wait', 'running'],
    ]);
    expect(saved.progress.stopped).toMatchObject({
      beforeStep: 'api/wait',
      reason: 'interrupted by Ctrl-C',
      waitCut: true,
    });
    // the run lock was released on the way out; no temporary file left beside the state
    expect((await readdir(home)).filter((f) => f.startsWith('state'))).toEqual(['state']);

    // a rerun resumes: the gate is not asked again, the API wait is checked again
    const rerun = hecate([...args, '--state-file', state], home);
    await until('the resumed API wait', () => /→ 2\. Wait for the Kubernetes API/.test(rerun.stderr()));
    expect(rerun.stderr()).not.toMatch(/→ 1\. Check the UPS/);
    rerun.process.kill('SIGINT');
    expect(await rerun.exited).toBe(130);
  }, 120_000);

  it('given SIGTERM (systemctl stop) during an executing startup, then the same safe stop, exit 143', async () => {
    const state = join(home, 'state-term');
    const args = ['startup', '--execute', '--ignore-ups', '--plan', plan, '--kubeconfig', kubeconfig];
    const run = hecate([...args, '--state-file', state], home);
    await until('the API wait', () => /→ 2\. Wait for the Kubernetes API/.test(run.stderr()));
    run.process.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(run.stderr()).toContain('SIGTERM: stopping at the next safe point');
    expect(run.stderr()).toMatch(/^hecate: interrupted \(SIGTERM\): stopped while waiting on step api\/wait /m);
    const saved = JSON.parse(await readFile(state, 'utf8'));
    expect(saved.progress.steps.at(-1)).toMatchObject({ id: 'api/wait', state: 'running' });
    expect(saved.progress.stopped).toMatchObject({ beforeStep: 'api/wait', reason: 'stopped by SIGTERM' });
  }, 120_000);

  it('given a status watch (nothing executing), then it exits 130 at once saying interrupted', async () => {
    const run = hecate(['status', '--watch', '--offline', '--plan', plan, '--state-file', join(home, 'none')], home);
    await until('the first screen', () => run.stdout().includes('atlas'));
    run.process.kill('SIGINT');
    expect(await run.exited).toBe(130);
    expect(run.stderr()).toMatch(/^hecate: interrupted$/m);
  }, 60_000);
});

describe('Interrupts: what each Ctrl-C does', () => {
  it.each([
    { given: 'nothing holds it', holds: 0, signals: 1, exits: 1, aborted: false, said: /^\nhecate: interrupted\n$/ },
    { given: 'a run holds it', holds: 1, signals: 1, exits: 0, aborted: true, said: /stopping at the next safe point/ },
    { given: 'a run holds it, twice', holds: 1, signals: 2, exits: 1, aborted: true, said: /hecate: interrupted\n$/ },
    { given: 'a released hold', holds: -1, signals: 1, exits: 1, aborted: false, said: /^\nhecate: interrupted\n$/ },
  ])('given $given and $signals Ctrl-C, then $exits immediate exits', ({ holds, signals, exits, aborted, said }) => {
    let exited = 0;
    let text = '';
    const interrupts = new Interrupts(
      (code) => {
        expect(code).toBe(130);
        exited++;
      },
      (t) => {
        text += t;
      },
    );
    if (holds > 0) interrupts.hold();
    if (holds < 0) interrupts.hold()();
    for (let i = 0; i < signals; i++) interrupts.onSignal();
    expect(exited).toBe(exits);
    expect(interrupts.signal.aborted).toBe(aborted);
    if (aborted) expect(interrupts.signal.reason).toBe('interrupted by Ctrl-C');
    expect(text).toMatch(said);
  });

  it('given SIGTERM, then the same safe stop, in its own words, and 143 from a second one', () => {
    const codes: number[] = [];
    let text = '';
    const interrupts = new Interrupts(
      (code) => codes.push(code),
      (t) => {
        text += t;
      },
    );
    interrupts.hold();
    interrupts.onSignal('SIGTERM');
    expect(codes).toEqual([]);
    expect(interrupts.signal.reason).toBe('stopped by SIGTERM');
    expect(interrupts.cause).toEqual({ words: 'SIGTERM', code: 143 });
    interrupts.onSignal('SIGTERM');
    expect(codes).toEqual([143]);
    expect(text).toMatch(/hecate: terminated \(SIGTERM\)\n$/);
  });
});
