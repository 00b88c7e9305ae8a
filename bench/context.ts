import { createDispatcher } from './load/clients/attempt.ts';
import type { BenchOptions } from './options.ts';
import { startShippedBackstop } from './processes/backstop.ts';
import { startSim } from './processes/simulator.ts';
import { progressLine } from './reports/console.ts';
import type { RunContext } from './scenarios/types.ts';

/**
 * The RunContext the scenarios share: one HTTP client, and the processes a scenario asks for,
 * started on demand and stopped, newest first, by `cleanup()`. `--gateway` and `--backstop`
 * replace the embedded simulator and the suite's own backstop. `progress` draws the progress
 * lines (the demo brings its own).
 */
export function createContext(
  opts: BenchOptions,
  outDir: string,
  progress: RunContext['progress'] = progressLine,
): RunContext {
  const dispatcher = createDispatcher();
  const stops: Array<() => Promise<void>> = [];
  return {
    opts,
    outDir,
    dispatcher,
    now: () => performance.now(),
    progress,
    async gateway(options) {
      if (opts.gateway) return { url: opts.gateway, sim: undefined };
      const sim = await startSim(options);
      stops.push(() => sim.close());
      return { url: sim.url, sim };
    },
    async backstop(upstreamUrl, env = {}) {
      if (opts.backstop) return { url: opts.backstop, pid: undefined };
      const bs = await startShippedBackstop(upstreamUrl, { ...opts.backstopEnv, ...env });
      stops.push(async () => {
        await bs.stop();
      });
      return { url: bs.url, pid: bs.child.pid, adminUrl: bs.adminUrl };
    },
    async cleanup() {
      // Close client sockets first so the servers' shutdown does not wait on them.
      await dispatcher.close().catch(() => {});
      while (stops.length > 0) await (stops.pop() as () => Promise<void>)().catch(() => {});
    },
  };
}
