// Loads the project's one native addon (built by ./build.sh with node-gyp), once, and decides here where a
// caller may do without it. Each part registers itself under its own name (see native/src/registry.h); the
// typed wrappers live next to their users.
//   nativePart(name)          a part its caller cannot do without (packet crypto): throws, saying how to build
//   optionalNativePart(name)  a part with a JavaScript fallback (the identity hash): undefined when the addon is
//                             not built, or for "identity" when NETCON_IDENTITY_JS=1 asks for the JavaScript one
//   native                    the whole addon (throws on use when it is not built)
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const path = join(root, 'native', 'build', 'Release', 'netcon_native.node');

// biome-ignore lint/suspicious/noExplicitAny: the addon's parts are typed by their wrappers
type Addon = Record<string, any>;

let addon: Addon | undefined;
let loadError: Error | undefined;
try {
  addon = createRequire(import.meta.url)(path) as Addon;
} catch (e) {
  loadError = e as Error;
}

function notBuilt(): Error {
  return new Error(`netcon's native addon is not built (${path}: ${loadError?.message}); run ./build.sh`);
}

/** The addon's part `name` (e.g. "crypto"); throws when the addon is not built. */
export function nativePart(name: string): Addon[string] {
  if (!addon) throw notBuilt();
  return addon[name];
}

/** The addon's part `name` for a caller with a JavaScript fallback; undefined when that fallback is to be used. */
export function optionalNativePart(name: string): Addon[string] | undefined {
  if (name === 'identity' && process.env.NETCON_IDENTITY_JS === '1') return undefined;
  return addon?.[name];
}

export const native: Addon =
  addon ??
  new Proxy(
    {},
    {
      get() {
        throw notBuilt();
      },
    },
  );
