/**
 * `hecate console` driven in a real terminal: tmux runs it in an 80×24 pane on a private server socket,
 * send-keys types, capture-pane reads the screen. Against the Atlas bed: the status is shown, a dry-run shutdown
 * changes nothing, an execute without the typed plan name is refused, and with it the shutdown runs; then the
 * nodes come back and a startup runs, its screen captured mid-run.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2e, startE2e } from '../../bed/e2e.js';
import { REPO_ROOT, requireBed } from '../../bed/index.js';
import { eventually } from '../../bed/simulators.js';

const bed = requireBed();

function tmuxAvailability(): { ok: boolean; reason?: string } {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'pipe' });
    return { ok: true };
  } catch {
    const reason = 'tmux is not installed (apt-get install tmux)';
    if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: integration tests may not skip)`);
    console.warn(`SKIP console tests: ${reason}`);
    return { ok: false, reason };
  }
}
const tmux = tmuxAvailability();

const SOCKET = `hecate-console-${process.pid}`;
const SESSION = 'console';
const run = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const screen = () => run('capture-pane', '-p', '-t', SESSION);
const keys = (...k: string[]) => run('send-keys', '-t', SESSION, ...k);
const type = (text: string) => run('send-keys', '-t', SESSION, '-l', text);

/** Waits for `what` on the screen; on timeout the error holds the last screen. */
async function shows(what: RegExp, timeoutMs = 30_000, intervalMs = 250): Promise<string> {
  let last = '';
  try {
    return await eventually(
      `the console to show ${what}`,
      () => {
        last = screen();
        return what.test(last) ? last : undefined;
      },
      { timeoutMs, intervalMs },
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\nlast screen:\n${last}`);
  }
}

describe.skipIf(!bed.ok || !tmux.ok)('hecate console in tmux on the Atlas bed', () => {
  let e2e: E2e;
  const captures: Record<string, string> = {};

  beforeAll(async () => {
    e2e = await startE2e({});
    // NOTE: CI=0: Ink draws only the last frame when it believes it runs in CI
    const env = Object.entries({ ...e2e.env, CI: '0', TERM: 'xterm-256color' }).map(([k, v]) => `${k}=${v}`);
    const command = [
      'env',
      '-i',
      ...env,
      process.execPath,
      '--import',
      'tsx',
      join(REPO_ROOT, 'test/integration/console.child.ts'),
      ...e2e.args(),
    ];
    const quoted = command.map((c) => `'${c.replace(/'/g, `'\\''`)}'`).join(' ');
    run('new-session', '-d', '-s', SESSION, '-x', '80', '-y', '24', '-c', REPO_ROOT, `${quoted}; sleep 600`);
  });
  afterAll(async () => {
    try {
      run('kill-server');
    } catch {
      // already gone
    }
    if (Object.keys(captures).length > 0) {
      const file = join(tmpdir(), `hecate-console-captures-${process.pid}.txt`);
      await writeFile(
        file,
        Object.entries(captures)
          .map(([k, v]) => `=== ${k}\n${v}`)
          .join('\n'),
      );
      console.info(`console captures: ${file}`);
    }
    await e2e?.stop();
  });

  it('shows the status: the health, the nodes, Flux, the chain and the UPS', async () => {
    captures.status = await shows(/Hecate · atlas · HEALTHY[\s\S]*Nodes {2}7\/7 Ready/, 60_000);
    expect(captures.status).toMatch(/Chain {2}core✓ helm✓ longhorn✓/);
    expect(captures.status).toMatch(/UPS {4}100% OL/);
    expect(captures.status.split('\n').every((line) => line.length <= 80)).toBe(true);
  });

  it('runs a dry-run shutdown first: the plan in the log pane, the prompt for the plan name, nothing changed', async () => {
    keys('s');
    captures.dryRun = await shows(/── exit 0[\s\S]*Type "atlas" \+ Enter to run shutdown --execute/);
    expect(captures.dryRun).toMatch(/── confirm/);
    expect(await e2e.mutations()).toEqual([]);
    expect(await e2e.state()).toBeUndefined();
  });

  it('refuses the execute when the typed text is not the plan name', async () => {
    type('atlsa');
    keys('Enter');
    captures.refused = await shows(/Refused: you typed "atlsa", not the plan name "atlas"; shutdown was not run/);
    expect(await e2e.mutations()).toEqual([]);
    expect(await e2e.state()).toBeUndefined();
  });

  it('runs shutdown --execute once the plan name is typed; the status follows (outage, nodes down)', async () => {
    // NOTE: a stopped run is rerun from the console as an operator would (it resumes); at most three attempts
    for (let attempt = 1; attempt <= 3; attempt++) {
      keys('s');
      await shows(/Type "atlas" \+ Enter to run shutdown --execute/, 60_000);
      type('atlas');
      keys('Enter');
      captures[`shutdown-${attempt}`] = await shows(/shutdown --execute (finished \(exit 0\)|stopped)/, 180_000);
      if (captures[`shutdown-${attempt}`]?.includes('finished (exit 0)')) break;
      keys('PPage');
      keys('PPage');
      captures[`shutdown-${attempt}-scrolled`] = screen();
      keys('NPage');
      keys('NPage');
      console.info(`console: shutdown attempt ${attempt} stopped; rerunning it from the console`);
    }
    const state = await e2e.state();
    expect(state?.outage.inOutage).toBe(true);
    expect(state?.progress?.finishedAt).toBeDefined();
    expect((await e2e.mutations()).length).toBeGreaterThan(0);
    captures.afterShutdown = await shows(/Outage IN AN OUTAGE; shutdown finished/);
  });

  it('startup after the power returns: the screen mid-startup, then the outage closed', async () => {
    for (const node of e2e.sims.kubelet.nodeNames) await e2e.sims.kubelet.powerOn(node);
    await shows(/Nodes {2}7\/7 Ready/, 60_000);
    keys('u');
    await shows(/Type "atlas" \+ Enter to run startup --execute/, 60_000);
    type('atlas');
    keys('Enter');
    captures.midStartup = await shows(/── execute ─/, 60_000, 50);
    captures.startup = await shows(/startup --execute (finished \(exit 0\)|stopped)/, 240_000);
    expect(captures.startup).toContain('startup --execute finished (exit 0)');
    expect((await e2e.state())?.outage.inOutage).toBe(false);
  });
});
