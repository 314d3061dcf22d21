/**
 * The command table: every command's name, options, parsers and help, and nothing of what the commands do. Each
 * action imports its command's module when it runs, so that `hecate --help`, a usage error or a dry-run loads only
 * what it uses (an offline dry-run never loads @kubernetes/client-node): keep this file's imports light.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { versionText } from '../adapters/build-info.js';
import type { PlanMode } from '../core/api/index.js';
import type { AnalyzeOptions, AnalyzeOutput } from './commands/analyze.js';
import type { BundleBuildOptions } from './commands/bundle.js';
import { completionScript, SHELLS, type Shell } from './commands/completion.js';
import type { DrillCaptureOptions } from './commands/drill.js';
import type { DrillRunOptions } from './commands/drill-run.js';
import type { StatusOptions } from './commands/status.js';
import type { CliDeps } from './deps.js';
import { EXIT_CODES_HELP } from './exit.js';
import {
  type CommonOptions,
  type GlobalOptions,
  increaseVerbosity,
  parseDryRun,
  parseOutput,
  parseRequestTimeout,
  verbosityEnv,
} from './options.js';

const MODES: { mode: PlanMode; summary: string; example: string }[] = [
  {
    mode: 'prepare',
    summary: 'pre-pull the helper image, refresh the repo snapshot, check the Harbor bundle, report shutdown blockers',
    example: 'hecate prepare --plan examples/atlas-powerplan.yaml',
  },
  {
    mode: 'shutdown',
    summary:
      'record the outage, suspend Flux, drain workers, quiesce storage, power off workers then the control plane',
    example: 'hecate shutdown --plan examples/atlas-powerplan.yaml --execute --reason "utility maintenance"',
  },
  {
    mode: 'startup',
    summary:
      'check the UPS, wait for the API and nodes, apply the bootstrap chain if Flux cannot fetch, seed Harbor, resume Flux',
    example: 'hecate startup --plan ~/hecate-repo/clusters/atlas/powerplan.yaml --offline',
  },
  {
    mode: 'harbor-seed',
    summary: "import Harbor's images from the control-host bundle into containerd on the Harbor node",
    example: 'hecate harbor-seed --execute',
  },
];

/** Commander's parser for `analyze -o`. */
function parseAnalyzeOutput(value: string): AnalyzeOutput {
  if (value === 'text' || value === 'json' || value === 'yaml') return value;
  throw new InvalidArgumentError('expected one of: text, json, yaml');
}

/** Commander's parser for `bundle build --level`. */
function parseLevel(value: string): number {
  const level = Number(value);
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new InvalidArgumentError('expected 1 to 19');
  return level;
}

/** Help text for `hecate startup` (after the options list): the UPS watch of ./commands/ups-watch.ts. */
const UPS_WATCH_HELP = `
UPS watch (startup --execute, plans with ups.source set):
  While the startup runs, Hecate reads the UPS every ups.pollInterval (every 5 s while on battery). When power
  fails again and the UPS is on battery under ups.emergencyCharge (or reports LB or FSD, or stops answering after
  it was seen on battery), the startup stops at the next safe point (the step in flight finishes, no new step
  starts), the emergency shutdown runs to completion even if power returns meanwhile, and hecate exits 3: rerun
  startup when power is stable. A failed read while on line does not stop the startup.
  --ignore-ups overrides the start gate only: the watch stays armed. An emergency already present when the
  startup began is the one overridden; a new outage after power returns still stops the startup.`;

