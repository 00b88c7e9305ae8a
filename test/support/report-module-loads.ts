import { registerHooks } from 'node:module';

// Loaded with `--import` into a backstop under test: writes one JSON line per module it loads from
// a package or from the repository (never Node's own), so a test can tell what serving loaded:
// whether the OpenTelemetry SDK came in, or the simulator. One line for the first module too, so a
// test knows the reporter ran.
process.stdout.write(`${JSON.stringify({ msg: 'module loaded', url: 'reporter' })}\n`);
const reported = new Set<string>();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.startsWith('file:') && !reported.has(resolved.url)) {
      reported.add(resolved.url);
      process.stdout.write(`${JSON.stringify({ msg: 'module loaded', url: resolved.url })}\n`);
    }
    return resolved;
  },
});
