#!/usr/bin/env node
// zerotier-netcon-service launcher: the service is service/cli/service-main.ts (compiled to dist/ by ./build.sh).
import { main } from '../dist/service/cli/service-main.js';

await main();