/** Help text for `hecate analyze` (after the options list). */
const ANALYZE_HELP = `
Reads every YAML file of a Flux repo (no network; a cluster only with --kubeconfig) and reports, per cluster:
  - deadlock 1: a Flux source whose host is served by a workload Flux applies from that same source
  - deadlock 2: a registry deployed from the repo that pulls its own images or charts
  - the dependsOn graph in layers (plus what objects imply: namespaces, CRDs, sources, and the inferred run-time
    needs: StorageClasses, databases and Services, chart-installed CRDs, each with the field it came from)
  - the derived bootstrap chain and where the registry seed goes
  - what it could not decide
With --plan, it also reports where that PowerPlan's chain disagrees with the repo.

Clusters: each root is analyzed on its own: a FluxInstance's sync.path (custom resource, or the values of a
flux-instance HelmRelease), a Kustomization whose path applies its own definition (flux bootstrap), or a
clusters/<name> folder. -o json has one report per cluster; --cluster NAME (the cluster folder's name, or the
root's path) picks one. Flux objects that no root reaches (test fixtures, old folders) are listed as "not part of
any cluster" and left out of every graph. --emit-plan drafts one cluster: pass --cluster when there are several.

Could not decide: questions the repo does not answer, each with where it came from: a \${VAR} whose value is
encrypted (SOPS) or not in the repo, a source without a URL, an in-cluster Service that no file, operator, route
or HelmRelease makes, a remote base, a tie in the order. A deadlock verdict "could not decide" (never "none
found") means one of them could hide that deadlock: check it by hand.

The draft (--emit-plan) holds no invented value: what the repo does not decide is left empty with a "# TODO:"
comment, and the draft does not validate until a person fills it. --kubeconfig/--context read the nodes (names,
roles from the node-role labels, arch) from the live cluster; nothing else contacts a cluster.

Examples:
  $ hecate analyze --repo ~/hecate-repo
  $ hecate analyze --repo . -o json
  $ hecate analyze --repo . --cluster home
  $ hecate analyze --repo ~/hecate-repo --emit-plan /tmp/powerplan.yaml
  $ hecate analyze --repo . --cluster home --emit-plan /tmp/powerplan.yaml --kubeconfig ~/.kube/config --force
  $ hecate analyze --plan examples/atlas-powerplan.yaml --repo ~/hecate-repo

Exit codes:
  0  the analysis ran (findings, "could not decide" or not; a draft with TODOs too); with --plan, the check found
     no error (warnings are fine)
  1  the --plan check found an error (the whole analysis is printed first); or --emit-plan could not be
     written (read-only or full file system)
  2  bad input: the repo, --plan or --kubeconfig cannot be used, --cluster names no cluster, --emit-plan exists
     (pass --force), is a bad path, or the repo has several clusters and no --cluster
  4  --kubeconfig's cluster did not answer when its nodes were read`;

/** Help text for `hecate bundle build` (after the options list). */
const BUNDLE_BUILD_HELP = `
The bundle is one OCI archive, zstd-compressed, holding only the linux/<arch> variant of each image; beside it
<bundle>.manifest.json lists every image's reference, digest and platform, the bundle's sha256 and the Harbor
version. harbor-seed and prepare refuse a bundle that does not match it. Registry credentials come from the usual
auth files (\${XDG_RUNTIME_DIR}/containers/auth.json, ~/.docker/config.json) or --authfile. Needs skopeo, tar, zstd.

Examples:
  $ hecate bundle build --plan examples/atlas-powerplan.yaml
  $ hecate bundle build --plan examples/atlas-powerplan.yaml --execute
  $ hecate bundle build --harbor-version v2.14.1 --arch arm64 --image docker.io/goharbor/harbor-core:v2.14.1 --execute`;

function addCommonOptions(command: Command): Command {
  return command
    .option('--execute', 'act on the cluster (default: dry-run, which changes nothing)', false)
    .option('--plan <file>', 'PowerPlan YAML (default: the one in ~/hecate-repo, else the one in the cluster)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context to use')
    .option(
      '--state-file <file>',
      "outage state file (default: the plan's, else $XDG_STATE_HOME/cluster_power_recovery.state)",
    )
    .option('--offline', 'do not contact the cluster; plan from the PowerPlan and the state file only', false)
    .addOption(outputOption(parseOutput));
}

/** `-o text|json|yaml`: the choices are listed for help and completion; `parse` says what else was expected. */
function outputOption(parse: (value: string) => string): Option {
  return new Option('-o, --output <format>', 'output format')
    .choices(['text', 'json', 'yaml'])
    .default('text')
    .argParser(parse);
}

/** Help text for `hecate completion`. */
const COMPLETION_HELP = `
Prints a completion script for the shell, built from this CLI's own commands and flags. Load it in this shell:
  $ source <(hecate completion bash)
  $ source <(hecate completion zsh)
  $ hecate completion fish | source
or for every new shell:
  $ hecate completion bash > ~/.local/share/bash-completion/completions/hecate
  $ hecate completion zsh > "\${fpath[1]}/_hecate"
  $ hecate completion fish > ~/.config/fish/completions/hecate.fish`;

