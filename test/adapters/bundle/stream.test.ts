import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeStreamFailure } from '../../../adapters/bundle/seed-ssh.js';
import { streamFileInto } from '../../../adapters/bundle/stream.js';

describe('streamFileInto', () => {
  let dir: string;
  let file: string;
  const bytes = randomBytes(5 * 1024 * 1024 + 123);
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-stream-'));
    file = join(dir, 'bundle');
    await writeFile(file, bytes);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sends every byte, hashes them and reports progress up to the size', async () => {
    const seen: number[] = [];
    const result = await streamFileInto('sh', ['-c', 'wc -c'], file, { onProgress: (n) => seen.push(n) });
    expect(result).toMatchObject({ exitCode: 0, sent: bytes.length, stdout: `${bytes.length}\n` });
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(seen.at(-1)).toBe(bytes.length);
    expect(describeStreamFailure(result, 'n')).toBeUndefined();
  });

  it('given a child that stops reading and fails, then the failure names how far it got and what it said', async () => {
    const result = await streamFileInto('sh', ['-c', 'head -c 1000 >/dev/null; echo "ctr: broken" >&2; exit 4'], file);
    expect(result.exitCode).toBe(4);
    expect(result.sent).toBeLessThan(bytes.length);
    expect(describeStreamFailure(result, 'titan-05', bytes.length)).toMatch(
      new RegExp(`^the import on titan-05 failed after \\d+ of ${bytes.length} bytes \\(exit 4\\): ctr: broken$`),
    );
  });

  it('given an abort, then the child is stopped', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop')), 50);
    const result = await streamFileInto('sh', ['-c', 'exec sleep 30'], file, { signal: controller.signal });
    expect(result.signal).toBe('SIGTERM');
  });
});
