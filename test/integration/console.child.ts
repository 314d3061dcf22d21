/**
 * Starts `hecate console` for console.test.ts, in a tmux pane: `node --import tsx test/integration/console.child.ts
 * --plan P --kubeconfig K`. It calls runConsole directly, so the test does not depend on the command's registration
 * in cli/program.ts. Exits with the console's exit code.
 */
import { runConsole } from '../../cli/commands/console.js';
import { ExitError } from '../../cli/exit.js';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const plan = flag('--plan');
const kubeconfig = flag('--kubeconfig');
try {
  await runConsole(
    {
      execute: false,
      output: 'text',
      offline: args.includes('--offline'),
      ...(plan ? { plan } : {}),
      ...(kubeconfig ? { kubeconfig } : {}),
    },
    {
      stdout: (text) => process.stdout.write(text),
      stderr: (text) => process.stderr.write(text),
      env: process.env,
      cwd: process.cwd(),
      now: () => new Date(),
    },
  );
  process.exit(0);
} catch (error) {
  process.stderr.write(`hecate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof ExitError ? error.code : 1);
}
