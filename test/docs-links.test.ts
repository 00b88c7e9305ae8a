import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { RULES_COPY, RULES_SOURCE, RUNBOOK_BASE_COPY, RUNBOOK_PATH } from '../scripts/sync-monitoring.ts';

// The docs hold together (issue 12, "Docs a newcomer can read"): every relative link and `#anchor`
// in every Markdown file of the repository resolves the way GitHub resolves it, and every alert's
// runbook_url is an absolute URL whose path, after the configured base, is the alert's own page
// under docs/runbooks/ (issue 10, defect 8: `README.md#...` was no link a browser could open).

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * The repository's files as a commit would hold them: tracked, plus untracked files that are not
 * ignored (a new page links and is linked before it is committed), minus deleted ones. Paths are
 * POSIX and relative to the root. A link to an ignored file (bench/results/...) is broken on GitHub.
 */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...new Set(out.split('\0'))].filter((path) => path !== '' && existsSync(join(ROOT, path))).sort();
}

/**
 * GitHub's heading anchor for a heading's plain text (github-slugger): lower case, every character
 * that is not a letter, mark, number, connector (`_`), space or hyphen dropped, spaces made hyphens.
 */
export function githubSlug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/**
 * The text GitHub renders for a heading's inline Markdown, which is what it slugs: code spans keep
 * their content, links and images their text, HTML tags and emphasis markers go. `_` inside a word
 * is no emphasis (CommonMark), so `RETRY_MAX_ATTEMPTS` keeps its underscores.
 */
export function headingText(markdown: string): string {
  return markdown
    .split(/(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/)
    .map((part, i) => {
      if (i % 3 === 1) return '';
      if (i % 3 === 2) return part.trim() === '' ? part : part.replace(/^ (.*) $/, '$1');
      return part
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/<[^>]+>/g, '')
        .replace(/(\*\*|\*)(?=\S)([\s\S]*?\S)\1/g, '$2')
        .replace(/(?<![\p{L}\p{N}])(__|_)(?=\S)([\s\S]*?\S)\1(?![\p{L}\p{N}])/gu, '$2');
    })
    .join('')
    .trim();
}

/** A Markdown file's anchors and the link targets it holds, each with its line number. */
export type ScannedMarkdown = { anchors: Set<string>; links: { target: string; line: number }[] };

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const ATX_HEADING = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT_UNDERLINE = /^ {0,3}(?:=+|-+)[ \t]*$/;
const INLINE_LINK =
  /!?\[(?:[^\]\\]|\\.)*\]\(\s*(<[^>\n]*>|[^\s)]+)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
const REFERENCE_DEFINITION = /^ {0,3}\[(?:[^\]\\]|\\.)+\]:\s*(<[^>\n]*>|\S+)/;
const HTML_LINK = /<(?:a|img)\s[^>]*?\b(?:href|src)\s*=\s*"([^"]*)"/gi;
const HTML_ANCHOR = /<[a-z][^>]*?\s(?:id|name)\s*=\s*"([^"]+)"/gi;

/**
 * Finds the anchors (GitHub's heading slugs, numbered `-1`, `-2` when repeated, and HTML `id` or
 * `name` attributes) and the link targets (inline links and images, reference definitions, HTML
 * `href` and `src`) of a Markdown text. Fenced code blocks and code spans hold neither.
 */
