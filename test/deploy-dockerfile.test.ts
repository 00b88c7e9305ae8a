import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { DEPLOY_DIR, kustomizeBuild } from './support/kustomize.ts';
import { backstopContainers } from './support/kustomize-checks.ts';

const root = new URL('../', import.meta.url);
const read = (name: string) => readFileSync(new URL(name, root), 'utf8');
const pkg = JSON.parse(read('package.json')) as { main: string; engines: { node: string } };
const defaults = loadConfig({ UPSTREAM_URL: 'http://x' });

type Instruction = { op: string; args: string };
type Stage = { image: string; name: string | undefined; steps: Instruction[] };

/** Splits a Dockerfile into stages of instructions (comments dropped, continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (op.toUpperCase() === 'FROM') {
      const [image = '', as, name] = args.split(/\s+/);
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, steps: [] });
    } else {
      stages.at(-1)?.steps.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** Problems with the Dockerfile's points from the deployment issue, given what it must match. */
function checkDockerfile(text: string, expected: { ports: number[]; main: string; uid: number }): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  const runtime = stages.at(-1);
  if (stages.length < 2 || !runtime) return ['not a multi-stage build'];
  for (const stage of stages) {
    // A stage may start from an earlier one; every image pulled must be an exact Node 24 release.
    if (stages.some((s) => s.name === stage.image)) continue;
    if (!/^node:24\.\d+\.\d+-[a-z]+-slim$/.test(stage.image))
      problems.push(`FROM ${stage.image} is not a pinned node:24.x.y-*-slim`);
  }
  const all = (op: string, stage?: Stage) =>
    (stage ? [stage] : stages).flatMap((s) => s.steps.filter((i) => i.op === op));
  if (!all('RUN').some((i) => /\bnpm ci\b/.test(i.args))) problems.push('no npm ci');
  if (!all('RUN').some((i) => /\bnpm run build\b|\btsc\b/.test(i.args))) problems.push('no tsc build');

  // The runtime stage gets dist/, production dependencies, package.json and the lock file: nothing else.
  const copied = all('COPY', runtime).map((i) => i.args);
  const allowed = [
    /^--from=\S+ \/app\/dist \.\/dist$/,
    /^--from=\S+ \/app\/node_modules \.\/node_modules$/,
    /^package\.json package-lock\.json \.\/$/,
  ];
  for (const args of copied) {
    if (!allowed.some((pattern) => pattern.test(args))) problems.push(`runtime stage copies ${args}`);
  }
  const modulesFrom = /--from=(\S+) \/app\/node_modules/.exec(copied.join('\n'))?.[1];
  const modulesStage = stages.find((s) => s.name === modulesFrom);
  if (!modulesStage || !all('RUN', modulesStage).some((i) => /npm ci .*--omit=dev/.test(i.args))) {
    problems.push('runtime node_modules do not come from an `npm ci --omit=dev` stage');
  }

  const user = all('USER', runtime).at(-1)?.args ?? '';
  const uid = /^(\d+)(:\d+)?$/.exec(user)?.[1];
  if (uid === undefined || Number(uid) === 0)
    problems.push(`USER ${user || '(none)'} is not a numeric non-root user`);
  else if (Number(uid) !== expected.uid)
    problems.push(`USER ${uid} is not the manifests' runAsUser ${expected.uid}`);

  const exposed = all('EXPOSE', runtime).flatMap((i) =>
    i.args.split(/\s+/).map((p) => Number.parseInt(p, 10)),
  );
  for (const port of expected.ports)
    if (!exposed.includes(port)) problems.push(`port ${port} is not exposed`);

  // Exec form (a JSON array), so node is PID 1 and gets SIGTERM, and no shell is needed to start.
  const start = [...all('ENTRYPOINT', runtime), ...all('CMD', runtime)];
  let command: unknown[] = [];
  for (const i of start) {
    try {
      command = [...command, ...(JSON.parse(i.args) as unknown[])];
    } catch {
      problems.push(`${i.op} ${i.args} is in shell form`);
    }
  }
  if (JSON.stringify(command) !== JSON.stringify(['node', expected.main])) {
    problems.push(`the container runs ${JSON.stringify(command)}, not node ${expected.main}`);
  }
  return problems;
}

