#!/usr/bin/env -S node --min-semi-space-size=8
// zerotier-netcon-service launcher: the service is service/cli/service-main.ts (compiled to dist/ by ./build.sh).
// The node flags on the first line are SERVICE_NODE_FLAGS there.
import { main } from '../dist/service/cli/service-main.js';

await main();
