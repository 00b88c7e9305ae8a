import { registerHooks } from 'node:module';

// Loaded with `--import` into a backstop under test: writes one JSON line per module it loads
// from a package, so a test can tell whether the OpenTelemetry SDK was loaded at all. One line
// for the first module too, so a test knows the reporter ran.
process.stdout.write(`${JSON.stringify({ msg: 'module loaded', url: 'reporter' })}\n`);
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/node_modules/@opentelemetry/'))
      process.stdout.write(`${JSON.stringify({ msg: 'module loaded', url: resolved.url })}\n`);
    return resolved;
  },
});
