import { pino } from 'pino';
import { parseCliArgs, USAGE } from './cli-args.ts';
import { startSimulator } from './server.ts';

// `npm run sim`: the simulator as a standalone process, for the demo and for pointing curl or a
// real backstop at it. This entry point reads SIM_* itself: the simulator is not part of backstop
// and does not go through backstop's config.ts.
let command: ReturnType<typeof parseCliArgs>;
try {
  command = parseCliArgs(process.argv.slice(2), process.env);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
if (command.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const logger = pino({ name: 'simulator', level: command.logLevel });
let sim: Awaited<ReturnType<typeof startSimulator>>;
try {
  sim = await startSimulator(command.options);
} catch (error) {
  logger.fatal({ err: error }, 'could not start');
  process.exit(1);
}
logger.info(
  {
    url: sim.url,
    port: sim.port,
    seed: command.options.seed ?? 42,
    timeScale: command.options.timeScale ?? 1,
    faults: sim.faults(),
  },
  'listening',
);

let stopping = false;
const stop = async (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal, stats: sim.stats().outcomes }, 'shutting down');
  await sim.close();
  logger.info('closed');
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
