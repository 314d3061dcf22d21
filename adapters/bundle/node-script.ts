/**
 * What runs on the Harbor node: decompress the stream and import it into containerd, and list containerd's images.
 * Pure builders and parsers; both transports (SSH, helper pod) run the same scripts with `sh -c`.
 */
import type { NodeImage } from '../../core/ports/seed.js';
import { shellQuote } from '../node-access/power-off-script.js';

export interface CtrOptions {
  /** The ctr command (default: `k3s ctr` when k3s is on PATH, else `ctr`). */
  ctr?: readonly string[];
  /** containerd's socket (default: ctr's own, or k3s's for `k3s ctr`). */
  address?: string;
  /** How long ctr waits for the socket (default 3s; ctr's own default hangs 10 s on a dead socket). */
  connectTimeout?: string;
  /**
   * Also keep the compressed bundle in this folder on the node, written to a `.part` file and renamed once the
   * import succeeded. For k3s: `/var/lib/rancher/k3s/agent/images`, which k3s imports at every start and pins
   * against image garbage collection.
   */
  keepIn?: string;
  /** The name of the kept file (default harbor-bootstrap.tar.zst). */
  keepName?: string;
}

/** The containerd namespace the kubelet's CRI uses. */
export const K8S_NAMESPACE = 'k8s.io';

/**
 * Lines that define the shell function `c`: the ctr command with its global options.
 * NOTE: on a k3s node `k3s ctr` wins over a `ctr` on PATH, which may talk to another containerd.
 */
function findCtr(options: CtrOptions): string[] {
  const globals = shellQuote([
    ...(options.address ? ['--address', options.address] : []),
    '--connect-timeout',
    options.connectTimeout ?? '3s',
    '-n',
    K8S_NAMESPACE,
  ]);
  if (options.ctr) return [`c() { ${shellQuote(options.ctr)} ${globals} "$@"; }`];
  return [
    `if command -v k3s >/dev/null 2>&1; then c() { k3s ctr ${globals} "$@"; }`,
    `elif command -v ctr >/dev/null 2>&1; then c() { ctr ${globals} "$@"; }`,
    'else echo "neither k3s nor ctr is on PATH" >&2; exit 127; fi',
  ];
}

/**
 * Reads the zstd bundle on stdin, decompresses it and imports it for the platform `$1`. Exit status: ctr's when it
 * failed; 3 when zstd failed (a corrupt or truncated stream) while ctr did not; 0 otherwise.
 * NOTE: POSIX sh has no pipefail: zstd's status travels through a temporary file.
 */
export function importScript(options: CtrOptions = {}): string {
  const keep = options.keepIn
    ? `${options.keepIn.replace(/\/+$/, '')}/${options.keepName ?? 'harbor-bootstrap.tar.zst'}`
    : '';
  const source = keep ? `tee ${shellQuote([`${keep}.part`])} | zstd -dc` : 'zstd -dc';
  return [
    ...findCtr(options),
    'command -v zstd >/dev/null 2>&1 || { echo "zstd is not on PATH on this node" >&2; exit 127; }',
    'st=$(mktemp) || exit 1',
    `{ ${source} || echo "$?" > "$st"; } | c images import --platform "$1" -`,
    'rc=$?',
    'z=$(cat "$st"); rm -f "$st"',
    'if [ "$rc" -ne 0 ]; then exit "$rc"; fi',
    'if [ -n "$z" ]; then echo "zstd -dc failed (exit $z): the stream was cut or corrupt" >&2; exit 3; fi',
    ...(keep ? [`mv -f ${shellQuote([`${keep}.part`])} ${shellQuote([keep])}`] : []),
  ].join('\n');
}

/** `ctr images ls` in the k8s.io namespace. */
export function listScript(options: CtrOptions = {}): string {
  return [...findCtr(options), 'c images ls'].join('\n');
}

/**
 * Parses `ctr images ls`: REF TYPE DIGEST SIZE PLATFORMS LABELS, padded with spaces. SIZE holds a space
 * ("12.3 KiB"), so only the first three columns are read.
 */
export function parseImageList(output: string): NodeImage[] {
  const images: NodeImage[] = [];
  for (const line of output.split('\n')) {
    const match = /^(\S+)\s+(\S+)\s+(sha256:[0-9a-f]{64})\s/.exec(line);
    if (match?.[1] && match[3] && match[1] !== 'REF') images.push({ reference: match[1], digest: match[3] });
  }
  return images;
}
