#!/usr/bin/env node
// The CLI is TypeScript run by tsx, like the gateway; registering it here keeps `npx unifold` one step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/main.ts");
await main();
