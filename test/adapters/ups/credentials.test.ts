import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialsError,
  loadCredentials,
  NutCredentials,
  parseCredentials,
} from '../../../adapters/ups/credentials.js';

const SECRET = 'correct horse battery';

describe('parseCredentials', () => {
  it.each([
    ['one line', 'hecate s3cret\n', 'hecate', 's3cret'],
    ['one line, password with spaces', `hecate ${SECRET}`, 'hecate', SECRET],
    ['two lines', `hecate\n${SECRET}\n`, 'hecate', SECRET],
    ['two lines, CRLF and a comment', `# for upsd\r\nhecate\r\n${SECRET}\r\n`, 'hecate', SECRET],
  ])('given %s, then the username and the password are read', (_name, text, username, password) => {
    const credentials = parseCredentials(text, '/etc/hecate/nut');
    expect(credentials.username).toBe(username);
    expect(credentials.revealPassword()).toBe(password);
  });

  it.each([
    ['an empty file', ''],
    ['a username only', 'hecate'],
    ['three lines', `hecate\n${SECRET}\nmore`],
    ['a username with a space on two lines', `he cate\n${SECRET}`],
    ['a control character', `hecate ${SECRET}\u0007`],
  ])('given %s, then a CredentialsError names the file and never the content', (_name, text) => {
    const error = (() => {
      try {
        parseCredentials(text, '/etc/hecate/nut');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error).toBeInstanceOf(CredentialsError);
    expect(error?.message).toMatch(/^NUT credentials file \/etc\/hecate\/nut: /);
    expect(error?.message).not.toContain('correct horse');
  });
});

describe('NutCredentials never shows the password', () => {
  const credentials = new NutCredentials('hecate', SECRET, '/etc/hecate/nut');
  it.each([
    ['JSON', () => JSON.stringify({ credentials })],
    ['util.inspect', () => inspect({ credentials }, { depth: 5, showHidden: true })],
    ['String()', () => String(credentials)],
    ['a template', () => `${credentials}`],
    ['Object.entries', () => JSON.stringify(Object.entries(credentials))],
  ])('given %s, then the password is absent', (_name, render) => {
    const text = render();
    expect(text).toContain('hecate');
    expect(text).not.toContain('correct horse');
  });

  it('redacts the password in text quoted from a server', () => {
    expect(credentials.redact(`ERR x ${SECRET}!`)).toBe('ERR x <redacted>!');
  });
});

describe('loadCredentials', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hecate-creds-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file', async () => {
    const file = join(dir, 'nut');
    await writeFile(file, `hecate ${SECRET}\n`, { mode: 0o600 });
    expect((await loadCredentials(file)).revealPassword()).toBe(SECRET);
  });

  it('given a missing file, then the error names the file and the OS reason', async () => {
    await expect(loadCredentials(join(dir, 'missing'))).rejects.toThrow(
      new CredentialsError(`NUT credentials file ${join(dir, 'missing')} cannot be read (ENOENT)`),
    );
  });
});
