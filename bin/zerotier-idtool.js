#!/usr/bin/env node
// zerotier-idtool launcher: the tool itself is service/cli/idtool.ts (compiled to dist/ by ./build.sh).
import { main } from '../dist/service/cli/idtool.js';

await main();
