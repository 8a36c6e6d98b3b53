import { useState } from "preact/hooks";
import { ActionButton, Counts, Panel, seconds, StatusBadge, when } from "../components.js";
import { useSession } from "../context.js";
import { useLive, useQuery, useTick } from "../hooks.js";

type Item = { id: string; key: string; label: string | null; status: string; attempts: number; maxAttempts: number; error: string | null; tags: string[]; meta: unknown; payload: unknown; startedAt: string | null; completedAt: string | null; durationSeconds: number | null };
const ITEM = "id key label status attempts maxAttempts error tags meta payload startedAt completedAt durationSeconds";
type Status = { queue: string; pending: number; running: number; waiting: number; completed: number; failed: number; cancelled: number; total: number; paused: boolean; current: Item[] };
type Page = { queueItems: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Item }[] } };

const STATUSES = ["PENDING", "RUNNING", "WAITING", "COMPLETED", "FAILED", "CANCELLED"];

export function QueueView(props: { name: string }) {
  const { notify } = useSession();
  // Pausing a queue changes no item, so no event says so: after its own switch the page subscribes again (`switched`).
  const [switched, setSwitched] = useState(0);
  const { data, error } = useLive<{ queueStatusUpdated: Status }>(`subscription($queue: String) { queueStatusUpdated(queue: $queue) { queue pending running waiting completed failed cancelled total paused current { ${ITEM} } } }`, { queue: props.name, switched });
  const [filter, setFilter] = useState({ search: "", status: "", tags: "", payload: "" });
  const [applied, setApplied] = useState(filter);
  const [after, setAfter] = useState<string | null>(null);
  const now = useTick();
  let payload: unknown = null;
  try {
    payload = applied.payload.trim() ? JSON.parse(applied.payload) : null;
  } catch {
    payload = null;
  }
  const variables = {
    queue: props.name,
    search: applied.search || null,
    status: applied.status ? [applied.status] : null,
    tags: applied.tags.trim() ? applied.tags.split(",").map((tag) => tag.trim()).filter(Boolean) : null,
    payload,
    after,
    version: data?.queueStatusUpdated.total,
  };
  const history = useQuery<Page>(
    `query($queue: String, $search: String, $status: [Status!], $tags: [String!], $payload: JSON, $after: String) {
      queueItems(queue: $queue, search: $search, status: $status, tags: $tags, payload: $payload, first: 50, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { ${ITEM} } } } }`,
    variables,
  );
  if (error) return <p class="error">{error.message}</p>;
  if (!data) return <p class="loading">Loading…</p>;
  const status = data.queueStatusUpdated;
  const item = (id: string, name: string) => ({ query: `mutation($id: ID!) { ${name}(id: $id) { id status } }`, variables: { id } });
  return (
    <div class="detail">
      <Panel
        title={<>Queue {props.name} {status.paused ? <StatusBadge status="PAUSED" /> : null}</>}
        actions={
          <>
            {status.paused ? (
              <ActionButton label="Resume queue" query={`mutation($queue: String!) { resumeQueue(queue: $queue) { paused } }`} variables={{ queue: props.name }} done={() => setSwitched(switched + 1)} />
            ) : (
              <ActionButton label="Pause queue" query={`mutation($queue: String!) { pauseQueue(queue: $queue) { paused } }`} variables={{ queue: props.name }} done={() => setSwitched(switched + 1)} />
            )}
            {status.failed > 0 ? (
              <ActionButton label="Retry all failed" query={`mutation($queue: String!) { retryFailedItems(queue: $queue) }`} variables={{ queue: props.name }} done={(answer) => notify(`${(answer as { retryFailedItems: number }).retryFailedItems} items run again`)} />
            ) : null}
          </>
        }
      >
        <Counts items={[["pending", status.pending], ["running", status.running], ["waiting", status.waiting], ["completed", status.completed], ["failed", status.failed], ["cancelled", status.cancelled], ["total", status.total]]} />
      </Panel>
      <Panel title={`Running now (${status.running})`}>
        <table>
          <thead><tr><th>item</th><th>attempt</th><th>running for</th><th /></tr></thead>
          <tbody>
            {status.current.map((running) => (
              <tr key={running.id}>
                <td>{running.label ?? running.key}</td>
                <td>{running.attempts}/{running.maxAttempts}</td>
                <td>{running.startedAt ? seconds((now - Date.parse(running.startedAt)) / 1000) : "—"}</td>
                <td><ActionButton label="Cancel" danger {...item(running.id, "cancelQueueItem")} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
      <Panel title={`History (${history.data?.queueItems.totalCount ?? "…"})`}>
        <form
          class="filters"
          onSubmit={(event) => {
            event.preventDefault();
            if (filter.payload.trim()) {
              try {
                JSON.parse(filter.payload);
              } catch {
                return notify("payload filter: not JSON, e.g. {\"domain\": \"example.com\"}", true);
              }
            }
            setAfter(null);
            setApplied(filter);
          }}
        >
          <input name="search" placeholder="search key, label, error" value={filter.search} onInput={(event) => setFilter({ ...filter, search: event.currentTarget.value })} />
          <select name="status" value={filter.status} onChange={(event) => setFilter({ ...filter, status: event.currentTarget.value })}>
            <option value="">any status</option>
            {STATUSES.map((value) => <option key={value} value={value}>{value}</option>)}
          </select>
          <input name="tags" placeholder="tags, comma separated" value={filter.tags} onInput={(event) => setFilter({ ...filter, tags: event.currentTarget.value })} />
          <input name="payload" placeholder='payload holds, e.g. {"domain": "example.com"}' value={filter.payload} onInput={(event) => setFilter({ ...filter, payload: event.currentTarget.value })} />
          <button type="submit">Filter</button>
        </form>
        {history.error ? <p class="error">{history.error.message}</p> : null}
        <table class="items">
          <thead><tr><th>key</th><th>status</th><th>attempts</th><th>tags</th><th>ended</th><th>took</th><th>error</th><th /></tr></thead>
          <tbody>
            {history.data?.queueItems.edges.map(({ node }) => (
              <tr key={node.id} data-item={node.key}>
                <td title={JSON.stringify(node.payload)}>{node.label ?? node.key}</td>
                <td><StatusBadge status={node.status} /></td>
                <td>{node.attempts}/{node.maxAttempts}</td>
                <td>{node.tags.map((tag) => <span class="tag" key={tag}>{tag}</span>)}</td>
                <td>{when(node.completedAt)}</td>
                <td>{seconds(node.durationSeconds)}</td>
                <td class="message">{node.error ?? ""}</td>
                <td>
                  {["FAILED", "CANCELLED"].includes(node.status) ? <ActionButton label="Retry" {...item(node.id, "retryQueueItem")} /> : null}
                  {["PENDING", "RUNNING", "WAITING"].includes(node.status) ? <ActionButton label="Cancel" danger {...item(node.id, "cancelQueueItem")} /> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {history.data?.queueItems.pageInfo.hasNextPage ? <button onClick={() => setAfter(history.data!.queueItems.pageInfo.endCursor)}>Older items</button> : null}
        {after ? <button onClick={() => setAfter(null)}>Newest</button> : null}
      </Panel>
    </div>
  );
}
