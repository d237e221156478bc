// MQTT 5 over TLS (or plaintext with --export-insecure) through MQTT.js.
// MQTT.js reconnects and queues on its own; neither is used: every connection
// is a new client with reconnectPeriod 0, records are only published while it
// is up, and the spool (not MQTT.js's in-memory store) is what survives.
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { IClientOptions, MqttClient } from 'mqtt';
import type { TlsMaterial } from './tls-files.js';
import { describeNetError, UndeliveredError, type Transport } from './transport.js';

export interface MqttTarget {
  url: URL;
  secure: boolean;
  tls: TlsMaterial;
  clientId: string;
}

// MQTT.js takes tens of ms to load; runs without --export never load it.
const requireCjs = createRequire(import.meta.url);
export function mqttLib(): typeof import('mqtt') {
  return requireCjs('mqtt') as typeof import('mqtt');
}

/** How long the broker keeps a session (and its queue) while the client is away. */
export const SESSION_EXPIRY_S = 7 * 86400;

export function mqttConnectOptions(t: MqttTarget, clean: boolean): IClientOptions {
  const host = t.url.hostname.replace(/^\[|\]$/g, '');
  return {
    protocolVersion: 5,
    clientId: t.clientId,
    clean,
    properties: { sessionExpiryInterval: SESSION_EXPIRY_S },
    reconnectPeriod: 0,
    connectTimeout: 15_000,
    keepalive: 30,
    queueQoSZero: false,
    resubscribe: false,
    protocol: t.secure ? 'mqtts' : 'mqtt',
    // MQTT.js logs a dozen debug lines per publish; unless DEBUG asks for them, each still costs a check
    // of the debug namespaces (5 % of the export thread at 50 k records/s).
    ...(process.env.DEBUG ? {} : { log: () => {} }),
    host,
    port: Number(t.url.port || (t.secure ? 8883 : 1883)),
    ...(t.secure
      ? { ca: t.tls.ca, cert: t.tls.cert, key: t.tls.key, rejectUnauthorized: true, servername: isIP(host) === 0 ? host : undefined }
      : {}),
  };
}

/** MQTT 5 PUBACK reason code. */
const NO_MATCHING_SUBSCRIBERS = 0x10;

export class MqttTransport implements Transport {
  private client: MqttClient | null = null;
  /** Message ids whose PUBACK said 0x10. MQTT.js reports that PUBACK as a success and passes the
   *  publish callback its own packet, so the reason code is caught on the way in. */
  private readonly unrouted = new Set<number>();
  window?: number;
  onDown: (err: Error) => void = () => {};

  constructor(
    private readonly t: MqttTarget,
    private readonly topicPrefix: string,
  ) {}

  connect(): Promise<void> {
    const host = this.t.url.hostname;
    return new Promise((resolve, reject) => {
      const c = mqttLib().connect(mqttConnectOptions(this.t, false));
      this.client = c;
      let up = false;
      let lastErr: Error | null = null;
      c.on('error', (e) => {
        lastErr = e;
      });
      this.unrouted.clear();
      // Reason 0x10: accepted, and dropped for want of a subscriber (no collector session yet, or a
      // broker that restarted and has not restored it). Not a delivery: the record stays spooled.
      c.on('packetreceive', (p) => {
        if (p.cmd === 'puback' && p.reasonCode === NO_MATCHING_SUBSCRIBERS && p.messageId !== undefined) this.unrouted.add(p.messageId);
      });
      c.on('connect', (ack) => {
        up = true;
        // More in flight than the broker's Receive Maximum is a protocol error that ends the connection.
        this.window = ack.properties?.receiveMaximum;
        resolve();
      });
      c.on('close', () => {
        const err = new Error(lastErr !== null ? describeNetError(lastErr, host) : 'the connection closed');
        c.removeAllListeners();
        c.on('error', () => {});
        c.end(true);
        // close() drops the client first: a connection ended on purpose is not a lost one.
        const current = this.client === c;
        if (current) this.client = null;
        if (!up) reject(err);
        else if (current) this.onDown(err);
      });
    });
  }

  send(type: string, line: string | Buffer, done: (err: Error | null) => void): void {
    const c = this.client;
    if (c === null) {
      done(new Error('not connected'));
      return;
    }
    c.publish(`${this.topicPrefix}${type}`, line, { qos: 1 }, (err, packet) => {
      const id = packet?.messageId;
      if (!err && id !== undefined && this.unrouted.delete(id)) {
        done(new UndeliveredError('the broker has no subscriber for it (PUBACK reason 0x10: is a collector subscribed?)'));
      } else done(err ?? null);
    });
  }

  close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c === null) return Promise.resolve();
    return new Promise((r) => c.end(false, {}, () => r()));
  }
}
