import { describe, expect, it } from 'vitest';
import { POWER_OFF_MARKER, shellQuote } from '../../../adapters/node-access/power-off-script.js';
import { powerOffOutcome, pullScript, remoteCommand, sshArgs } from '../../../adapters/node-access/ssh.js';

describe('sshArgs', () => {
  it('given a key, a port and an address, then ssh runs in batch mode, accepts new host keys and times out', () => {
    const args = sshArgs({ name: 'titan-04', address: '10.0.0.4' }, 'true', {
      user: 'root',
      keyFile: '/keys/id',
      port: 2222,
      connectTimeoutSeconds: 7,
      knownHostsFile: '/tmp/kh',
    });
    expect(args).toEqual([
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=accept-new',
      '-o', 'ConnectTimeout=7',
      '-o', 'ServerAliveInterval=5',
      '-o', 'ServerAliveCountMax=3',
      '-o', 'UserKnownHostsFile=/tmp/kh',
      '-i', '/keys/id', '-o', 'IdentitiesOnly=yes',
      '-p', '2222',
      'root@10.0.0.4',
      '--',
      'true',
    ]); // biome-ignore format: one option per line
  });

  it('given no address, then the node name is the host, port 22', () => {
    expect(sshArgs({ name: 'titan-04' }, 'true', { user: 'ops' }).slice(-4)).toEqual([
      '22',
      'ops@titan-04',
      '--',
      'true',
    ]);
  });
});

describe('remoteCommand', () => {
  it.each([
    [['systemctl', 'poweroff'], false, 'systemctl poweroff'],
    [['sh', '-c', "echo 'hi' $x"], false, `sh -c 'echo '\\''hi'\\'' $x'`],
    [['systemctl', 'poweroff'], true, 'sudo -n systemctl poweroff'],
  ])('quotes %j (sudo %s) once for the remote shell', (argv, sudo, line) => {
    expect(remoteCommand(argv, sudo)).toBe(line);
  });

  it('survives a round trip through sh', async () => {
    const { execa } = await import('execa');
    const words = ['a b', "it's", '$HOME', '`x`', '"q"', 'tab\there', ''];
    const { stdout } = await execa('sh', ['-c', `printf '%s\\n' ${shellQuote(words)}`]);
    expect(stdout.split('\n')).toEqual(words);
  });
});

describe('powerOffOutcome', () => {
  const sent = `${POWER_OFF_MARKER}\n`;
  it.each([
    [{ exitCode: 0, stdout: sent }, 'delivered'],
    [{ exitCode: 255, stdout: sent }, 'delivered'],
    [{ exitCode: undefined, stdout: sent, timedOut: true }, 'delivered'],
    [{ exitCode: undefined, stdout: sent, signal: 'SIGTERM' }, 'delivered'],
    [{ exitCode: 255, stdout: '' }, 'not-sent'],
    [{ exitCode: undefined, stdout: '', timedOut: true }, 'not-sent'],
    [{ exitCode: 1, stdout: sent }, 'failed'],
    [{ exitCode: 1, stdout: '' }, 'failed'],
  ])('given %j, then %s', (result, outcome) => {
    expect(powerOffOutcome(result)).toBe(outcome);
  });
});

describe('pullScript', () => {
  it('given no CRI client, then crictl is found on PATH, else through k3s', () => {
    const script = pullScript();
    expect(script).toContain('if command -v crictl');
    expect(script).toContain('c="k3s crictl"');
    expect(script).toContain('$c inspecti "$1"');
    expect(script.split('\n').at(-1)).toBe('exec $c pull "$1"');
  });
  it('given a dry run, then it only looks', () => {
    expect(pullScript(['/opt/crictl'], true)).toBe(`c=/opt/crictl\nexec $c inspecti "$1" >/dev/null`);
  });
});
