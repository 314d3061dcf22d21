/**
 * The sample PrometheusRule (manifests/components/prometheus/prometheusrule.yaml): its three alerts parse as PromQL
 * (Prometheus' own lezer grammar), and every metric and label they use is one the operator exports (operator/metrics.ts),
 * so a renamed gauge cannot leave an alert that never fires. The real CRD accepts the file in
 * test/integration/install.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { describe, expect, it } from 'vitest';
import { fromYaml } from '../../core/api/yaml.js';
import { OperatorMetrics } from '../../operator/metrics.js';

const ROOT = join(import.meta.dirname, '..', '..');
const rule = fromYaml(readFileSync(join(ROOT, 'manifests/components/prometheus/prometheusrule.yaml'), 'utf8')) as {
  spec: { groups: { name: string; rules: { alert: string; expr: string; for?: string }[] }[] };
};
const alerts = rule.spec.groups.flatMap((g) => g.rules);
const exported = new Map(
  new OperatorMetrics().registry
    .getMetricsAsArray()
    .map((m) => [m.name, (m as unknown as { labelNames: string[] }).labelNames] as const),
);

/** The PromQL syntax errors of `expr`, as positions; empty when it parses. */
function syntaxErrors(expr: string): number[] {
  const errors: number[] = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
    },
  });
  return errors;
}

describe('the sample PrometheusRule', () => {
  it('has the three alerts that matter', () => {
    expect(alerts.map((a) => a.alert)).toEqual([
      'HecateUPSOnBattery',
      'HecateWayBackNotReady',
      'HecatePowerEventStalled',
    ]);
  });

  it.each(alerts.map((a) => [a.alert, a.expr] as const))('%s parses as PromQL', (_name, expr) => {
    expect(syntaxErrors(expr)).toEqual([]);
  });

  it('the grammar check can fail', () => {
    expect(syntaxErrors('max by (ups) (hecate_ups_on_battery == 1')).not.toEqual([]);
  });

  it.each(alerts.map((a) => [a.alert, a.expr] as const))(
    '%s uses only metrics the operator exports, grouped by labels they have',
    (_name, expr) => {
      const metrics = [...expr.matchAll(/\b(hecate_[a-z_]+)\b/g)].map((m) => m[1] as string);
      expect(metrics.length).toBeGreaterThan(0);
      for (const metric of metrics) expect(exported.has(metric), metric).toBe(true);
      for (const [, labels, metric] of expr.matchAll(/by \(([a-z_, ]+)\) \((hecate_[a-z_]+)/g)) {
        for (const label of (labels ?? '').split(',').map((l) => l.trim())) {
          expect(exported.get(metric ?? ''), `${metric} by ${label}`).toContain(label);
        }
      }
    },
  );
});
