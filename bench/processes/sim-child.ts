/**
 * Runs the embedded simulator in its own process for the suite (processes/simulator.ts), so the
 * gateway's event loop never shares a thread with the clients that time it. Speaks to its parent
 * over the IPC channel: `{ id, op, arg }` in, `{ id, result | error }` out.
 */
import { startSimulator } from '../../src/simulator/index.ts';

type Request = { id: number; op: 'setFaults' | 'stats' | 'resetStats' | 'reseed' | 'close'; arg?: unknown };

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof startSimulator>[0];
const sim = await startSimulator(options);
process.send?.({ ready: true, url: sim.url });

process.on('message', async (msg: Request) => {
  try {
    let result: unknown;
    if (msg.op === 'setFaults') result = await sim.setFaults(msg.arg as Parameters<typeof sim.setFaults>[0]);
    else if (msg.op === 'stats') result = await sim.stats();
    else if (msg.op === 'resetStats') result = await sim.resetStats();
    else if (msg.op === 'reseed') result = sim.reseed(msg.arg as number);
    else {
      await sim.close();
      process.send?.({ id: msg.id, result: null }, () => process.exit(0));
      return;
    }
    process.send?.({ id: msg.id, result: result ?? null });
  } catch (err) {
    process.send?.({ id: msg.id, error: err instanceof Error ? err.message : String(err) });
  }
});
// The parent going away closes the channel: don't outlive it.
process.on('disconnect', () => process.exit(0));