export function scanMarkdown(text: string): ScannedMarkdown {
  const anchors = new Set<string>();
  const links: ScannedMarkdown['links'] = [];
  const occurrences = new Map<string, number>();
  const addHeading = (raw: string) => {
    const slug = githubSlug(headingText(raw));
    let result = slug;
    while (occurrences.has(result)) {
      const n = (occurrences.get(slug) ?? 0) + 1;
      occurrences.set(slug, n);
      result = `${slug}-${n}`;
    }
    occurrences.set(result, 0);
    anchors.add(result);
  };
  let fence: string | undefined;
  let paragraph: string | undefined;
  text.split('\n').forEach((line, i) => {
    const open = FENCE.exec(line);
    if (fence !== undefined) {
      const close = open?.[1];
      if (
        close !== undefined &&
        close[0] === fence[0] &&
        close.length >= fence.length &&
        line.trim() === close
      )
        fence = undefined;
      return;
    }
    if (open?.[1] !== undefined) {
      fence = open[1];
      paragraph = undefined;
      return;
    }
    if (paragraph !== undefined && SETEXT_UNDERLINE.test(line)) {
      addHeading(paragraph);
      paragraph = undefined;
      return;
    }
    const heading = ATX_HEADING.exec(line);
    if (heading) addHeading(heading[1] ?? '');
    const blank = line.trim() === '';
    const block = /^\s*([|>#*+-]|\d+[.)])/.test(line);
    if (blank || heading || block) paragraph = undefined;
    else paragraph = paragraph === undefined ? line : `${paragraph} ${line.trim()}`;
    const prose = line.replace(/(`+)[^`]+?\1/g, 'code');
    for (const match of prose.matchAll(HTML_ANCHOR)) anchors.add(match[1] as string);
    const targets = [
      ...[...prose.matchAll(INLINE_LINK)].map((m) => m[1] as string),
      ...[...prose.matchAll(HTML_LINK)].map((m) => m[1] as string),
      REFERENCE_DEFINITION.exec(prose)?.[1],
    ];
    for (const target of targets) {
      if (target !== undefined) links.push({ target: target.replace(/^<(.*)>$/, '$1'), line: i + 1 });
    }
  });
  return { anchors, links };
}

/** GitHub's line anchors on a non-Markdown file: `#L10`, `#L10-L20`, `#L10C2-L12C5`. */
const LINE_ANCHOR = /^L\d+(C\d+)?(-L\d+(C\d+)?)?$/;

/**
 * Every broken relative link among `markdown` (path -> text), resolved as GitHub does: against
 * the linking file's folder, or the repository root for a leading `/`; a target must be one of
 * `files` or a folder holding some, and an anchor must be one of its target's anchors. Links with
 * a scheme (`https:`, `mailto:`) or a network path (`//host`) are not this check's business.
 */
export function brokenLinks(markdown: Map<string, string>, files: readonly string[]): string[] {
  const scanned = new Map([...markdown].map(([path, text]) => [path, scanMarkdown(text)]));
  const fileSet = new Set(files);
  const isFolder = (path: string) => path === '' || files.some((file) => file.startsWith(`${path}/`));
  const problems: string[] = [];
  for (const [from, { links }] of scanned) {
    for (const { target, line } of links) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) continue;
      const where = `${from}:${line}: ${target}`;
      const hash = target.indexOf('#');
      const rawPath = (hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, '');
      let path: string;
      let anchor: string | undefined;
      try {
        path = decodeURI(rawPath);
        anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
      } catch {
        problems.push(`${where}: not a valid URL path`);
        continue;
      }
      const resolved =
        path === ''
          ? from
          : posix.normalize(path.startsWith('/') ? path.slice(1) : posix.join(posix.dirname(from), path));
      const clean = resolved.replace(/\/$/, '').replace(/^\.$/, '');
      if (clean === '..' || clean.startsWith('../')) {
        problems.push(`${where}: leaves the repository`);
        continue;
      }
      const isFile = fileSet.has(clean);
      if (!isFile && !isFolder(clean)) {
        problems.push(`${where}: no such file or folder (${clean})`);
        continue;
      }
      if (isFile && path.endsWith('/')) {
        problems.push(`${where}: ${clean} is a file, not a folder`);
        continue;
      }
      if (anchor === undefined || anchor === '') continue;
      const page = isFile ? clean : posix.join(clean, 'README.md');
      const linked = scanned.get(page);
      if (linked !== undefined) {
        if (!linked.anchors.has(anchor)) problems.push(`${where}: ${page} has no heading or id "#${anchor}"`);
      } else if (!isFile || !LINE_ANCHOR.test(anchor)) {
        problems.push(`${where}: "#${anchor}" cannot be checked in ${page}`);
      }
    }
  }
  return problems;
}

const files = repositoryFiles();
const markdownFiles = files.filter((path) => path.endsWith('.md'));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

describe('Markdown links', () => {
  test('finds the docs to check', () => {
    for (const expected of ['README.md', 'CONTRIBUTING.md', 'docs/resilience.md', 'docs/observability.md'])
      assert.ok(markdownFiles.includes(expected), `${expected} is not among ${markdownFiles.join(', ')}`);
  });

  test('every relative link and anchor in every Markdown file resolves', () => {
    const markdown = new Map(markdownFiles.map((path) => [path, read(path)]));
    const links = [...markdown.values()].reduce((n, text) => n + scanMarkdown(text).links.length, 0);
    assert.ok(links > 50, `only ${links} links found: is the scanner blind?`);
    assert.deepEqual(brokenLinks(markdown, files), []);
  });
});

