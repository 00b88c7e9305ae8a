import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

/**
 * CPU and memory of local processes read from /proc, so backstop's cost is measured from outside,
 * whether or not it exports metrics, and nginx's the same way.
 */

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' don't.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond();
}

/**
 * Current and peak resident set size in bytes (VmRSS and VmHWM of /proc/<pid>/status), and the
 * anonymous part of the current one (RssAnon): the heap, stacks and malloc arenas, which belong
 * to this process alone. The rest is file-backed, mostly the node binary's touched pages, which
 * every process running the same file shares through the page cache.
 */
export function memory(pid: number): { rssBytes: number; peakBytes: number; anonBytes: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM'), anonBytes: kb('RssAnon') };
}

/** Direct children of `pid` (nginx's workers), from /proc/<pid>/task/<pid>/children. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU used and peak RSS over one measured window. */
export interface Usage {
  cpuSeconds: number;
  /** Highest summed RSS seen in a sample, or VmHWM when that is higher (a spike between samples). */
  peakRssBytes: number;
  /** Highest summed RssAnon seen in a sample (the kernel keeps no peak of it). */
  peakAnonBytes: number;
}

/**
 * Resets a process's VmHWM to its current RSS (`echo 5 > /proc/<pid>/clear_refs`, Linux 4.0+), so
 * a later VmHWM is the peak of what came after. False when the kernel refuses.
 */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts measuring the processes `pids()` names (re-read each sample, so workers that appear are
 * counted) until `stop()`. RSS is sampled every `intervalMs`; CPU is the difference of totals.
 * `resetPeaks` resets each process's VmHWM first, so a single long-lived process's peak is this
 * window's, not its lifetime's (the overhead scenario measures one process over many phases).
 */
export function startMeter(
  pids: () => number[],
  intervalMs = 200,
  options: { resetPeaks?: boolean } = {},
): { stop(): Usage } {
  if (options.resetPeaks) for (const pid of pids()) resetPeak(pid);
  const baseCpu = new Map<number, number>();
  const lastCpu = new Map<number, number>();
  let peak = 0;
  let peakAnon = 0;
  const sample = () => {
    let rss = 0;
    let anon = 0;
    for (const pid of pids()) {
      const cpu = cpuSeconds(pid);
      if (cpu !== undefined) {
        if (!baseCpu.has(pid)) baseCpu.set(pid, cpu);
        lastCpu.set(pid, cpu);
      }
      const mem = memory(pid);
      if (mem) {
        rss += mem.rssBytes;
        anon += mem.anonBytes;
        // VmHWM is a lifetime peak (or since resetPeak): trusted for a single process only.
        if (pids().length === 1) peak = Math.max(peak, mem.peakBytes);
      }
    }
    peak = Math.max(peak, rss);
    peakAnon = Math.max(peakAnon, anon);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      let cpu = 0;
      for (const [pid, last] of lastCpu) cpu += last - (baseCpu.get(pid) ?? last);
      return { cpuSeconds: cpu, peakRssBytes: peak, peakAnonBytes: peakAnon };
    },
  };
}

/** TCP ports `pid` listens on: its socket descriptors matched against /proc/<pid>/net/tcp{,6}. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode !== undefined) inodes.add(inode);
      } catch {}
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const table of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // Fields: sl, local_address (hex addr:port), rem_address, st (0A = LISTEN), ..., inode (10th).
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== '0A' || !inodes.has(fields[9] ?? '')) continue;
      ports.push(Number.parseInt(fields[1]?.split(':')[1] ?? '', 16));
    }
  }
  return ports;
}

/** A session on a Node process's inspector that reads its live heap. */
export interface LiveHeapProbe {
  /**
   * Heap used right after a full mark-compact GC (`gc()`, so the process needs `--expose-gc`):
   * what is still reachable, without the garbage that `heapUsed` holds between two GCs. Resolves
   * NaN once the process is gone.
   */
  liveHeapBytes(): Promise<number>;
  close(): void;
}

/** Opens an inspector session (the process runs with `--inspect`) on 127.0.0.1:`port`. */
export async function connectLiveHeapProbe(port: number): Promise<LiveHeapProbe> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as Array<{
    webSocketDebuggerUrl: string;
  }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${port}`);
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error(`inspector on port ${port} refused`)), {
      once: true,
    });
  });
  let nextId = 1;
  const pending = new Map<number, (value: unknown) => void>();
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as {
      id?: number;
      result?: { result?: { value?: unknown } };
    };
    if (message.id === undefined) return;
    pending.get(message.id)?.(message.result?.result?.value);
    pending.delete(message.id);
  });
  ws.addEventListener('close', () => {
    for (const settle of pending.values()) settle(undefined);
    pending.clear();
  });
  const evaluate = (expression: string) =>
    new Promise<unknown>((resolve) => {
      if (ws.readyState !== WebSocket.OPEN) return resolve(undefined);
      const id = nextId++;
      pending.set(id, resolve);
      ws.send(
        JSON.stringify({ id, method: 'Runtime.evaluate', params: { expression, returnByValue: true } }),
      );
    });
  return {
    liveHeapBytes: async () => Number(await evaluate('(gc(), process.memoryUsage().heapUsed)')),
    close: () => ws.close(),
  };
}
