// The capture builder in one import: frames, writers, conversations, ICS payloads.
export * from './frame.js';
export * from './writer.js';
export * from './capture.js';
export * from './tcp-session.js';
export * from './ics.js';
export * from './opcua.js';
