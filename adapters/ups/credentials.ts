/**
 * NUT credentials from a file: `username password` on one line, or the username on the first line and the password
 * on the second (then the password may hold spaces). The password never appears in a log, an error, JSON or
 * `util.inspect` output: it lives in a private field and is read only by the NUT client when it sends PASSWORD.
 */
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';

/** The credentials file is missing, unreadable or malformed. The message names the file, never its content. */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
}

export class NutCredentials {
  readonly #password: string;

  constructor(
    readonly username: string,
    password: string,
    /** Where they came from, for messages. */
    readonly origin = 'inline',
  ) {
    this.#password = password;
  }

  /** The secret itself, for the PASSWORD command only. */
  revealPassword(): string {
    return this.#password;
  }

  /** Replaces every occurrence of the password in `text`, for messages that quote what a server sent. */
  redact(text: string): string {
    return this.#password.length > 0 ? text.split(this.#password).join('<redacted>') : text;
  }

  toJSON(): Record<string, string> {
    return { username: this.username, password: '<redacted>', origin: this.origin };
  }

  toString(): string {
    return `NutCredentials(${this.username} from ${this.origin})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** Printable, no whitespace at the ends; no control characters (a newline would inject a NUT command). */
const FIELD = /^[^\s\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u;

/** Parses the file's text. `origin` (the path) is used in messages; the text never is. */
export function parseCredentials(text: string, origin: string): NutCredentials {
  const lines = text
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  const expected = 'expected "username password" on one line, or the username and the password on two lines';
  let username: string | undefined;
  let password: string | undefined;
  if (lines.length === 1) [username, password] = splitOnce(lines[0] ?? '');
  else if (lines.length === 2) [username, password] = [lines[0], lines[1]];
  if (!username || !password) throw new CredentialsError(`NUT credentials file ${origin}: ${expected}`);
  if (/\s/.test(username) || !FIELD.test(username) || !FIELD.test(password)) {
    throw new CredentialsError(
      `NUT credentials file ${origin}: the username must be one word and neither field may hold control characters`,
    );
  }
  return new NutCredentials(username, password, origin);
}

function splitOnce(line: string): [string | undefined, string | undefined] {
  const match = /^(\S+)\s+(\S.*)$/.exec(line);
  return match ? [match[1], match[2]] : [undefined, undefined];
}

/** Reads and parses a credentials file. Errors name the file and the OS reason, never the content. */
export async function loadCredentials(path: string): Promise<NutCredentials> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new CredentialsError(`NUT credentials file ${path} cannot be read (${code})`);
  }
  return parseCredentials(text, path);
}
