/** How long a read stays shared after it settled: long enough for every subscriber of one event. */
const SHARE_MS = 1000;

/**
 * A read of some subject's state made once however many subscribers ask
 * after the same event: a dashboard of 500 watching one import costs one
 * query per event, not 500. A read started after a later event of the same
 * subject is as good (events arrive only after their transaction committed).
 */
export function sharedRead<Key, Row>(read: (key: Key) => Promise<Row>): (key: Key, eventId: string) => Promise<Row> {
  const reads = sharedReads<Key, Row>();
  return (key, eventId) => reads(key, eventId, () => read(key));
}

/** sharedRead, with the read given at each call (for states whose reads differ by key). */
export function sharedReads<Key, Row>(): (key: Key, eventId: string, read: () => Promise<Row>) => Promise<Row> {
  const reads = new Map<Key, { eventId: bigint; row: Promise<Row> }>();
  return (key, eventId, read) => {
    const after = BigInt(eventId);
    const shared = reads.get(key);
    if (shared && shared.eventId >= after) return shared.row;
    const row = read();
    reads.set(key, { eventId: after, row });
    const forget = () => {
      setTimeout(() => {
        if (reads.get(key)?.row === row) reads.delete(key);
      }, SHARE_MS).unref();
    };
    row.then(forget, forget);
    return row;
  };
}
