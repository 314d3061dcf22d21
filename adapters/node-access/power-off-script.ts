/**
 * The shell script both node-access transports run on the host before its power-off command: stop k3s and its
 * containers as `k3s-killall.sh` does ("the K3s containers continue running when the K3s service is stopped"), then
 * `exec` the command. Plain data: tests read its text, and it needs only POSIX sh, sed, awk, grep and /proc.
 *
 * NOTE: the helper pod's own container is a child of a k3s containerd shim. k3s-killall.sh kills every shim tree,
 * which would kill this script before it reaches the command; so the script never kills the processes it runs
 * under (its ancestors), and its own shim stays until the host goes down.
 */

export interface PowerOffScriptOptions {
  /** Stop the k3s services and their containers first (default true). Nothing happens where k3s is absent. */
  stopK3s?: boolean;
  /** Seconds the containers get after SIGTERM before SIGKILL (default 10). */
  containerGraceSeconds?: number;
  /**
   * The boot the power-off is meant for (the kubelet's bootID): on a host whose /proc/sys/kernel/random/boot_id
   * differs, the script prints why and exits 0 without touching anything. A request that arrives after the host went
   * down and came back (a helper pod the booting kubelet starts, a second deliverer's) is thereby void.
   */
  bootId?: string;
}

/** Printed, with the two boot IDs, when the host has booted since the request was made: nothing was done. */
export const STALE_BOOT_MARKER = 'hecate: this power-off was meant for another boot';

/** The kernel's boot ID, the one the kubelet reports as status.nodeInfo.bootID. */
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/**
 * A boot ID the guard (and a helper pod's label) can carry: letters, digits and inner dashes, at most 63 (a kubelet
 * reports a UUID). A transport given another sends the request without the guard, as before there was one.
 */
export function isBootId(value: string | undefined): value is string {
  return value !== undefined && /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(value);
}

/** The boot guard: first in the script, before anything is stopped. A host whose boot ID cannot be read runs on. */
function bootGuard(bootId: string): string {
  if (!isBootId(bootId))
    throw new RangeError(`bootId must be a boot ID (letters, digits, -), got ${JSON.stringify(bootId)}`);
  return `meant_for='${bootId}'
booted=$(cat ${BOOT_ID_FILE} 2>/dev/null || true)
if [ -n "$booted" ] && [ "$booted" != "$meant_for" ]; then
  echo "${STALE_BOOT_MARKER} ($meant_for); this host has booted since ($booted): not powering off"
  exit 0
fi`;
}

/** The boot a power-off command (the argv of {@link powerOffArgv}, or any words holding its script) is meant for. */
export function bootIdOf(words: readonly string[]): string | undefined {
  for (const word of words) {
    const found = /^meant_for='([A-Za-z0-9-]+)'$/m.exec(word);
    if (found) return found[1];
  }
  return undefined;
}

/** Printed on stdout right before the command runs: the SSH transport's proof that the command was sent. */
export const POWER_OFF_MARKER = 'hecate: running the power-off command';

/** `$0` of the script, as `ps` shows it on the host. */
export const POWER_OFF_SCRIPT_NAME = 'hecate-power-off';

/** `${d#/proc/}`: the pid of a /proc entry (kept out of the template literals below). */
const PID = ['$', '{d#/proc/}'].join('');

const HELPERS = String.raw`ppid_of() { sed -n 's/^PPid:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null; }
# The processes this script runs under (in a helper pod: its container's shim among them) are never killed.
mine=" $$ "
p=$(ppid_of $$)
while [ -n "$p" ] && [ "$p" -gt 1 ]; do mine="$mine$p "; p=$(ppid_of "$p"); done
# k3s's containerd shims, matched as k3s-killall.sh matches them.
shims() {
  for d in /proc/[0-9]*; do
    case "$mine" in *" ${PID} "*) continue ;; esac
    tr '\0' ' ' 2>/dev/null < "$d/cmdline" | grep -q 'k3s/data/[^/]*/bin/containerd-shim' && echo "${PID}"
  done
}
# The given processes and all their descendants.
tree() {
  for d in /proc/[0-9]*; do echo "${PID} $(ppid_of "${PID}")"; done | awk -v roots="$*" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    NF == 2 { parent[$1] = $2 }
    END { do { more = 0; for (c in parent) if (!(c in keep) && (parent[c] in keep)) { keep[c] = 1; more = 1 } } while (more)
          for (c in keep) print c }'
}
alive() { for q in "$@"; do [ -d "/proc/$q" ] && echo "$q"; done; }`;

function stopK3s(graceSeconds: number): string {
  return String.raw`# Stop the k3s services (the kubelet with them), as k3s-killall.sh does.
for unit in /etc/systemd/system/k3s*.service; do [ -s "$unit" ] && systemctl stop "$(basename "$unit")"; done
for service in /etc/init.d/k3s*; do [ -x "$service" ] && "$service" stop; done
# Then the containers: SIGTERM, up to ${graceSeconds} s to exit, then SIGKILL with their shims.
s=$(shims)
if [ -n "$s" ]; then
  procs=$(tree $s | grep -vxF "$(echo $s | tr ' ' '\n')")
  [ -n "$procs" ] && kill -TERM $procs 2>/dev/null
  i=0
  while [ "$i" -lt ${graceSeconds} ] && [ -n "$(alive $procs)" ]; do sleep 1; i=$((i + 1)); done
  kill -KILL $(tree $s) 2>/dev/null
fi`;
}

/** The script; the power-off command is its arguments (`sh -c SCRIPT hecate-power-off systemctl poweroff`). */
export function powerOffScript(options: PowerOffScriptOptions = {}): string {
  const grace = options.containerGraceSeconds ?? 10;
  if (!Number.isInteger(grace) || grace < 0 || grace > 3600) {
    throw new RangeError(`containerGraceSeconds must be an integer from 0 to 3600, got ${grace}`);
  }
  return [
    '# Hecate power-off: stop k3s and its containers if present, then run the power-off command ("$@").',
    'set -u',
    ...(options.bootId ? [bootGuard(options.bootId)] : []),
    ...(options.stopK3s === false ? [] : [HELPERS, stopK3s(grace)]),
    'sync',
    `echo '${POWER_OFF_MARKER}'`,
    'exec "$@"',
  ].join('\n');
}

/** argv for the host: `sh -c <script> hecate-power-off <command...>`, so the command is never re-quoted. */
export function powerOffArgv(command: readonly string[], options: PowerOffScriptOptions = {}): string[] {
  if (command.length === 0) throw new RangeError('the power-off command is empty');
  return ['sh', '-c', powerOffScript(options), POWER_OFF_SCRIPT_NAME, ...command];
}

/** Quotes words for a POSIX shell (the remote side of `ssh` joins its arguments and hands them to a shell). */
export function shellQuote(words: readonly string[]): string {
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", `'\\''`)}'`)).join(' ');
}