describe('the link checker itself', () => {
  test('slugs headings as GitHub does', () => {
    const slug = (heading: string) => githubSlug(headingText(heading));
    assert.equal(slug('Supported Node.js'), 'supported-nodejs');
    assert.equal(slug('Retry budget per model (Finagle-style)'), 'retry-budget-per-model-finagle-style');
    assert.equal(slug('Graceful shutdown (SIGTERM, SIGINT)'), 'graceful-shutdown-sigterm-sigint');
    assert.equal(slug('Faults (`SimFaults`)'), 'faults-simfaults');
    assert.equal(slug('Control and evidence: `/sim/*`'), 'control-and-evidence-sim');
    assert.equal(slug('Runbook: BackstopTTFTP95High'), 'runbook-backstopttftp95high');
    assert.equal(slug('`RETRY_MAX_ATTEMPTS` and _why_'), 'retry_max_attempts-and-why');
    assert.equal(slug('A [linked](x.md) **bold** word'), 'a-linked-bold-word');
    assert.equal(slug('Ünïcode — dashes'), 'ünïcode--dashes');
  });

  test('numbers repeated headings and ignores headings in code', () => {
    const { anchors } = scanMarkdown(
      '# A\n\n## A\n\n```yaml\n# B\n```\n\nSetext\n------\n\n<a id="here"></a>\n',
    );
    assert.deepEqual([...anchors].sort(), ['a', 'a-1', 'here', 'setext']);
  });

  test('reports what is broken, and only that', () => {
    const docs = new Map([
      [
        'README.md',
        [
          '# Top',
          '[ok](docs/a.md#part-one) [ok](docs/) [ok](#top) [ok](src/x.ts#L3) [ok](https://x.test/#nope)',
          '[missing file](docs/b.md) [missing anchor](docs/a.md#part-two) [self](#nowhere)',
          '`[in code](nowhere.md)` and <a href="docs/c.md">html</a>',
          '```',
          '[in a fence](nowhere.md)',
          '```',
          '[ref]: ../outside.md',
        ].join('\n'),
      ],
      ['docs/a.md', '# Part one\n[up](../README.md#top) [file as folder](../README.md/)\n'],
    ]);
    const problems = brokenLinks(docs, ['README.md', 'docs/a.md', 'src/x.ts']).map((p) =>
      p.replace(/: [^:]*$/, ''),
    );
    assert.deepEqual(problems, [
      'README.md:3: docs/b.md',
      'README.md:3: docs/a.md#part-two',
      'README.md:3: #nowhere',
      'README.md:4: docs/c.md',
      'README.md:8: ../outside.md',
      'docs/a.md:2: ../README.md/',
    ]);
  });
});

type Alert = { alert?: string; annotations?: { runbook_url?: string } };
type Groups = { rules: Alert[] }[];

/** The runbook base the kustomize Component writes into every runbook_url by default. */
const base = (parse(read(RUNBOOK_BASE_COPY)) as { data: { url: string } }).data.url;
const sourceAlerts = (parse(read(RULES_SOURCE)) as { groups: Groups }).groups.flatMap((g) => g.rules);
const copyAlerts = (parse(read(RULES_COPY)) as { spec: { groups: Groups } }).spec.groups.flatMap(
  (g) => g.rules,
);
const alertSources: [string, Alert[]][] = [
  [RULES_SOURCE, sourceAlerts],
  [RULES_COPY, copyAlerts],
];
const RUNBOOK_DIR = RUNBOOK_PATH.replace(/^\/|\/$/g, '');

describe('runbook links', () => {
  test('the default base is an absolute https URL, and docs/observability.md names it', () => {
    assert.equal(new URL(base).protocol, 'https:');
    assert.ok(!base.endsWith('/'), `${base} ends with /`);
    assert.ok(
      read('docs/observability.md').includes(`\`${base}\``),
      `docs/observability.md does not name ${base}`,
    );
  });

  for (const [source, rules] of alertSources) {
    test(`every alert in ${source} links to its own page under ${RUNBOOK_DIR}/`, () => {
      const alerts = rules.filter((rule) => rule.alert !== undefined);
      assert.equal(alerts.length, 5);
      for (const { alert, annotations } of alerts) {
        const url = annotations?.runbook_url ?? '';
        assert.ok(url.startsWith(`${base}/`), `${alert}: runbook_url "${url}" does not start with ${base}/`);
        assert.doesNotThrow(() => new URL(url), `${alert}: "${url}" is not a URL`);
        const page = url.slice(base.length + 1);
        assert.equal(posix.dirname(page), RUNBOOK_DIR, `${alert}: ${page} is not under ${RUNBOOK_DIR}/`);
        assert.ok(files.includes(page), `${alert}: ${page} does not exist`);
        const title = read(page).match(/^# (.*)$/m)?.[1] ?? '';
        assert.match(title, new RegExp(`\\b${alert}\\b`), `${alert}: the title of ${page} is "${title}"`);
      }
    });
  }

  test(`every page under ${RUNBOOK_DIR}/ is some alert's runbook`, () => {
    const linked = new Set(sourceAlerts.map((rule) => rule.annotations?.runbook_url?.slice(base.length + 1)));
    const pages = files.filter((path) => posix.dirname(path) === RUNBOOK_DIR);
    assert.deepEqual(
      pages.filter((page) => !linked.has(page)),
      [],
    );
  });
});
