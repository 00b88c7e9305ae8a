import { readFileSync } from 'node:fs';

/**
 * Where backstop's CPU time goes under load: a V8 `.cpuprofile` (node --cpu-prof) reduced to the
 * heaviest functions by self time and to self time per area (undici, hono, pino, prom-client,
 * backstop's own folders, node core, GC).
 */

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  /** Sampled time, idle excluded. */
  busyMs: number;
  idleMs: number;
  top: Array<{ fn: string; where: string; selfMs: number; pct: number }>;
  byArea: Array<{ area: string; selfMs: number; pct: number }>;
}

/** The area a function belongs to, from its script URL. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'program (unattributed native)';
    // libuv stream writes: response bytes to clients, request bytes upstream, log lines to stdout.
    if (/^write(v|String|Buffer|Utf8String|Latin1String)?$/.test(functionName))
      return 'native writes (sockets, pipes)';
    return 'native (other)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
  if (pkg) return pkg;
  const src = /\/src\/([^/]+)(\/|\.ts)/.exec(url);
  if (src) return `backstop src/${src[1]}${src[2] === '/' ? '/' : '.ts'}`;
  if (url.startsWith('node:')) return 'node core';
  return url.slice(url.lastIndexOf('/') + 1);
}

/** Summarizes a profile: `topN` functions and every area, by self time. */
export function summarizeProfile(profile: CpuProfile, file: string, topN = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const fns = new Map<string, { fn: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = (byId.get(id) as CpuProfileNode).callFrame;
    const area = areaOf(frame.url, frame.functionName);
    if (area === 'idle') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    areas.set(area, (areas.get(area) ?? 0) + us);
    const where = frame.url
      ? `${frame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${frame.lineNumber + 1}`
      : '';
    const key = `${frame.functionName}@${where}`;
    const entry = fns.get(key) ?? { fn: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    fns.set(key, entry);
  }
  const pct = (us: number) => (busyUs > 0 ? (us / busyUs) * 100 : 0);
  return {
    file,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    top: [...fns.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((f) => ({ fn: f.fn, where: f.where, selfMs: f.us / 1000, pct: pct(f.us) })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: us / 1000, pct: pct(us) })),
  };
}

/** Reads and summarizes a `.cpuprofile` file. */
export function readProfile(file: string): ProfileSummary {
  return summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, file);
}
