// Loads the project's one native addon (built by ./build.sh with node-gyp). Each part registers
// itself under its own name (see native/src/registry.h); the typed wrappers live next to their users.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

// biome-ignore lint/suspicious/noExplicitAny: the addon's parts are typed by their wrappers
export const native: Record<string, any> = require(join(root, 'native', 'build', 'Release', 'netcon_native.node'));
