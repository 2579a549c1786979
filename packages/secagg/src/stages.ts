/**
 * The five SecAgg+ stages in protocol order — rounds 0–4 of Bonawitz et al. CCS 2017, Fig. 4, with the
 * neighbour graph of Bell et al. CCS 2020 — and what each one means to server, client, run config and
 * dropout simulation. Every stage list, stage name and stage-to-message map in the tree derives from this
 * table. It imports only types, so bundles (the web app, via "@hushfl/secagg/stages") get no crypto code.
 */
import type { SecAggClientMessage, SecAggServerMessage, SecAggStage } from './messages.ts';

interface StageRow {
  readonly stage: SecAggStage;
  /** The stage's name in the paper, shown to people. */
  readonly displayName: string;
  /** The client message the server collects in this stage. */
  readonly collects: SecAggClientMessage['type'];
  /** The server message sent to each remaining client when the stage closes; it opens the next stage. */
  readonly reply: SecAggServerMessage['type'] | null;
  /** The run config's deadline for this stage (`deadlines.<key>`, seconds). */
  readonly deadline: string;
  /** Where a client that vanishes right after sending `collects` is said to drop (CLI drop files use it). */
  readonly dropPoint: string | null;
}

export const SECAGG_STAGE_TABLE = [
  {
    stage: 'advertise-keys',
    displayName: 'AdvertiseKeys',
    collects: 'advertise-keys',
    reply: 'neighbour-keys',
    deadline: 'training',
    dropPoint: 'after-advertise',
  },
  {
    stage: 'share-keys',
    displayName: 'ShareKeys',
    collects: 'share-keys',
    reply: 'shares-for-you',
    deadline: 'shareKeys',
    dropPoint: 'after-share',
  },
  {
    stage: 'masked-input',
    displayName: 'MaskedInputCollection',
    collects: 'masked-input',
    reply: 'survivors',
    deadline: 'maskedInput',
    dropPoint: 'after-masked-input',
  },
  {
    stage: 'consistency-check',
    displayName: 'ConsistencyCheck',
    collects: 'consistency-signature',
    reply: 'unmask-request',
    deadline: 'consistencyCheck',
    dropPoint: 'during-unmask',
  },
  {
    stage: 'unmasking',
    displayName: 'Unmasking',
    collects: 'unmask-shares',
    reply: null,
    deadline: 'unmasking',
    dropPoint: null,
  },
] as const satisfies readonly StageRow[];

export type SecAggStageSpec = (typeof SECAGG_STAGE_TABLE)[number];
/** The run-config deadline keys, one per stage. */
export type StageDeadline = SecAggStageSpec['deadline'];

/** Where a client stops answering: before it advertises keys, or after sending one stage's message. */
export type DropPoint = 'before-advertise' | NonNullable<SecAggStageSpec['dropPoint']>;

export const SECAGG_STAGES: readonly SecAggStage[] = SECAGG_STAGE_TABLE.map((row) => row.stage);

export const DROP_POINTS: readonly DropPoint[] = ['before-advertise', ...SECAGG_STAGE_TABLE.flatMap((row) => (row.dropPoint === null ? [] : [row.dropPoint]))];

/**
 * Object.fromEntries types its keys as plain strings; here they are exactly the entries' keys. Assigning the
 * result to a Record over a full union (every stage, every message type) checks at compile time that the
 * table covers that union.
 */
function lookup<K extends string, V>(entries: readonly (readonly [K, V])[]): Readonly<Record<K, V>> {
  return Object.fromEntries(entries) as Record<K, V>;
}

/** Which client message each stage collects. */
export const STAGE_MESSAGE: Readonly<Record<SecAggStage, SecAggClientMessage['type']>> = lookup(
  SECAGG_STAGE_TABLE.map((row) => [row.stage, row.collects] as const),
);

const SPEC_OF: Readonly<Record<SecAggStage, SecAggStageSpec>> = lookup(SECAGG_STAGE_TABLE.map((row) => [row.stage, row] as const));

const STAGE_OF_MESSAGE: Readonly<Record<SecAggClientMessage['type'], SecAggStage>> = lookup(
  SECAGG_STAGE_TABLE.map((row) => [row.collects, row.stage] as const),
);

const STAGE_OPENED_BY: Readonly<Record<SecAggServerMessage['type'], SecAggStage>> = lookup(
  SECAGG_STAGE_TABLE.flatMap((row, i) => {
    const next = SECAGG_STAGE_TABLE[i + 1];
    return row.reply !== null && next ? [[row.reply, next.stage] as const] : [];
  }),
);

const LAST_MESSAGE_BEFORE: Readonly<Record<DropPoint, SecAggClientMessage['type'] | null>> = lookup([
  ['before-advertise', null] as const,
  ...SECAGG_STAGE_TABLE.flatMap((row) => (row.dropPoint === null ? [] : [[row.dropPoint, row.collects] as const])),
]);

export function stageSpec(stage: SecAggStage): SecAggStageSpec {
  return SPEC_OF[stage];
}

/** The stage in which the server collects this client message. */
export function stageCollecting(messageType: SecAggClientMessage['type']): SecAggStage {
  return STAGE_OF_MESSAGE[messageType];
}

/** The stage a server message opens on the client: the one after the stage whose reply it is. */
export function stageOpenedBy(serverMessageType: SecAggServerMessage['type']): SecAggStage {
  return STAGE_OPENED_BY[serverMessageType];
}

/** The last message a client sends before it vanishes at `dropPoint` (null: it never sends one). */
export function lastMessageBefore(dropPoint: DropPoint): SecAggClientMessage['type'] | null {
  return LAST_MESSAGE_BEFORE[dropPoint];
}