/** Help text for `hecate drill capture`. */
const DRILL_CAPTURE_HELP = `
Reads, with list requests only, every Node, Namespace, workload (Deployments, StatefulSets, DaemonSets, ReplicaSets,
Jobs, Pods), PodDisruptionBudget, PersistentVolume(Claim), StorageClass, Flux source, Kustomization and HelmRelease,
Longhorn Volume and Replica, PowerPlan, PowerEvent, and the CRDs of the Flux, Longhorn and Hecate kinds. The server's
bookkeeping (uids, resource versions, managed fields) is left out. Secrets and ConfigMaps are never read: the file
names those the pods refer to. A kind the cluster does not serve is said and left out.

Examples:
  $ hecate drill capture --kubeconfig ~/.kube/atlas -o atlas-capture.yaml
  $ hecate drill capture --redact -o capture-for-a-bug-report.yaml

Exit codes: 0 written, 2 bad input (a kubeconfig that cannot be used), 4 the API server does not answer.`;

/** Help text for `hecate drill run`. */
const DRILL_RUN_HELP = `
Replays the capture on a local control plane (kube-apiserver, etcd and the controllers from KUBEBUILDER_ASSETS or
the cache hack/setup-test-binaries.sh fills) with one stand-in kubelet per captured node, each pod's grace period
and the plan's drain levels divided by --speed. Then runs, as you would: prepare --execute, shutdown --execute, a
power cut (every node off, the bootstrap chain's workloads lost, every node on), and startup --execute, which
applies the bootstrap chain from the repo snapshot (--repo, else one made from what the captured Kustomizations
applied). Nothing is sent to the captured cluster.

The report: a timeline per stage (bed time and the prediction scaled back), each drain escalation, what blocked, the
predicted outage, how the end state differs from the state before the shutdown, and what a rehearsal cannot know.
A progress line per stage goes to stderr while it runs.

Examples:
  $ hecate drill capture --kubeconfig ~/.kube/atlas -o atlas.yaml
  $ hecate drill run atlas.yaml --speed 10
  $ hecate drill run atlas.yaml --plan examples/atlas-powerplan.yaml --repo ~/hecate-repo -o json

Exit codes: 0 the rehearsal came back to the state before the shutdown, 1 it did not, 2 bad input (the capture, the
plan, a node the capture does not hold, no local control plane).`;

/** A speed: a positive number. */
function parseSpeed(value: string): number {
  const speed = Number(value);
  if (!Number.isFinite(speed) || speed < 1 || speed > 100)
    throw new InvalidArgumentError('expected a number from 1 to 100');
  return speed;
}

/** An action's options with the global ones, and deps whose environment carries -v (the adapters' logger reads it). */
function withGlobals<T>(command: Command, deps: CliDeps): { options: T & GlobalOptions; deps: CliDeps } {
  const options = command.optsWithGlobals<T & GlobalOptions>();
  return { options, deps: { ...deps, env: verbosityEnv(deps.env, options.verbose) } };
}

/**
 * kubectl's global flags that Hecate has: -v and --request-timeout, before or after the command (commander reads
 * the root's options anywhere) and listed in every command's help. `--version` prints the build lazily: it may ask
 * git for the commit.
 */
function addGlobalOptions(program: Command, deps: CliDeps): Command {
  return program
    .option(
      '-v, --verbose',
      'more on stderr: -v each API request an executor makes, -vv also debug lines and stack traces',
      increaseVerbosity,
      0,
    )
    .addOption(
      new Option(
        '--request-timeout <duration>',
        "wait this long for each API server request, in kubectl's form: seconds (5) or with a unit (1s, 2m, 3h); 0 for no limit. Watches are not cut",
      )
        .default(0, '0')
        .argParser(parseRequestTimeout),
    )
    .option('-V, --version', 'print the version, the commit and the Node version')
    .on('option:version', () => {
      deps.stdout(versionText('hecate'));
      throw new CommanderError(0, 'hecate.version', 'printed the version');
    })
    .configureHelp({ showGlobalOptions: true });
}

