// What an exported record is: the NDJSON line as written today with
// "sensor" and "seq" added before its closing brace. The spool keeps these
// lines; the type and seq are read back from them without parsing JSON.

/** `{"type":"alert_summary",...}` → "alert_summary" (records begin with their type). */
export function recordType(line: string, from = 0): string | null {
  if (!line.startsWith('{"type":"', from)) return null;
  const end = line.indexOf('"', from + 9);
  return end < 0 ? null : line.slice(from + 9, end);
}

/** The line [from, end) (ending "}\n") with sensor and seq appended inside the object. */
export function stampLine(line: string, from: number, end: number, sensorJson: string, seq: number): string {
  return `${line.slice(from, end - 2)},"sensor":${sensorJson},"seq":${seq}}\n`;
}

/** The seq of a stamped line, read from its end (`,"seq":N}`). */
export function lineSeq(line: string): number {
  const i = line.lastIndexOf('"seq":');
  return i < 0 ? -1 : parseInt(line.slice(i + 6), 10);
}
