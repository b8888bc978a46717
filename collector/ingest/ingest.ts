import { decodeDeviceMessage, type RejectReason } from '../../src/contract/decode.ts';
import type { DeviceMessage, EventMessage, InventoryMessage, StateMessage } from '../../src/contract/schemas.ts';
import type { DeviceAddress } from '../../src/contract/topics.ts';
import type { Logger } from '../../src/log.ts';
import type { Point } from '../model/point.ts';
import type { MessageHandler } from './handler.ts';
import { eventToPoint, inventoryToPoint, metricsToPoints, stateToPoint } from './map-points.ts';

// The one path every device message takes, whichever front-end delivered it (embedded or
// external broker, SNMP/HTTP pollers, traps): decode → registry → points → write queue. Refusals are counted by reason and logged
// (rate-limited by the caller's logger); nothing here throws at the front-end.

export interface StateTransition {
  site: string;
  device: string;
  kind: string;
  online: boolean;
  reason: string;
  at: number;
}

/** What ingest needs of the device registry. */
export interface IngestRegistry {
  recordState(address: DeviceAddress, msg: StateMessage, receivedAt: number): StateTransition | null;
  recordSeen(address: DeviceAddress, receivedAt: number): StateTransition | null;
  recordInventory(address: DeviceAddress, msg: InventoryMessage, receivedAt: number): { changed: boolean };
  kindOf(address: DeviceAddress): string;
}

/** Where points go: the bounded write queue (returns false when it had to refuse them). */
export interface PointSink {
  enqueue(points: readonly Point[]): boolean;
}

export interface IngestObserver {
  accepted(channel: string): void;
  rejected(reason: RejectReason): void;
  transition(change: StateTransition): void;
}

export interface IngestOptions {
  registry: IngestRegistry;
  sink: PointSink;
  observer: IngestObserver;
  log: Logger;
  maxPayloadBytes: number;
}

export function transitionToPoint(change: StateTransition): Point {
  return stateToPoint({ site: change.site, device: change.device }, change.kind, change.online, change.reason, change.at);
}

/**
 * Accepts a message already decoded and validated (MQTT after decoding, pollers, traps).
 * `seen: false` keeps the message from counting as a sign of life (a trap says nothing about
 * whether the device answers, and an unknown trap sender is no device to track). `kind` is the
 * sender's kind when the registry does not know the device yet (a trap before the first poll).
 */
export type MessageSink = (address: DeviceAddress, message: DeviceMessage, receivedAt: number, options?: { seen?: boolean; kind?: string }) => void;

export function createMessageSink(options: Omit<IngestOptions, 'log' | 'maxPayloadBytes'>): MessageSink {
  const { registry, sink, observer } = options;

  const emitTransition = (change: StateTransition | null, points: Point[]) => {
    if (!change) return;
    observer.transition(change);
    points.push(transitionToPoint(change));
  };

  return (address, message, receivedAt, options) => {
    const points: Point[] = [];
    switch (message.channel) {
      case 'state':
        emitTransition(registry.recordState(address, message.body, receivedAt), points);
        break;
      case 'metrics':
        emitTransition(registry.recordSeen(address, receivedAt), points);
        points.push(...metricsToPoints(address, registry.kindOf(address), message.body));
        break;
      case 'event':
        if (options?.seen !== false) emitTransition(registry.recordSeen(address, receivedAt), points);
        points.push(eventToPoint(address, options?.kind ?? registry.kindOf(address), message.body));
        break;
      case 'inventory': {
        emitTransition(registry.recordSeen(address, receivedAt), points);
        if (registry.recordInventory(address, message.body, receivedAt).changed) {
          const kind = registry.kindOf(address);
          points.push(eventToPoint(address, kind, inventoryChangedEvent(message.body)));
          // Written on change only, like the event: the dashboards read the latest device_info without a time bound.
          const info = inventoryToPoint(address, kind, message.body);
          if (info) points.push(info);
        }
        break;
      }
    }
    observer.accepted(message.channel);
    if (points.length > 0) sink.enqueue(points);
  };
}

export function createIngest(options: IngestOptions, accept: MessageSink = createMessageSink(options)): MessageHandler {
  const { observer, log } = options;
  return async (topic, payload, receivedAt) => {
    const decoded = decodeDeviceMessage(topic, payload, options.maxPayloadBytes);
    if (!decoded.ok) {
      observer.rejected(decoded.reason);
      log.log('warn', 'message rejected', { reason: decoded.reason, topic: topic.slice(0, 200), detail: decoded.detail });
      return;
    }
    accept(decoded.address, decoded.message, receivedAt);
  };
}

function inventoryChangedEvent(msg: InventoryMessage): EventMessage {
  return { v: 1, ts: msg.ts, type: 'inventory_changed', severity: 'info', data: { hash: msg.hash } };
}
