/**
 * The stage table against the protocol's order (Bonawitz et al. 2017, Fig. 4): each stage's reply opens the
 * next stage, every client message belongs to exactly one stage, and the drop points follow the messages a
 * client sends.
 */
import { describe, expect, it } from 'vitest';
import type { SecAggClientMessage, SecAggServerMessage } from './messages.ts';
import { DROP_POINTS, SECAGG_STAGES, SECAGG_STAGE_TABLE, STAGE_MESSAGE, lastMessageBefore, stageCollecting, stageOpenedBy, stageSpec } from './stages.ts';

// Written out once here so the derivations are checked against the protocol, not against themselves.
const CLIENT_MESSAGES: readonly SecAggClientMessage['type'][] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-signature', 'unmask-shares'];
const SERVER_MESSAGES: readonly SecAggServerMessage['type'][] = ['neighbour-keys', 'shares-for-you', 'survivors', 'unmask-request'];

describe('the SecAgg stage table', () => {
  it('lists the five stages once each, in protocol order', () => {
    expect(SECAGG_STAGES).toEqual(['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking']);
    expect(SECAGG_STAGE_TABLE.map((row) => row.displayName)).toEqual(['AdvertiseKeys', 'ShareKeys', 'MaskedInputCollection', 'ConsistencyCheck', 'Unmasking']);
    expect(SECAGG_STAGE_TABLE.map((row) => row.deadline)).toEqual(['training', 'shareKeys', 'maskedInput', 'consistencyCheck', 'unmasking']);
    for (const row of SECAGG_STAGE_TABLE) expect(stageSpec(row.stage)).toBe(row);
  });

  it('collects every client message type in exactly one stage, in the order clients send them', () => {
    expect(SECAGG_STAGE_TABLE.map((row) => row.collects)).toEqual(CLIENT_MESSAGES);
    for (const type of CLIENT_MESSAGES) {
      expect(SECAGG_STAGE_TABLE.filter((row) => row.collects === type)).toHaveLength(1);
      expect(STAGE_MESSAGE[stageCollecting(type)]).toBe(type);
    }
  });

  it("opens each stage after the first with the previous stage's reply; the last stage has none", () => {
    expect(SECAGG_STAGE_TABLE.map((row) => row.reply)).toEqual([...SERVER_MESSAGES, null]);
    SECAGG_STAGE_TABLE.forEach((row, i) => {
      const next = SECAGG_STAGE_TABLE[i + 1];
      if (row.reply === null) expect(next).toBeUndefined();
      else expect(stageOpenedBy(row.reply)).toBe(next?.stage);
    });
    expect(SERVER_MESSAGES.map(stageOpenedBy)).toEqual(SECAGG_STAGES.slice(1));
  });

  it('has distinct drop points, each after the message a client sent last', () => {
    expect(DROP_POINTS).toEqual(['before-advertise', 'after-advertise', 'after-share', 'after-masked-input', 'during-unmask']);
    expect(new Set(DROP_POINTS).size).toBe(DROP_POINTS.length);
    // The i-th drop point comes after the client sent its first i messages.
    expect(DROP_POINTS.map(lastMessageBefore)).toEqual([null, ...CLIENT_MESSAGES.slice(0, DROP_POINTS.length - 1)]);
    // A client whose unmask shares were sent has finished the round: there is no drop point after it.
    expect(SECAGG_STAGE_TABLE.at(-1)?.dropPoint).toBeNull();
  });
});
