import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config.ts';
import { CHART_DIR } from './helm.ts';
import { configDefaults, configKey } from './helm-checks.ts';

/**
 * The chart README's two tables against the chart: "Values" documents every value of values.yaml
 * but `config` (a row may cover a whole subtree, e.g. `autoscaling.behavior`) with its default as
 * JSON; "Settings" has one row per variable of src/config.ts, with backstop's default.
 */

/** The header rows that open the two tables. */
export const VALUES_HEADER = '| Value | Default | Description |';
export const SETTINGS_HEADER = "| Setting | backstop's default | Meaning |";

/** The rows of the table under `header`: first cell (without backticks) -> second cell. */
function table(readme: string, header: string): Map<string, string> | undefined {
  const lines = readme.split('\n');
  const start = lines.indexOf(header);
  if (start < 0) return undefined;
  const rows = new Map<string, string>();
  // Past the header and its | --- | line, up to the first line that is not a row.
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const [name = '', value = ''] = line
      .slice(1)
      .split(' | ')
      .map((cell) => cell.trim());
    rows.set(/^`([^`]+)`$/.exec(name)?.[1] ?? name, value);
  }
  return rows;
}

/** Leaf paths of `value`: nested maps are walked, anything else (lists, {}, scalars) is a leaf. */
function leaves(value: unknown, path: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [path];
  const entries = Object.entries(value);
  if (entries.length === 0) return [path];
  return entries.flatMap(([key, inner]) => leaves(inner, path === '' ? key : `${path}.${key}`));
}

function at(value: unknown, path: string): { found: boolean; value?: unknown } {
  let current = value;
  for (const key of path.split('.')) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, key))
      return { found: false };
    current = (current as Record<string, unknown>)[key];
  }
  return { found: true, value: current };
}

/** Problems with the README's tables: undocumented values, stale rows, wrong defaults. */
export function readmeDrift(chart = CHART_DIR): string[] {
  const readme = readFileSync(join(chart, 'README.md'), 'utf8');
  const values = parse(readFileSync(join(chart, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const documented = table(readme, VALUES_HEADER);
  const settings = table(readme, SETTINGS_HEADER);
  if (!documented || !settings)
    return [`README.md: no table opened by ${VALUES_HEADER} or ${SETTINGS_HEADER}`];
  const problems: string[] = [];

  const { config: _, ...rest } = values;
  for (const leaf of leaves(rest, '')) {
    const rows = [...documented.keys()].filter((row) => leaf === row || leaf.startsWith(`${row}.`));
    if (rows.length !== 1) problems.push(`README.md: ${leaf} is documented by ${rows.length} rows, not 1`);
  }
  for (const [row, cell] of documented) {
    const found = at(rest, row);
    if (!found.found) {
      problems.push(`README.md: a row for ${row}, which values.yaml does not have`);
      continue;
    }
    const expected = `\`${JSON.stringify(found.value)}\``;
    if (cell !== expected)
      problems.push(`README.md: ${row} defaults to ${expected} in values.yaml, not ${cell}`);
  }

  const defaults = configDefaults();
  for (const name of CONFIG_VARIABLES) {
    const cell = settings.get(name);
    if (cell === undefined) {
      problems.push(`README.md: setting ${name} is not in the settings table`);
      continue;
    }
    // Numbers must be stated; a string default is checked when the cell is a bare literal (an
    // unset one is described in words: "required", "any model", "`HOST`'s").
    const value = defaults[configKey(name)];
    const literal = /^`([^`]*)`$/.exec(cell)?.[1];
    if (
      (typeof value === 'number' || (typeof value === 'string' && literal !== undefined)) &&
      literal !== String(value)
    )
      problems.push(`README.md: ${name}'s default is \`${value}\` (src/config.ts), not ${cell}`);
  }
  for (const name of settings.keys()) {
    if (!CONFIG_VARIABLES.includes(name))
      problems.push(`README.md: setting ${name}, which backstop does not read`);
  }
  for (const name of Object.keys((values.config as object | undefined) ?? {})) {
    if (!settings.has(name))
      problems.push(`README.md: config.${name} of values.yaml is not in the settings table`);
  }
  return problems;
}
