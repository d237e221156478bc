#!/usr/bin/env node
// otwatch: a passive sensor for industrial networks. It only reads captures
// or listens on an interface; no code path sends a packet or opens a socket
// that listens.
import { readFileSync } from 'node:fs';
import { helpText, parseArgs, UsageError } from './cli/options.js';
import { READ_OPTIONS, runRead } from './cli/read.js';
import { BASELINE_OPTIONS, BASELINE_USAGE, runBaseline } from './cli/baseline.js';
import { LIVE_OPTIONS, runLive } from './cli/live.js';
import { SetupError } from './pipeline/errors.js';
import { protocolList } from './dissectors/index.js';
import { COLLECT_OPTIONS, COLLECT_USAGE, runCollect } from './cli/collect.js';
import { EXPORT_FLUSH_OPTIONS, EXPORT_FLUSH_USAGE, runExportFlush } from './cli/export-flush.js';
import { INVENTORY_OPTIONS, INVENTORY_USAGE, runInventory } from './cli/inventory.js';
import { REPORT_OPTIONS, REPORT_USAGE, runReport } from './cli/report.js';

const COMMANDS = {
  read: { options: READ_OPTIONS, run: runRead, usage: 'otwatch read [options] FILE... (- for stdin)', about: 'analyse pcap/pcapng files' },
  baseline: {
    options: BASELINE_OPTIONS,
    run: runBaseline,
    usage: BASELINE_USAGE,
    about: 'learn, show and compare baselines of normal traffic',
  },
  live: {
    options: LIVE_OPTIONS,
    run: runLive,
    usage: 'otwatch live -i IFACE [options] [BPF filter]',
    about: 'passive sensor on live interfaces (receive only)',
  },
  collect: { options: COLLECT_OPTIONS, run: runCollect, usage: COLLECT_USAGE, about: 'IT side: records from the DMZ broker into files' },
  export: { options: EXPORT_FLUSH_OPTIONS, run: runExportFlush, usage: EXPORT_FLUSH_USAGE, about: 'export flush: send what a spool holds' },
  inventory: { options: INVENTORY_OPTIONS, run: runInventory, usage: INVENTORY_USAGE, about: 'assets, services, approvals, history' },
  report: { options: REPORT_OPTIONS, run: runReport, usage: REPORT_USAGE, about: 'inventory report: HTML map and tables, CSV, JSON' },
} as const;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function usage(): string {
  return [
    `otwatch ${version()}: passive OT/ICS network sensor (${protocolList()})`,
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(10)}${c.about}`),
    '',
    'otwatch COMMAND --help for its options',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(`${usage()}\n`);
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === '--version' || cmd === '-V') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const c = COMMANDS[cmd as keyof typeof COMMANDS];
  if (c === undefined) throw new UsageError(`unknown command '${cmd}' (try: otwatch --help)`);
  const parsed = parseArgs(c.options, args);
  if (parsed.opts.help) {
    process.stdout.write(`usage: ${c.usage}\n\n${helpText(c.options)}\n`);
    return 0;
  }
  return c.run(parsed);
}

// Every output is written synchronously by now, so the exit is immediate: a
// read of an idle stdin that a signal overtook must not hold the process.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`otwatch: ${e.message}\notwatch: see 'otwatch --help'\n`);
      process.exit(2);
    } else if (e instanceof SetupError) {
      process.stderr.write(`otwatch: error: ${e.message}\n`);
      process.exit(1);
    } else {
      process.stderr.write(`otwatch: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(3);
    }
  },
);
