#!/usr/bin/env node
// zerotier-netcon launcher: the tool is service/cli/netcon.ts (compiled to dist/ by ./build.sh).
import { main } from '../dist/service/cli/netcon.js';

await main();
