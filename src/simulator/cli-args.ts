import { parseArgs } from 'node:util';
import { FAULT_NAMES, type FaultName, type SimFaults } from './faults.ts';
import type { SimulatorOptions } from './server.ts';

/** Usage text of `npm run sim -- --help`. */
export const USAGE = `Usage: npm run sim -- [options]   (each option also reads SIM_<NAME> from the environment)

  --host <addr>                 listen address (SIM_HOST, default 127.0.0.1)
  --port <n>                    listen port, 0 = ephemeral (SIM_PORT, default 0)
  --seed <n>                    seed of every random draw (SIM_SEED, default 42)
  --time-scale <x>              1 = T4 timing, 0.01 = 100x faster, 0 = no delays (SIM_TIME_SCALE, default 1)
  --picker <name>               least-load (the EPP: blind to model) | discovery (SIM_PICKER, default least-load)
  --[no-]flapping               the picker may misroute; off = every request reaches its own pod (SIM_FLAPPING, default true)
  --header-routing              route X-Gateway-Model-Name to that model's pod, the fixed deployment (SIM_HEADER_ROUTING)
  --max-num-seqs <n>            vLLM sequences per pod at once; the rest queue (SIM_MAX_NUM_SEQS, default 8)
  --discovery-interval-ms <n>   discovery picker: refresh period; 0 = per request (SIM_DISCOVERY_INTERVAL_MS, default 0)
  --visibility <m=p,...>        discovery picker: per-model visibility probability (SIM_VISIBILITY)
  --misroute <mode>             404-nested | 404-flat | 404-mixed | wrong-model-200 (SIM_MISROUTE, default 404-mixed)
  --outage <m,...>              models whose backend is down (SIM_OUTAGE)
  --fault <name=rate>           a per-request fault rate, repeatable (SIM_FAULT=name=rate,name=rate)
                                names: ${FAULT_NAMES.join(', ')}
  --faults <json>               any SimFaults fields as JSON, applied last (SIM_FAULTS)
  --sse-quirks                  ping comments, CRLF, tiny writes in SSE (SIM_SSE_QUIRKS=true)
  --latency <ttft,tpot[,tokens]> fixed latency in ms instead of the T4 profiles (SIM_LATENCY)
  --log-level <level>           pino level (SIM_LOG_LEVEL, default info)
  -h, --help                    this text
`;

/** What the command line asks for. */
export type CliCommand = { help: true } | { help: false; options: SimulatorOptions; logLevel: string };

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  seed: { type: 'string' },
  'time-scale': { type: 'string' },
  picker: { type: 'string' },
  flapping: { type: 'boolean' },
  'header-routing': { type: 'boolean' },
  'max-num-seqs': { type: 'string' },
  'discovery-interval-ms': { type: 'string' },
  visibility: { type: 'string' },
  misroute: { type: 'string' },
  outage: { type: 'string' },
  fault: { type: 'string', multiple: true },
  faults: { type: 'string' },
  'sse-quirks': { type: 'boolean' },
  latency: { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const envName = (flag: string) => `SIM_${flag.toUpperCase().replaceAll('-', '_')}`;

function number(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new Error(`--${flag}: "${text}" is not a number`);
  return value;
}

function pairs(flag: string, text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(',').filter((s) => s.trim() !== '')) {
    const eq = item.lastIndexOf('=');
    if (eq <= 0) throw new Error(`--${flag}: "${item}" is not name=value`);
    out[item.slice(0, eq).trim()] = number(flag, item.slice(eq + 1));
  }
  return out;
}

function boolean(flag: string, text: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new Error(`${envName(flag)}: "${text}" is not true or false`);
}

/**
 * Parses flags, falling back to SIM_* variables for each one (flags win). Invalid fault values are
 * left to startSimulator's validation, which names the field.
 */
export function parseCliArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CliCommand {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS, allowNegative: true, strict: true });
  if (values.help) return { help: true };
  const text = (flag: keyof typeof OPTIONS): string | undefined => {
    const value = values[flag];
    if (typeof value === 'string') return value;
    return env[envName(flag)];
  };
  const flag = (name: 'flapping' | 'sse-quirks' | 'header-routing'): boolean | undefined => {
    const value = values[name];
    if (typeof value === 'boolean') return value;
    const raw = env[envName(name)];
    return raw === undefined ? undefined : boolean(name, raw);
  };

  const options: SimulatorOptions = {};
  const faults: Partial<SimFaults> & Record<string, unknown> = {};
  const host = text('host');
  if (host !== undefined) options.host = host;
  const port = text('port');
  if (port !== undefined) options.port = number('port', port);
  const seed = text('seed');
  if (seed !== undefined) options.seed = number('seed', seed);
  const timeScale = text('time-scale');
  if (timeScale !== undefined) options.timeScale = number('time-scale', timeScale);
  const picker = text('picker');
  if (picker !== undefined) faults.picker = picker as SimFaults['picker'];
  const flapping = flag('flapping');
  if (flapping !== undefined) faults.flapping = flapping;
  const headerRouting = flag('header-routing');
  if (headerRouting !== undefined) faults.headerRouting = headerRouting;
  const maxNumSeqs = text('max-num-seqs');
  if (maxNumSeqs !== undefined) faults.maxNumSeqs = number('max-num-seqs', maxNumSeqs);
  const interval = text('discovery-interval-ms');
  if (interval !== undefined) faults.discoveryIntervalMs = number('discovery-interval-ms', interval);
  const visibility = text('visibility');
  if (visibility !== undefined) faults.visibility = pairs('visibility', visibility);
  const misroute = text('misroute');
  if (misroute !== undefined) faults.misroute = misroute as SimFaults['misroute'];
  const outage = text('outage');
  if (outage !== undefined)
    faults.outage = outage
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const rates = values.fault ?? (env.SIM_FAULT ? env.SIM_FAULT.split(',') : []);
  for (const [name, rate] of Object.entries(pairs('fault', rates.join(',')))) {
    if (!FAULT_NAMES.includes(name as FaultName)) throw new Error(`--fault: unknown fault "${name}"`);
    faults[name] = rate;
  }
  const quirks = flag('sse-quirks');
  if (quirks !== undefined) faults.sseQuirks = quirks;
  const latency = text('latency');
  if (latency !== undefined) {
    const [ttftMs, tpotMs, tokens] = latency.split(',').map((part) => number('latency', part));
    if (ttftMs === undefined || tpotMs === undefined)
      throw new Error('--latency: expected ttft,tpot[,tokens]');
    faults.latency = tokens === undefined ? { ttftMs, tpotMs } : { ttftMs, tpotMs, tokens };
  }
  const json = text('faults');
  if (json !== undefined) Object.assign(faults, JSON.parse(json));
  options.faults = faults;
  return { help: false, options, logLevel: text('log-level') ?? 'info' };
}
