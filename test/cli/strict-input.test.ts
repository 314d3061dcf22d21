import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliResult } from '../../bed/e2e.js';
import { binaryOffset, MAX_PLAN_BYTES } from '../../cli/load-plan.js';
import { API_VERSION } from '../../core/api/index.js';
import { fromYaml, toYaml } from '../../core/api/yaml.js';
import { ATLAS_PLAN_PATH } from '../helpers/atlas.js';
import { folderChecksums, hecate, withHome } from '../helpers/cli.js';

// biome-ignore lint/suspicious/noExplicitAny: plan documents are broken on purpose, field by field
type Doc = Record<string, any>;

const ATLAS_TEXT = readFileSync(ATLAS_PLAN_PATH, 'utf8');
const GOOD_STATE = `${JSON.stringify({ apiVersion: API_VERSION, kind: 'OutageState', outage: { inOutage: false } })}\n`;

/** The Atlas plan as YAML after `edit`. */
function atlasWith(edit: (doc: Doc) => void): string {
  const doc = fromYaml(ATLAS_TEXT) as Doc;
  edit(doc);
  return toYaml(doc);
}

/** The Atlas plan's text padded with a trailing comment to exactly `size` bytes. */
function atlasOfSize(size: number): string {
  const pad = size - Buffer.byteLength(ATLAS_TEXT) - 3;
  return `${ATLAS_TEXT}# ${'x'.repeat(pad)}\n`;
}

/** The Atlas plan's bytes with `bytes` inserted at `offset`. */
function atlasWithBytes(offset: number, bytes: number[]): Buffer {
  const text = Buffer.from(ATLAS_TEXT);
  return Buffer.concat([text.subarray(0, offset), Buffer.from(bytes), text.subarray(offset)]);
}

interface Case {
  plan: string | Buffer;
  /** The state file's content; a valid one by default. */
  state?: string;
  firstLine: string;
  /** Further lines stderr must hold, in this order, right after the first one. */
  lines?: string[];
}

/** `hecate shutdown --offline` (a dry-run) on `~/plan.yaml` with the state file `~/state/power.state`. */
async function run(home: string, c: Case): Promise<CliResult & { stateChanged: boolean }> {
  const stateDir = join(home, 'state');
  await mkdir(stateDir, { recursive: true });
  await writeFile(join(stateDir, 'power.state'), c.state ?? GOOD_STATE);
  await writeFile(join(home, 'plan.yaml'), c.plan);
  const before = JSON.stringify(await folderChecksums(stateDir));
  const result = await hecate(
    ['shutdown', '--plan', join(home, 'plan.yaml'), '--offline', '--state-file', join(stateDir, 'power.state')],
    home,
  );
  return { ...result, stateChanged: JSON.stringify(await folderChecksums(stateDir)) !== before };
}

const TOO_BIG = MAX_PLAN_BYTES + 1;

