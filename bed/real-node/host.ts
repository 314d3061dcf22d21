/**
 * What real nodes change on this machine, and how it is undone: each node claims a slot (./config.ts) recorded in
 * /run/hecate-real-nodes/slot-<index>.json with its owner process; the first claim records the machine as found
 * (the sysctls the kubelet and the CNI bridge set, which kubelet/CNI iptables chains exist, which mount points exist).
 * Releasing a slot removes its address, bridge and cgroups; releasing the last one restores the rest.
 *
 * A slot whose owner died without releasing it (SIGKILL: no cleanup ran) is released by the next claim, so a crashed
 * test run is undone by the next one. Synchronous on purpose: the reaper runs it from an `exit` handler.
 * /run is a tmpfs: after a reboot no record is left, and nothing needs undoing either.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { startTimeOf } from '../reaper.js';
import { type NodeSlot, nodeSlot, SLOT_PREFIX } from './config.js';

export const HOST_RECORD_DIR = '/run/hecate-real-nodes';
const PRISTINE = 'pristine.json';
const LOCK = 'lock';

/** /proc/sys paths the kubelet (setupKernelTunables) and the CNI bridge (isGateway) write. */
export const TOUCHED_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/ipv4/ip_forward',
] as const;
const IPTABLES = ['iptables', 'ip6tables'] as const;
const TABLES = ['filter', 'nat', 'mangle'] as const;
/** Chains the kubelet (KUBE-FIREWALL, the canaries, the hint) and CNI plugins create. */
const OWNED_CHAIN = /^(KUBE-|CNI-)/;

export interface Pristine {
  sysctls: Record<string, string>;
  /** `iptables/filter` → chains present before any real node ran. */
  chains: Record<string, string[]>;
  /** Mount points the nodes need that did not exist (created on the host's filesystem, removed at the end). */
  missingDirs: string[];
}

export interface SlotRecord {
  slot: NodeSlot;
  node: string;
  /** `<pid> <start time>` of the process that claimed it. */
  owner: string;
}

/** Claims a free slot for `node` (releasing slots of dead owners on the way); the first claim records the machine. */
export function claimSlot(node: string, mountPoints: readonly string[]): NodeSlot {
  return withLock(() => {
    releaseOrphans();
    if (!existsSync(join(HOST_RECORD_DIR, PRISTINE))) {
      writeFileSync(join(HOST_RECORD_DIR, PRISTINE), JSON.stringify(snapshotPristine(mountPoints)));
    }
    for (let index = 1; index <= 254; index++) {
      const path = slotPath(index);
      if (existsSync(path)) continue;
      const record: SlotRecord = { slot: nodeSlot(index), node, owner: ownerOf(process.pid) };
      writeFileSync(path, JSON.stringify(record), { flag: 'wx' });
      return record.slot;
    }
    throw new Error('No free real-node slot (254 in use)');
  });
}

/** Undoes the slot's changes; the last slot out restores the sysctls, iptables chains and mount points. */
export function releaseSlot(slot: NodeSlot): void {
  withLock(() => {
    undoSlot(slot);
    rmSync(slotPath(slot.index), { force: true });
    if (liveSlots().length === 0) restorePristine();
  });
}

/** Slots whose owner is gone: their nodes died with it (pdeathsig), their host changes stay until released here. */
function releaseOrphans(): void {
  for (const record of liveSlots()) {
    if (ownerAlive(record.owner)) continue;
    undoSlot(record.slot);
    rmSync(slotPath(record.slot.index), { force: true });
  }
  if (liveSlots().length === 0 && existsSync(join(HOST_RECORD_DIR, PRISTINE))) restorePristine();
}

function liveSlots(): SlotRecord[] {
  return readdirSync(HOST_RECORD_DIR)
    .filter((name) => /^slot-\d+\.json$/.test(name))
    .flatMap((name) => {
      try {
        return [JSON.parse(readFileSync(join(HOST_RECORD_DIR, name), 'utf8')) as SlotRecord];
      } catch {
        return [];
      }
    });
}

/** The node's address on lo, its bridge, and its (empty by now) cgroup folders in every hierarchy. */
export function undoSlot(slot: NodeSlot): void {
  quiet('ip', ['addr', 'del', `${slot.ip}/32`, 'dev', 'lo']);
  if (existsSync(`/sys/class/net/${slot.bridge}`)) quiet('ip', ['link', 'del', slot.bridge]);
  removeCgroups(slot.cgroupRoot);
}

/** Removes a cgroup root in every v1 hierarchy, deepest first; retries while the last processes exit. */
export function removeCgroups(root: string, timeoutMs = 5_000): string[] {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = cgroupHierarchies().flatMap((h) => removeTree(join(h, root)));
    if (left.length === 0 || Date.now() > deadline) return left;
    sleepSync(100);
  }
}

function removeTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const left = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => removeTree(join(dir, e.name)));
  try {
    rmdirSync(dir);
    return left;
  } catch {
    return [...left, dir];
  }
}

export function cgroupHierarchies(): string[] {
  return readdirSync('/sys/fs/cgroup', { withFileTypes: true })
    .filter((e) => e.isDirectory() || e.isSymbolicLink())
    .map((e) => join('/sys/fs/cgroup', e.name))
    .filter((dir, i, all) => all.indexOf(dir) === i && existsSync(join(dir, 'cgroup.procs')));
}

