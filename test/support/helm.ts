import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './kustomize.ts';
import { helmPath } from './kustomize-kubectl.ts';

/** The chart, deploy/helm/backstop. */
export const CHART_DIR = fileURLToPath(new URL('../../deploy/helm/backstop/', import.meta.url));

/**
 * Helm's own state (repositories, plugins, registry logins) in a folder of ours, not the user's:
 * a plugin or post-renderer configured on the machine cannot change what the tests render.
 */
const HELM_HOME = fileURLToPath(
  new URL('../../node_modules/.cache/backstop-kubectl/helm-home/', import.meta.url),
);

/** How to render: the values (written to a file and passed with -f), release name and namespace. */
export type Release = { values?: object; name?: string; namespace?: string };

/** What a helm command printed; `ok` when it exited 0. */
export type HelmRun = { ok: boolean; output: string };

function helm(args: string[], values: object): HelmRun {
  mkdirSync(HELM_HOME, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'backstop-helm-'));
  try {
    // JSON is YAML: the values arrive exactly as written, numbers as numbers.
    const file = join(dir, 'values.json');
    writeFileSync(file, JSON.stringify(values));
    const run = spawnSync(helmPath(), [...args, '--values', file], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(HELM_HOME, 'cache'),
        HELM_CONFIG_HOME: join(HELM_HOME, 'config'),
        HELM_DATA_HOME: join(HELM_HOME, 'data'),
      },
    });
    if (run.error) throw run.error;
    return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm lint --strict` on `chart` with `values`. */
export function helmLint(values: object = {}, chart = CHART_DIR): HelmRun {
  return helm(['lint', '--strict', chart], values);
}

/** `helm template`, as a run: for the cases that must fail. */
export function helmTemplateRun(release: Release = {}, chart = CHART_DIR): HelmRun {
  const { values = {}, name = 'backstop', namespace = 'default' } = release;
  return helm(['template', name, chart, '--namespace', namespace], values);
}

/** `helm template` and the objects it prints; throws with helm's message when it fails. */
export function helmTemplate(release: Release = {}, chart = CHART_DIR): K8sObject[] {
  const run = helmTemplateRun(release, chart);
  if (!run.ok) throw new Error(`helm template failed: ${run.output.trim()}`);
  return parseAllDocuments(run.output)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`helm template output: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/**
 * A copy of the chart in a temporary folder with `edits` applied (file -> [text, replacement]),
 * for the tests that break it on purpose. Each text must occur in its file, so that an edit that
 * no longer matches fails loudly instead of leaving the copy intact. The copy is named backstop
 * (helm lint wants the folder named after the chart) inside a fresh folder: remove its parent.
 */
export function brokenChart(edits: Record<string, [string | RegExp, string]>): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'backstop-chart-')), 'backstop');
  cpSync(CHART_DIR, dir, { recursive: true });
  for (const [file, [from, to]] of Object.entries(edits)) {
    const text = readFileSync(join(dir, file), 'utf8');
    const edited = text.replace(from, to);
    if (edited === text) throw new Error(`${file}: ${from} not found, nothing broken`);
    writeFileSync(join(dir, file), edited);
  }
  return dir;
}
