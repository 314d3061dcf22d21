import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type OutageState, StateFile, StateFileError, type StateFileProblem } from '../../adapters/state-file.js';
import { outageRecord } from '../../core/api/progress.js';
import { ValidationError } from '../../core/api/validate.js';
import { stateFor } from './fixtures/state-writer.js';

const NAME = 'cluster_power_recovery.state';
let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hecate-state-'));
  path = join(dir, NAME);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const outageOnly: OutageState = {
  outage: outageRecord.parse({ inOutage: true, reason: 'planned', poweredOff: ['a'] }),
};

describe('StateFile round trip', () => {
  it.each([
    { case: 'an outage record only', state: outageOnly },
    { case: 'an outage record and progress', state: stateFor(7, 3) },
  ])('given $case, when saved and loaded, then the same state comes back', async ({ state }) => {
    const store = new StateFile(path);
    await store.save(state);
    expect(await new StateFile(path).load()).toEqual(state);
  });

  it('given no file, when loaded, then it is undefined and nothing is created', async () => {
    expect(await new StateFile(path).load()).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('given a saved state, when the file is read, then it is pretty JSON with apiVersion and kind', async () => {
    await new StateFile(path).save(outageOnly);
    const text = await readFile(path, 'utf8');
    expect(text).toMatch(/^\{\n {2}"apiVersion": "power\.hecate\.dev\/v1alpha1",\n {2}"kind": "OutageState",/);
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('given a missing folder, when saved, then the folder is created 0700 and the file is 0600', async () => {
    const nested = join(dir, 'state', 'deeper', NAME);
    await new StateFile(nested).save(outageOnly);
    expect((await stat(join(dir, 'state'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'state', 'deeper'))).mode & 0o777).toBe(0o700);
    expect((await stat(nested)).mode & 0o777).toBe(0o600);
  });

  it('given an existing 0644 file, when saved over, then the file is 0600', async () => {
    await new StateFile(path).save(outageOnly);
    await writeFile(path, await readFile(path), { mode: 0o644 });
    await new StateFile(path).save(stateFor(2, 1));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('given many saves, when done, then only the state file is in the folder', async () => {
    const store = new StateFile(path);
    for (let n = 1; n <= 5; n++) await store.save(stateFor(n, 2));
    expect(await readdir(dir)).toEqual([NAME]);
    expect((await store.load())?.outage.reason).toBe('write 5');
  });
});

describe('StateFile failed saves', () => {
  it('given a rename that fails (the target is a folder), when saved, then it throws and leaves no temp file', async () => {
    await mkdir(join(path, 'inside'), { recursive: true });
    await expect(new StateFile(path).save(outageOnly, { overwriteCorrupt: true })).rejects.toMatchObject({
      code: expect.stringMatching(/^(EISDIR|ENOTEMPTY|EEXIST)$/),
    });
    expect(await readdir(dir)).toEqual([NAME]);
  });

  it('given an unreadable target, when saved without overwriteCorrupt, then it refuses with StateFileError', async () => {
    await mkdir(path);
    const error = await new StateFile(path).save(outageOnly).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateFileError);
    expect(error).toMatchObject({ problem: 'unreadable', path });
  });

  it('given a state that does not match the schema, when saved, then ValidationError and nothing written', async () => {
    const bad = { outage: { ...outageOnly.outage, poweredOff: [42] } } as unknown as OutageState;
    const error = await new StateFile(path).save(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual(['outage.poweredOff[0]']);
    expect(await readdir(dir)).toEqual([]);
  });
});

const LEGACY =
  '# written by cluster_power_recovery.sh\nOUTAGE_ACTIVE=1\nexport SUSPENDED_KS="flux-system/apps"\n\nTOKEN=s3cr3t-value\n';

describe('StateFile bad files', () => {
  it.each<{ case: string; body: string; problem: StateFileProblem; expected: string[] }>([
    {
      case: 'truncated JSON',
      body: '{"apiVersion": "power.hecate.dev/v1al',
      problem: 'not-json',
      expected: ['not valid JSON'],
    },
    { case: 'text', body: 'hello world\n', problem: 'not-json', expected: ['not valid JSON'] },
    { case: 'an empty file', body: '', problem: 'empty', expected: ['is empty'] },
    { case: 'whitespace', body: '\n  \n', problem: 'empty', expected: ['is empty'] },
    {
      case: 'foreign JSON',
      body: '{"kind":"Other"}',
      problem: 'foreign',
      expected: ['not a Hecate state file', '  - apiVersion: ', '  - kind: '],
    },
    { case: 'a JSON array', body: '[]', problem: 'foreign', expected: ['not a Hecate state file', '(root)'] },
    {
      case: 'bad fields',
      body: JSON.stringify({
        apiVersion: 'power.hecate.dev/v1alpha1',
        kind: 'OutageState',
        outage: { inOutage: 'yes', poweredOff: ['a', 1] },
        progress: { action: 'reboot', planName: 'atlas' },
      }),
      problem: 'invalid',
      expected: [
        'does not match the schema',
        '  - outage.inOutage: Invalid input: expected boolean, received string',
        '  - outage.poweredOff[1]: ',
        '  - progress.action: ',
        '  - progress.mode: required',
        '  - progress.startedAt: required',
      ],
    },
    {
      case: 'a legacy KEY=value file',
      body: LEGACY,
      problem: 'legacy',
      expected: ['cluster_power_recovery.sh', 'OUTAGE_ACTIVE, SUSPENDED_KS, TOKEN', 'not by Hecate'],
    },
  ])('given $case, when loaded, then StateFileError($problem) explains it and the file is unchanged', async (t) => {
    await writeFile(path, t.body);
    const error = await new StateFile(path).load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StateFileError);
    expect(error).toMatchObject({ problem: t.problem, path });
    const message = (error as Error).message;
    for (const fragment of [`State file ${path} `, 'Hecate has not changed it', 'move', ...t.expected]) {
      expect(message).toContain(fragment);
    }
    expect(message).not.toContain('s3cr3t');
    expect(await readFile(path, 'utf8')).toBe(t.body);
    expect(await readdir(dir)).toEqual([NAME]);
  });

  it('given a file with bad fields, when loaded, then the cause is a ValidationError with every bad path', async () => {
    await writeFile(path, JSON.stringify({ apiVersion: 'v1', kind: 'OutageState', outage: { ignoredUps: 1 } }));
    const error = (await new StateFile(path).load().catch((e: unknown) => e)) as StateFileError;
    expect(error.cause).toBeInstanceOf(ValidationError);
    expect((error.cause as ValidationError).issues.map((i) => i.path)).toEqual(['apiVersion', 'outage.ignoredUps']);
  });

  it.each([
    { case: 'corrupt JSON', body: '{"outage": ', problem: 'not-json' },
    { case: 'foreign JSON', body: '{"kind":"Other"}', problem: 'foreign' },
    { case: 'a legacy file', body: LEGACY, problem: 'legacy' },
  ])('given $case, when saved over, then save refuses and the file is unchanged', async ({ body, problem }) => {
    await writeFile(path, body);
    await expect(new StateFile(path).save(outageOnly)).rejects.toMatchObject({ name: 'StateFileError', problem });
    expect(await readFile(path, 'utf8')).toBe(body);
    expect(await readdir(dir)).toEqual([NAME]);
  });

  it('given a legacy file, when saved with overwriteCorrupt, then it is replaced', async () => {
    await writeFile(path, LEGACY);
    await new StateFile(path).save(outageOnly, { overwriteCorrupt: true });
    expect(await new StateFile(path).load()).toEqual(outageOnly);
  });
});

describe('StateFile temp files', () => {
  const temp = (name: string) => join(dir, name);
  const oldTemp = `.${NAME}.123.abcdef.tmp`;
  const youngTemp = `.${NAME}.456.0123ab.tmp`;
  const unrelated = ['.other.state.123.abcdef.tmp', `${NAME}.bak`, `.${NAME}.x.abc.tmp`];

  it('given a half-written temp file beside the state, when loaded, then the temp file is ignored', async () => {
    await new StateFile(path).save(outageOnly);
    await writeFile(temp(oldTemp), '{"apiVersion": "power.hec');
    expect(await new StateFile(path).load()).toEqual(outageOnly);
  });

  it('given old, young and unrelated files, when stale temps are cleaned, then only the old temp goes', async () => {
    const now = new Date('2025-06-01T12:00:00Z');
    await new StateFile(path).save(outageOnly);
    for (const name of [oldTemp, youngTemp, ...unrelated]) await writeFile(temp(name), 'x');
    const twoMinutesAgo = new Date(now.getTime() - 120_000);
    for (const name of [oldTemp, ...unrelated]) await utimes(temp(name), twoMinutesAgo, twoMinutesAgo);
    await utimes(temp(youngTemp), now, now);

    const removed = await new StateFile(path).cleanStaleTemps(now);

    expect(removed).toEqual([temp(oldTemp)]);
    expect((await readdir(dir)).sort()).toEqual([NAME, youngTemp, ...unrelated].sort());
  });

  it('given no folder, when stale temps are cleaned, then nothing happens', async () => {
    expect(await new StateFile(join(dir, 'missing', NAME)).cleanStaleTemps()).toEqual([]);
  });
});
