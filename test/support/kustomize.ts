import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { kubectlPath } from './kustomize-kubectl.ts';

/** The repository's deploy/ folder. */
export const DEPLOY_DIR = fileURLToPath(new URL('../../deploy/', import.meta.url));

/** A rendered Kubernetes object, as plain JSON. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
};

/** A kustomization found under deploy/: its folder relative to deploy/ and its `kind`. */
export type Kustomization = { dir: string; kind: 'Kustomization' | 'Component' };

/** Every folder under `root` holding a kustomization.yaml, sorted, so new overlays are picked up. */
export function findKustomizations(root = DEPLOY_DIR): Kustomization[] {
  const found: Kustomization[] = [];
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name !== 'kustomization.yaml') continue;
    const file = join(entry.parentPath, entry.name);
    const doc = parse(readFileSync(file, 'utf8')) as { kind?: string } | null;
    found.push({
      dir: relative(root, entry.parentPath),
      kind: doc?.kind === 'Component' ? 'Component' : 'Kustomization',
    });
  }
  return found.sort((a, b) => a.dir.localeCompare(b.dir));
}

/** Runs `kubectl kustomize` on `dir` and returns the objects it prints. */
export function kustomizeBuild(dir: string): K8sObject[] {
  const out = execFileSync(kubectlPath(), ['kustomize', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  return parseAllDocuments(out)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`kustomize output for ${dir}: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((object): object is K8sObject => object !== null);
}

/**
 * Renders a kustomization written on the fly into a temporary folder. `files(dir)` returns file
 * names and their text (kustomization.yaml among them); kustomize rejects absolute paths to
 * resources and components, so use `relative(dir, target)` for those.
 */
export function kustomizeBuildInline(files: (dir: string) => Record<string, string>): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'backstop-kustomize-'));
  try {
    for (const [name, text] of Object.entries(files(dir))) writeFileSync(join(dir, name), text);
    return kustomizeBuild(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A Deployment as a team would have it, untouched, for components to act on. */
export const PLAIN_APP = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'plain-app' },
  spec: {
    selector: { matchLabels: { app: 'plain-app' } },
    template: {
      metadata: { labels: { app: 'plain-app' } },
      spec: { containers: [{ name: 'app', image: 'registry.example.com/plain-app:1.0.0' }] },
    },
  },
};

/**
 * Renders any kustomization under deploy/. A Component cannot be built on its own, so it is
 * rendered the way it is meant to be used: composed onto deploy/base and PLAIN_APP.
 */
export function renderKustomization(k: Kustomization): K8sObject[] {
  const dir = join(DEPLOY_DIR, k.dir);
  if (k.kind === 'Kustomization') return kustomizeBuild(dir);
  return kustomizeBuildInline((tmp) => ({
    'plain-app.yaml': JSON.stringify(PLAIN_APP),
    'kustomization.yaml': JSON.stringify({
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: [relative(tmp, join(DEPLOY_DIR, 'base')), 'plain-app.yaml'],
      components: [relative(tmp, dir)],
    }),
  }));
}
