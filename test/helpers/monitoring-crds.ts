/**
 * The Prometheus Operator's ServiceMonitor and PrometheusRule CRDs, for validating manifests/components/prometheus on
 * the bed. Read from the prometheus-operator Go module (`example/prometheus-operator-crd/`), the way
 * hack/setup-test-crds.sh reads Flux's: `go mod download` once, then copied into
 * ${HECATE_CACHE_DIR:-~/.cache/hecate}/monitoring-crds/<version>/.
 */

import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export const PROMETHEUS_OPERATOR_MODULE = 'github.com/prometheus-operator/prometheus-operator';
export const PROMETHEUS_OPERATOR_VERSION = 'v0.85.0';
const FILES = ['monitoring.coreos.com_servicemonitors.yaml', 'monitoring.coreos.com_prometheusrules.yaml'];

export type MonitoringCrds = { ok: true; paths: string[] } | { ok: false; reason: string };

export async function monitoringCrds(env: NodeJS.ProcessEnv = process.env): Promise<MonitoringCrds> {
  const root = env.HECATE_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'hecate');
  const dir = join(root, 'monitoring-crds', PROMETHEUS_OPERATOR_VERSION);
  const paths = FILES.map((file) => join(dir, file));
  if (paths.every((p) => existsSync(p))) return { ok: true, paths };
  const work = await mkdtemp(join(tmpdir(), 'hecate-gomod-'));
  try {
    const module = `${PROMETHEUS_OPERATOR_MODULE}@${PROMETHEUS_OPERATOR_VERSION}`;
    const result = await execa('go', ['mod', 'download', '-json', module], {
      cwd: work,
      env: { GOFLAGS: '-mod=mod' },
      reject: false,
      stdin: 'ignore',
    });
    if (result.failed) return { ok: false, reason: `go mod download ${module}: ${result.shortMessage}` };
    const source = (JSON.parse(String(result.stdout)) as { Dir?: string }).Dir;
    if (!source) return { ok: false, reason: `go mod download ${module} gave no folder` };
    await mkdir(dir, { recursive: true });
    for (const file of FILES) await copyFile(join(source, 'example', 'prometheus-operator-crd', file), join(dir, file));
    return { ok: true, paths };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