describe('hecate refuses bad input files with exit 2, before acting and without touching the state folder', () => {
  it.each<[string, Case]>([
    [
      'a misspelled field under spec.powerOff (methd: ssh)',
      {
        plan: atlasWith((doc) => {
          doc.spec.powerOff = { methd: 'ssh', command: ['systemctl', 'poweroff'] };
        }),
        firstLine: 'hecate: ~/plan.yaml is invalid:',
        lines: ['  - spec.powerOff.methd: unknown field "methd" (did you mean "method"?)'],
      },
    ],
    [
      'a misspelled field under spec (drian:)',
      {
        plan: atlasWith((doc) => {
          doc.spec.drian = doc.spec.drain;
          delete doc.spec.drain;
        }),
        firstLine: 'hecate: ~/plan.yaml is invalid:',
        lines: ['  - spec.drian: unknown field "drian" (did you mean "drain"?)'],
      },
    ],
    [
      'made-up keys in chain stages',
      {
        plan: atlasWith((doc) => {
          doc.spec.bootstrapChain[1].retries = 3;
          doc.spec.bootstrapChain[3].timout = '5m';
        }),
        firstLine: 'hecate: ~/plan.yaml is invalid:',
        lines: [
          '  - spec.bootstrapChain[1].retries: unknown field "retries"',
          '  - spec.bootstrapChain[3].timout: unknown field "timout" (did you mean "timeout"?)',
        ],
      },
    ],
    [
      'two unknown keys at once, in different objects',
      {
        plan: atlasWith((doc) => {
          doc.spec.ups.nut.credentialsFlie = '/etc/nut/creds';
          doc.spec.Nodes = [];
        }),
        firstLine: 'hecate: ~/plan.yaml is invalid:',
        lines: [
          '  - spec.ups.nut.credentialsFlie: unknown field "credentialsFlie" (did you mean "credentialsFile"?)',
          '  - spec.Nodes: unknown field "Nodes"',
        ],
      },
    ],
    [
      'an unknown field in the state file',
      {
        plan: ATLAS_TEXT,
        state: `${JSON.stringify({ apiVersion: API_VERSION, kind: 'OutageState', outage: { cordonedByHecat: [] } })}\n`,
        firstLine: 'hecate: State file ~/state/power.state does not match the schema:',
        lines: ['  - outage.cordonedByHecat: unknown field "cordonedByHecat" (did you mean "cordonedByHecate"?)'],
      },
    ],
    [
      'a plan file one byte over 1 MiB',
      {
        plan: atlasOfSize(TOO_BIG),
        firstLine: `hecate: ~/plan.yaml is too large for a PowerPlan file: ${TOO_BIG} bytes, over the limit of 1048576 bytes (1 MiB)`,
      },
    ],
    [
      'a plan file of 5 MiB',
      {
        plan: atlasOfSize(5 * MAX_PLAN_BYTES),
        firstLine: `hecate: ~/plan.yaml is too large for a PowerPlan file: 5242880 bytes, over the limit of 1048576 bytes (1 MiB)`,
      },
    ],
    [
      'a NUL byte in the plan',
      {
        plan: atlasWithBytes(100, [0x00, 0x01, 0x02]),
        firstLine: 'hecate: ~/plan.yaml is not a text file (binary data at byte offset 100)',
      },
    ],
    [
      'bytes that are not UTF-8 (Latin-1 "é")',
      {
        plan: atlasWithBytes(200, [0xe9, 0x41]),
        firstLine: 'hecate: ~/plan.yaml is not a text file (binary data at byte offset 200)',
      },
    ],
    [
      'a PNG image saved as plan.yaml',
      {
        plan: Buffer.concat([
          Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
          Buffer.alloc(64, 7),
        ]),
        firstLine: 'hecate: ~/plan.yaml is not a text file (binary data at byte offset 0)',
      },
    ],
    [
      'a plan cut inside a UTF-8 character',
      {
        plan: Buffer.concat([Buffer.from(`${ATLAS_TEXT}# €`).subarray(0, -1)]),
        firstLine: `hecate: ~/plan.yaml is not a text file (binary data at byte offset ${Buffer.byteLength(ATLAS_TEXT) + 2})`,
      },
    ],
  ])('given %s', async (_case, c) => {
    await withHome(async (home) => {
      const result = await run(home, c);
      expect(result.code).toBe(2);
      const lines = result.stderr.split('\n');
      expect(lines[0]).toBe(c.firstLine);
      if (c.lines) expect(lines.slice(1, 1 + c.lines.length)).toEqual(c.lines);
      else expect(result.stderr).toBe(`${c.firstLine}\n`);
      expect(result.stdout).toBe('');
      expect(result.stateChanged).toBe(false);
      // NOTE: a binary file's bytes are never echoed: no control characters, no replacement characters.
      const echoed = [...result.stderr].filter((ch) => (ch < ' ' && ch !== '\n') || ch === '\ufffd');
      expect(echoed).toEqual([]);
    });
  });

  it.each<[string, string | Buffer]>([
    ['exactly 1 MiB', atlasOfSize(MAX_PLAN_BYTES)],
    ['UTF-8 beyond ASCII (é, €, 𝄞) in a comment', `${ATLAS_TEXT}# é € 𝄞\n`],
    ['a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(ATLAS_TEXT)])],
  ])('given a plan of %s, the dry-run runs (exit 0)', async (_case, plan) => {
    await withHome(async (home) => {
      const result = await run(home, { plan, firstLine: '' });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('atlas');
      expect(result.stateChanged).toBe(false);
    });
  });
});

describe('the PowerPlan in the repo snapshot (~/hecate-repo)', () => {
  async function snapshotRun(home: string, files: Record<string, string | Buffer>): Promise<CliResult> {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(home, 'hecate-repo', name, '..'), { recursive: true });
      await writeFile(join(home, 'hecate-repo', name), content);
    }
    return hecate(['shutdown', '--offline', '--state-file', join(home, 'power.state')], home);
  }

  const bigConfigMap = `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: big }\ndata:\n  blob: "${'y'.repeat(2 * MAX_PLAN_BYTES)}"\n`;

  it('is found beside a YAML file over 1 MiB and a binary .yaml, which are skipped', async () => {
    await withHome(async (home) => {
      const result = await snapshotRun(home, {
        'clusters/atlas/powerplan.yaml': ATLAS_TEXT,
        'infrastructure/crds/big.yaml': bigConfigMap,
        'infrastructure/blob.yaml': Buffer.from([0x6b, 0x69, 0x6e, 0x64, 0x00, 0xff]),
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('atlas');
    });
  });

  it.each<[string, string, string]>([
    [
      'over 1 MiB',
      atlasOfSize(TOO_BIG),
      `hecate: ~/hecate-repo/clusters/atlas/powerplan.yaml is too large for a PowerPlan file: ${TOO_BIG} bytes, over the limit of 1048576 bytes (1 MiB)`,
    ],
    [
      'with an unknown field',
      atlasWith((doc) => {
        doc.spec.powerOff.methd = 'ssh';
        delete doc.spec.powerOff.method;
      }),
      'hecate: ~/hecate-repo/clusters/atlas/powerplan.yaml is invalid:',
    ],
  ])('is refused when it is %s (exit 2)', async (_case, plan, firstLine) => {
    await withHome(async (home) => {
      const result = await snapshotRun(home, { 'clusters/atlas/powerplan.yaml': plan });
      expect(result.code).toBe(2);
      expect(result.stderr.split('\n')[0]).toBe(firstLine);
    });
  });
});

describe('binaryOffset', () => {
  it.each<[string, number[], boolean, number | undefined]>([
    ['ASCII', [0x61, 0x62, 0x0a], false, undefined],
    ['empty', [], false, undefined],
    ['a NUL', [0x61, 0x00, 0x62], false, 1],
    ['a lone continuation byte', [0x61, 0x62, 0x80], false, 2],
    ['an overlong "/" (C0 AF)', [0x61, 0xc0, 0xaf], false, 1],
    ['a UTF-16 surrogate (ED A0 80)', [0x61, 0x62, 0xed, 0xa0, 0x80], false, 2],
    ['a lead byte, then ASCII (E9 41)', [0x61, 0xe9, 0x41], false, 1],
    ['a 4-byte lead, then a NUL', [0x61, 0xf0, 0x9f, 0x00], false, 1],
    ['a 0xFF', [0xff], false, 0],
    ['é as UTF-8 (C3 A9)', [0xc3, 0xa9], false, undefined],
    ['€ cut at the end of the file', [0x61, 0xe2, 0x82], false, 1],
    ['€ cut at the end of a head read', [0x61, 0xe2, 0x82], true, undefined],
    ['invalid UTF-8 before a NUL', [0x61, 0xff, 0x00], false, 1],
  ])('%s → %s', (_case, bytes, cut, expected) => {
    expect(binaryOffset(Uint8Array.from(bytes), cut)).toBe(expected);
  });
});
