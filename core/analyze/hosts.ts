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

const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}/g;
const PLACEHOLDER = /hecatevar(\d+)x/g;

/** True when `host` still holds a `${VAR}` that the repo does not resolve (a template, not a name). */
export function isTemplate(host: string): boolean {
  return host.includes('${');
}

/**
 * The host of a text that still holds unresolved `${VAR}`s, as a template (`harbor.${SECRET_DOMAIN}`): `extract` is
 * {@link hostOfUrl} or {@link registryOfImage}, run with each variable stood in by a placeholder. Defaults
 * (`${VAR:=x}`) are dropped, so that one variable gives one template whatever its default. Undefined when the
 * variable is not inside the host.
 */
export function templateHostOf(text: string, extract: (t: string) => string | undefined): string | undefined {
  const names: string[] = [];
  const stood = text.replace(VARIABLE, (_, name: string) => `hecatevar${names.push(name) - 1}x`);
  const host = extract(stood);
  if (!host?.includes('hecatevar')) return undefined;
  return host.replace(PLACEHOLDER, (_, i: string) => `\${${names[Number(i)]}}`);
}

/** True when some value of the template's variables would make it `host` (each variable stands for 1+ labels). */
export function templateCouldBe(template: string, host: string): boolean {
  const parts = template.split(/\$\{[^}]*\}/).map((p) => p.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&'));
  return new RegExp(`^${parts.join('[a-z0-9.-]+')}$`).test(host);
}

/** The registry of an image reference that holds `${VAR}`s: a variable in the first of several segments is a host. */
export function templateRegistryOf(image: string): string | undefined {
  const first = image.split('/')[0] ?? '';
  if (image.includes('/') && first.includes('${')) {
    return first.replace(/:\d+$/, '').replace(VARIABLE, (_, name: string) => `\${${name}}`);
  }
  return templateHostOf(image, registryOfImage);
}
