#!/usr/bin/env node
/**
 * The `ttp-rules` executable. Everything lives in `program.ts`; this file only
 * sets the exit code. Once the command is done every handle should be closed;
 * an unref'd timer makes sure a stray one cannot keep the process alive.
 */
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
setTimeout(() => process.exit(), 2000).unref();