/** The command table. Each action is `async (options, deps)`; nothing here exits the process. */
export function buildProgram(deps: CliDeps): Command {
  const program = new Command('hecate')
    .description(
      'Planned power events and cold-boot recovery for small on-prem Kubernetes clusters.\nEvery mode is a dry-run unless --execute is given.',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: deps.stdout, writeErr: deps.stderr })
    .addHelpText('after', EXIT_CODES_HELP);
  addGlobalOptions(program, deps);
  for (const { mode, summary, example } of MODES) {
    const command = addCommonOptions(program.command(mode).description(summary));
    if (mode !== 'harbor-seed') {
      command.addOption(
        new Option(
          '--dry-run <mode>',
          'client (the default without --execute): print the plan, reading the cluster at most; server: then send ' +
            "every change of the plan's actions with dryRun=All, so that RBAC and admission answer, and report each " +
            'as allowed or refused (exit 1 when one is refused); nothing is stored, not even the state file',
        )
          .choices(['client', 'server'])
          .argParser(parseDryRun),
      );
    }
    if (mode === 'startup') {
      command.option(
        '--ignore-ups',
        'start even when the UPS gate refuses (recorded); the UPS watch during the startup stays armed',
        false,
      );
      command.addHelpText('after', UPS_WATCH_HELP);
    }
    if (mode === 'shutdown') {
      command.option('--reason <text>', 'why, recorded in the outage record');
      command.option('--emergency', 'the fast path for a second outage: short drain levels, no PDB wait', false);
      command.option(
        '--ignore-way-back',
        "shut down although startup's prerequisites are missing (repo snapshot at Flux's revision, Harbor bundle, " +
          'kubectl, SSH to every node): recorded in the outage record. An emergency shutdown never refuses',
        false,
      );
      command.option(
        '--self-node <node>',
        'the node this hecate runs on, powered off last (default: $HECATE_SELF_NODE, else the host name if it is a node)',
      );
    }
    command.addHelpText(
      'after',
      `\nExample:\n  $ ${example}\n  $ ${example.replace(' --execute', '')} -o yaml\n${EXIT_CODES_HELP}`,
    );
    command.action(async (_: CommonOptions, self: Command) => {
      const { runMode } = await import('./commands/plan-modes.js');
      const run = withGlobals<CommonOptions>(self, deps);
      await runMode(mode, run.options, run.deps);
    });
  }
  addCommonOptions(
    program
      .command('status')
      .description(
        'one screen: nodes, Flux, the chain, Harbor, the UPS, the outage state, the active PowerEvent (exit 0 healthy, 1 degraded, 4 unreachable)',
      )
      .option(
        '--watch',
        'redraw on every change the watches report until interrupted (-o json: one line per update)',
        false,
      ),
  ).action(async (_: StatusOptions, self: Command) => {
    const { runStatus } = await import('./commands/status.js');
    const run = withGlobals<StatusOptions>(self, deps);
    await runStatus(run.options, run.deps);
  });
  program
    .command('console')
    .description(
      'interactive console: live status; prepare, shutdown, harbor-seed, startup as a dry-run first, --execute after typing the plan name',
    )
    .option('--plan <file>', 'PowerPlan YAML (default: the one in ~/hecate-repo, else the one in the cluster)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)')
    .option('--context <name>', 'kubeconfig context to use')
    .option('--state-file <file>', 'outage state file')
    .action(async (_: CommonOptions, self: Command) => {
      const { runConsole } = await import('./commands/console.js');
      const run = withGlobals<CommonOptions>(self, deps);
      await runConsole({ ...run.options, execute: false, output: 'text', offline: false }, run.deps);
    });
  program
    .command('analyze')
    .description(
      'find the bootstrap deadlocks in each cluster of a Flux repo, derive the bootstrap chain, draft or check a PowerPlan',
    )
    .option('--repo <dir>', "the Flux repo (default: --plan's repoSnapshot, else ~/hecate-repo)")
    .addOption(outputOption(parseAnalyzeOutput))
    .option(
      '--emit-plan <file>',
      'write a draft PowerPlan (chain and registry seed stage) to this file; an existing file is kept unless --force',
    )
    .option('--force', 'let --emit-plan overwrite an existing file', false)
    .option(
      '--plan <file>',
      "compare this PowerPlan's bootstrap chain and seed stage with the repo (exit 1 when the check finds an error)",
    )
    .option('--cluster <name>', "only this cluster: its folder's name (clusters/<name>) or its root's path")
    .option('--kubeconfig <file>', 'with --emit-plan: read the nodes (names, roles, arch) from this cluster')
    .option('--context <name>', 'with --emit-plan: the kubeconfig context to read the nodes from')
    .addHelpText('after', ANALYZE_HELP)
    .action(async (_: AnalyzeOptions, self: Command) => {
      const { runAnalyze } = await import('./commands/analyze.js');
      const run = withGlobals<AnalyzeOptions>(self, deps);
      await runAnalyze(run.options, run.deps);
    });
  const bundle = program.command('bundle').description('the Harbor bootstrap bundle on the control host');
  bundle
    .command('build')
    .description(
      "copy the linux/<arch> variant of Harbor's images into one zstd OCI archive, with its manifest beside it",
    )
    .option(
      '--execute',
      'build it (default: dry-run, which prints the images and the target and writes nothing)',
      false,
    )
    .option('--plan <file>', 'PowerPlan YAML: Harbor version, arch and bundle path (default: the one in ~/hecate-repo)')
    .option('--harbor-version <version>', "Harbor version, such as v2.14.1 (default: the plan's)")
    .addOption(
      new Option('--arch <arch>', "image architecture (default: the plan's, else arm64)").choices(['arm64', 'amd64']),
    )
    .option(
      '--bundle <file>',
      "where to write it (default: the plan's bundlePath, else ~/.local/share/hecate/bundles/harbor-bootstrap-<version>-<arch>.tar.zst)",
    )
    .option('--image <ref...>', "images to bundle instead of the Harbor chart's list")
    .option(
      '--repository <prefix>',
      'registry and namespace of the Harbor images (default docker.io/goharbor), e.g. a mirror',
    )
    .option('--insecure', 'plain HTTP or unverified TLS to the source registry', false)
    .option('--authfile <file>', 'registry auth file (default: containers/auth.json, ~/.docker/config.json)')
    .option('--level <n>', 'zstd level, 1 to 19 (default 3; 19 is ~5 MB/s on 2 cores)', parseLevel)
    .addOption(new Option('-o, --output <format>', 'output format').default('text').choices(['text', 'json', 'yaml']))
    .addHelpText('after', `${BUNDLE_BUILD_HELP}\n${EXIT_CODES_HELP}`)
    .action(async (_: BundleBuildOptions, self: Command) => {
      const { runBundleBuild } = await import('./commands/bundle.js');
      const run = withGlobals<BundleBuildOptions>(self, deps);
      await runBundleBuild(run.options, run.deps);
    });
  const drill = program
    .command('drill')
    .description('rehearse a power event before it happens, on a copy of the cluster (capture it first)');
  drill
    .command('capture')
    .description(
      'read (only read) what a power event depends on into one file: nodes, workloads and their pods, PDBs, volumes, Flux, Longhorn, PowerPlans and PowerEvents; never a Secret or ConfigMap',
    )
    .option('--kubeconfig <file>', 'the cluster to capture (default: as kubectl finds it)')
    .option('--context <name>', 'the kubeconfig context')
    .option('-o, --output <file>', 'the file to write, replaced atomically (default: stdout)')
    .option('--redact', 'rename namespaces, nodes and objects consistently, so that the file can be shared', false)
    .addHelpText('after', DRILL_CAPTURE_HELP)
    .action(async (_: DrillCaptureOptions, self: Command) => {
      const { runDrillCapture } = await import('./commands/drill.js');
      const run = withGlobals<DrillCaptureOptions>(self, deps);
      await runDrillCapture(run.options, run.deps);
    });
  drill
    .command('run')
    .description(
      'rehearse prepare, shutdown, the power cut and startup on a local copy of a capture; report the timeline, blockers, predicted outage and end state',
    )
    .addArgument(new Argument('<capture>', 'the file hecate drill capture wrote'))
    .option('--plan <file>', 'the PowerPlan to rehearse (default: the one the capture holds)')
    .option('--repo <dir>', 'a Git repository to apply the bootstrap chain from (default: made from the capture)')
    .option('--speed <n>', 'time compression of grace periods and drain levels, 1 to 100', parseSpeed, 10)
    .addOption(new Option('-o, --output <format>', 'output format').default('text').choices(['text', 'json', 'yaml']))
    .addHelpText('after', DRILL_RUN_HELP)
    .action(async (file: string, _: DrillRunOptions, self: Command) => {
      const { runDrillRun } = await import('./commands/drill-run.js');
      const run = withGlobals<DrillRunOptions>(self, deps);
      await runDrillRun(file, run.options, run.deps);
    });
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish (as kubectl completion does)')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText('after', COMPLETION_HELP)
    .action((shell: Shell) => deps.stdout(completionScript(shell, program)));
  return program;
}
