// `otwatch export flush --state DIR --export URL ...`: sends what a spool
// holds (after a run that ended with exit 4, or on another machine) and exits
// 0 once all of it is acknowledged, 4 when --export-wait ran out.
import { createLogger } from '../output/log.js';
import { EXPORT_OPTIONS, exportSettings, SENSOR_OPTION } from '../export/options.js';
import { startExport } from '../export/exporter.js';
import { UsageError, type OptSpec, type Parsed } from './options.js';
import { LOG_OPTIONS } from './settings.js';

export const EXPORT_FLUSH_OPTIONS: readonly OptSpec[] = [
  SENSOR_OPTION,
  ...EXPORT_OPTIONS,
  ...LOG_OPTIONS,
  { name: 'quiet', short: 'q', kind: 'flag', help: 'no summary line' },
  { name: 'help', short: 'h', kind: 'flag', help: 'this help' },
];

export const EXPORT_FLUSH_USAGE = 'otwatch export flush --export URL --export-ca FILE [--export-cert FILE --export-key FILE] [--state DIR]';

export async function runExportFlush({ opts, rest }: Parsed): Promise<number> {
  if (rest[0] !== 'flush' || rest.length > 1) throw new UsageError(`usage: ${EXPORT_FLUSH_USAGE}`);
  const settings = exportSettings(opts);
  if (settings === null) throw new UsageError('export flush needs --export URL');
  const log = createLogger(opts['log-level'] as string, opts['log-format'] as 'text' | 'json');
  const ex = startExport(settings, log)!;
  const before = ex.spool.backlog;
  const ok = await ex.drain(settings.waitSecs);
  if (!opts.quiet)
    process.stderr.write(`export flush: ${before} records were spooled; ${ex.stats().acked} acknowledged; ` + `${ex.spool.backlog} left\n`);
  return ok ? 0 : 4;
}
