import { createDispatcher } from './load/clients/attempt.ts';
import { startBackstop, startSim } from './processes/simulator.ts';
import { progressLine } from './reports/console.ts';
import type { BenchOptions, RunContext } from './scenarios/types.ts';

/**
 * The RunContext the scenarios share: one HTTP client, and the processes a scenario asks for,
 * started on demand and stopped, newest first, by `cleanup()`. `--gateway` and `--backstop`
 * replace the embedded simulator and the suite's own backstop.
 */
export function createContext(opts: BenchOptions, outDir: string): RunContext {
  const dispatcher = createDispatcher();
  const stops: Array<() => Promise<void>> = [];
  return {
    opts,
    outDir,
    dispatcher,
    now: () => performance.now(),
    progress: (label, total) => progressLine(label, total),
    async gateway(options) {
      if (opts.gateway) return { url: opts.gateway, sim: undefined };
      const sim = await startSim(options);
      stops.push(() => sim.close());
      return { url: sim.url, sim };
    },
    async backstop(upstreamUrl, env = {}) {
      if (opts.backstop) return { url: opts.backstop, pid: undefined };
      const bs = await startBackstop(upstreamUrl, { ...opts.backstopEnv, ...env });
      stops.push(() => bs.stop());
      return { url: bs.url, pid: bs.pid, adminUrl: bs.adminUrl };
    },
    async cleanup() {
      // Close client sockets first so the servers' shutdown does not wait on them.
      await dispatcher.close().catch(() => {});
      while (stops.length > 0) await (stops.pop() as () => Promise<void>)().catch(() => {});
    },
  };
}