function snapshotPristine(mountPoints: readonly string[]): Pristine {
  const sysctls = Object.fromEntries(TOUCHED_SYSCTLS.map((key) => [key, readSysctl(key)]));
  const chains: Record<string, string[]> = {};
  for (const tool of IPTABLES) for (const table of TABLES) chains[`${tool}/${table}`] = listChains(tool, table);
  return { sysctls, chains, missingDirs: mountPoints.filter((dir) => !existsSync(dir)) };
}

function restorePristine(): void {
  const path = join(HOST_RECORD_DIR, PRISTINE);
  let pristine: Pristine;
  try {
    pristine = JSON.parse(readFileSync(path, 'utf8')) as Pristine;
  } catch {
    return;
  }
  for (const tool of IPTABLES) {
    for (const table of TABLES) {
      const before = new Set(pristine.chains[`${tool}/${table}`] ?? []);
      removeChains(
        tool,
        table,
        listChains(tool, table).filter((c) => OWNED_CHAIN.test(c) && !before.has(c)),
      );
    }
  }
  for (const [key, value] of Object.entries(pristine.sysctls)) {
    if (value !== '' && readSysctl(key) !== value) writeFileSync(join('/proc/sys', key), value);
  }
  for (const dir of [...pristine.missingDirs].reverse()) quietly(() => rmdirSync(dir));
  unlinkSync(path);
}

/** Deletes the rules that jump to `chains`, then the chains. */
function removeChains(tool: string, table: string, chains: string[]): void {
  if (chains.length === 0) return;
  const doomed = new Set(chains);
  for (const line of iptablesSave(tool, table)) {
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (!rule?.[1] || !rule[2]) continue;
    const target = /(?:^| )-j (\S+)/.exec(rule[2])?.[1];
    if (target && doomed.has(target) && !doomed.has(rule[1])) {
      quiet(tool, ['-w', '-t', table, '-D', rule[1], ...splitRule(rule[2])]);
    }
  }
  for (const chain of chains) quiet(tool, ['-w', '-t', table, '-F', chain]);
  for (const chain of chains) quiet(tool, ['-w', '-t', table, '-X', chain]);
}

/** iptables-save quotes comments with double quotes; nothing the kubelet writes has other quoting. */
function splitRule(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? '');
}

function iptablesSave(tool: string, table: string): string[] {
  try {
    return execFileSync(`${tool}-save`, ['-t', table], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(
      '\n',
    );
  } catch {
    return [];
  }
}

export function listChains(tool: string, table: string): string[] {
  return iptablesSave(tool, table).flatMap((line) =>
    /^:(\S+) /.exec(line)?.[1] ? [line.slice(1).split(' ')[0] ?? ''] : [],
  );
}

export function readSysctl(key: string): string {
  try {
    return readFileSync(join('/proc/sys', key), 'utf8').trim();
  } catch {
    return '';
  }
}

/** A fingerprint of everything real nodes touch, to compare before and after (the tests' "as found"). */
export function hostFingerprint(): Record<string, unknown> {
  const chains: Record<string, string[]> = {};
  for (const tool of IPTABLES) for (const table of TABLES) chains[`${tool}/${table}`] = listChains(tool, table).sort();
  const rules = Object.fromEntries(
    IPTABLES.flatMap((tool) =>
      TABLES.map((table) => [
        `${tool}/${table}`,
        iptablesSave(tool, table)
          .filter((l) => l.startsWith('-A'))
          .sort(),
      ]),
    ),
  );
  return {
    sysctls: Object.fromEntries(TOUCHED_SYSCTLS.map((key) => [key, readSysctl(key)])),
    chains,
    rules,
    loAddresses: execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.split(/\s+/)[3])
      .filter(Boolean)
      .sort(),
    links: readdirSync('/sys/class/net').sort(),
    cgroups: cgroupHierarchies()
      .flatMap((h) =>
        readdirSync(h)
          .filter((n) => n.startsWith(SLOT_PREFIX))
          .map((n) => join(h, n)),
      )
      .sort(),
    mountPoints: Object.keys(mountPointsExist()).sort(),
    slots: existsSync(HOST_RECORD_DIR) ? readdirSync(HOST_RECORD_DIR).sort() : [],
  };
}

function mountPointsExist(): Record<string, true> {
  const dirs = ['/var/lib/kubelet', '/var/lib/containerd', '/var/log/pods', '/var/log/containers', '/var/lib/cni'];
  return Object.fromEntries(dirs.filter((d) => existsSync(d)).map((d) => [d, true]));
}

/** A cross-process lock (mkdir is atomic); a holder dead for good is broken after 10 s. */
function withLock<T>(work: () => T): T {
  mkdirSync(HOST_RECORD_DIR, { recursive: true, mode: 0o700 });
  const lock = join(HOST_RECORD_DIR, LOCK);
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (Date.now() > deadline) {
        quietly(() => rmdirSync(lock));
        continue;
      }
      sleepSync(20);
    }
  }
  try {
    return work();
  } finally {
    quietly(() => rmdirSync(lock));
  }
}

function slotPath(index: number): string {
  return join(HOST_RECORD_DIR, `slot-${index}.json`);
}

export function ownerOf(pid: number): string {
  return `${pid} ${startTimeOf(pid) ?? ''}`;
}

function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.split(' ');
  const now = startTimeOf(Number(pid));
  return now !== undefined && (start === '' || start === now);
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function quiet(command: string, args: string[]): void {
  quietly(() => execFileSync(command, args, { stdio: 'ignore' }));
}

function quietly(work: () => unknown): void {
  try {
    work();
  } catch {
    // already undone
  }
}
