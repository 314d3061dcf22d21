/** Host names in Flux source URLs and image references. Pure string functions. */

/**
 * The host of a clone or pull URL: `ssh://git@host:22/path`, `git@host:path`, `https://host/path`,
 * `oci://host/path`, a bare `host:port` endpoint. Lower-case, without user or port; undefined when none.
 */
export function hostOfUrl(url: string): string | undefined {
  const text = url.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(text);
  if (scheme) return cleanHost(scheme[1] ?? '');
  const scp = /^(?:[^@/\s]+@)?([^:/\s]+):(?!\d+(\/|$))/.exec(text);
  if (scp) return cleanHost(scp[1] ?? '');
  return cleanHost(text.split('/')[0] ?? '');
}

function cleanHost(authority: string): string | undefined {
  const host = authority
    .replace(/^.*@/, '')
    .replace(/^\[(.*)\](:\d+)?$/, '$1')
    .replace(/:\d+$/, '')
    .toLowerCase();
  return /^[a-z0-9*]([a-z0-9.*_-]*[a-z0-9])?$/.test(host) ? host : undefined;
}

/**
 * The registry host of an image reference (`host[:port]/repo:tag`). Docker's rule: the first segment is a host
 * only when it has a "." or ":" or is "localhost"; otherwise the image is on Docker Hub.
 */
export function registryOfImage(image: string): string {
  const first = image.split('/')[0] ?? '';
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return first.replace(/:\d+$/, '').toLowerCase();
  }
  return 'docker.io';
}

/** True when `served` (exact or `*.domain` wildcard) covers `host`. */
export function hostMatches(served: string, host: string): boolean {
  if (served === host) return true;
  return served.startsWith('*.') && host.endsWith(served.slice(1)) && !host.slice(0, -served.length + 1).includes('.');
}

/** Hosts in a Traefik rule: Host(`a`, `b`) and HostSNI(`c`); HostRegexp is not decidable and is skipped. */
export function hostsInTraefikRule(rule: string): string[] {
  const hosts: string[] = [];
  for (const call of rule.matchAll(/\bHost(?:SNI)?\(([^)]*)\)/g)) {
    for (const arg of (call[1] ?? '').matchAll(/[`"']([^`"']+)[`"']/g)) {
      if (arg[1] && arg[1] !== '*') hosts.push(arg[1]);
    }
  }
  return hosts;
}