/** Whether `path` is kept out of the build context by .dockerignore lines (Docker's rules). */
function dockerIgnored(path: string, lines: string[]): boolean {
  const toRegExp = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/\/$/, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\uE000')
        .replace(/\*\*/g, '.*')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')
        .replace(/\uE000/g, '(?:.*/)?')}$`,
    );
  // A pattern matches a path or any of its parent folders; the last matching line decides.
  const parts = path.split('/');
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of lines.map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))) {
    const exception = raw.startsWith('!');
    const pattern = toRegExp(exception ? raw.slice(1) : raw);
    if (prefixes.some((p) => pattern.test(p))) ignored = !exception;
  }
  return ignored;
}

const runAsUsers = () => {
  const uids = new Set<number>();
  for (const dir of ['examples/pattern2', 'examples/sidecar']) {
    for (const { workload, container } of backstopContainers(kustomizeBuild(join(DEPLOY_DIR, dir)))) {
      const uid =
        container.securityContext?.runAsUser ?? workload.spec.template.spec.securityContext?.runAsUser;
      if (uid !== undefined) uids.add(uid);
    }
  }
  return [...uids];
};

test('the Dockerfile builds with npm ci and tsc and ships node dist/main.js as a non-root user', () => {
  const uids = runAsUsers();
  assert.equal(uids.length, 1, `the manifests disagree on runAsUser: ${uids.join(', ')}`);
  const expected = { ports: [defaults.port, defaults.adminPort], main: pkg.main, uid: uids[0] ?? -1 };
  assert.deepEqual(checkDockerfile(read('Dockerfile'), expected), []);
  // The command names what the build emits: package.json's main, compiled from src/main.ts.
  assert.equal(pkg.main, 'dist/main.js');
  assert.ok(existsSync(new URL('src/main.ts', root)));
  const build = JSON.parse(read('tsconfig.build.json')) as {
    compilerOptions: { rootDir: string; outDir: string };
  };
  assert.deepEqual([build.compilerOptions.rootDir, build.compilerOptions.outDir], ['src', 'dist']);
});

test('the image runs a Node release that package.json engines accepts', () => {
  const version = /FROM node:(\d+)\.(\d+)\.\d+/.exec(read('Dockerfile'));
  const floor = /^>=(\d+)\.(\d+)$/.exec(pkg.engines.node);
  assert.ok(version && floor);
  const [major, minor] = [Number(version[1]), Number(version[2])];
  assert.ok(major > Number(floor[1]) || (major === Number(floor[1]) && minor >= Number(floor[2])));
});

test('the Dockerfile check catches each point breaking', () => {
  const good = read('Dockerfile');
  const expected = { ports: [defaults.port, defaults.adminPort], main: pkg.main, uid: 1000 };
  const cases: [string, string, RegExp][] = [
    ['USER 1000:1000', 'USER node', /not a numeric non-root user/],
    ['USER 1000:1000', 'USER 0', /not a numeric non-root user/],
    ['USER 1000:1000', 'USER 1001', /not the manifests' runAsUser 1000/],
    ['EXPOSE 8080 9090', 'EXPOSE 8080', /port 9090 is not exposed/],
    ['ENTRYPOINT ["node", "dist/main.js"]', 'ENTRYPOINT node dist/main.js', /shell form/],
    ['ENTRYPOINT ["node", "dist/main.js"]', 'CMD ["npm", "start"]', /runs \["npm","start"\]/],
    ['FROM node:24.22.3-trixie-slim AS runtime', 'FROM node:24-slim AS runtime', /not a pinned/],
    [
      'COPY package.json package-lock.json ./\n# Numeric',
      'COPY . .\n# Numeric',
      /runtime stage copies \. \./,
    ],
    ['--omit=dev ', '', /npm ci --omit=dev/],
  ];
  for (const [from, to, problem] of cases) {
    assert.ok(good.includes(from), `the Dockerfile no longer contains ${from}`);
    assert.match(checkDockerfile(good.replace(from, to), expected).join('\n'), problem, `${from} -> ${to}`);
  }
});

test('.dockerignore keeps node_modules, tests and bench results out of the build context', () => {
  const lines = read('.dockerignore').split('\n');
  for (const path of [
    'node_modules/hono/package.json',
    'dist/main.js',
    'test/deploy-render.test.ts',
    'src/config.test.ts',
    'src/resilience/backoff.test.ts',
    'bench/results/run.json',
    '.git/HEAD',
    'deploy/base/deployment.yaml',
  ]) {
    assert.ok(dockerIgnored(path, lines), `${path} would be sent to the builder`);
  }
  for (const path of [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'src/main.ts',
    'src/admin/paths.ts',
  ]) {
    assert.ok(!dockerIgnored(path, lines), `${path} is needed by the build but ignored`);
  }
});
