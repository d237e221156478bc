// What `otwatch live` is asked to do beyond the shared pipeline, typed.
import type { PipelineSettings } from '../settings.js';

export interface RetentionSettings {
  /** Delete the oldest rotated files while the directory's rotated files
   *  hold more than this many bytes (0: no limit). */
  maxBytes: number;
  /** Delete rotated files older than this many seconds (0: no limit). */
  maxAgeS: number;
}

export interface LiveSettings {
  pipeline: PipelineSettings;
  interfaces: readonly string[];
  capture: 'tcpdump' | 'cap';
  tcpdump: string;
  filter: string;
  bufferBytes: number;
  snaplen: number;
  promisc: boolean;
  immediate: boolean;
  batch: boolean;
  /** Drop root for this user once the interfaces are open. */
  user: string | null;
  retry: boolean;
  retryMaxS: number;
  /** A stats record every this many seconds (0: only at exit). */
  statsEveryS: number;
  rotate: { maxBytes: number; maxSeconds: number };
  retain: RetentionSettings;
}
