#!/usr/bin/env node
// zerotier-cli launcher: the tool is service/cli/cli.ts (compiled to dist/ by ./build.sh).
import { main } from '../dist/service/cli/cli.js';

await main();
