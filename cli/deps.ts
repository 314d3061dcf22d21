/** What a command may touch. main.ts wires the real process; tests pass their own. */
export interface CliDeps {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  now(): Date;
}
