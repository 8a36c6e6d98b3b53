import { useState } from "preact/hooks";
import { ActionButton, Bar, Counts, number, Panel, seconds, StatusBadge, when } from "../components.js";
import { useSession } from "../context.js";
import { useAction, useLive, useQuery } from "../hooks.js";
import { EventLog } from "./EventLog.js";

type Job = {
  id: string; name: string; kind: string; description: string | null; status: string; tags: string[]; meta: unknown; concurrency: number; maxRetries: number;
  totalSteps: number; completedSteps: number; failedSteps: number; cancelledSteps: number; runningSteps: number; progressPercentage: number; createdBy: string | null; createdAt: string; startedAt: string | null; completedAt: string | null;
};
const JOB = "id name kind description status tags meta concurrency maxRetries totalSteps completedSteps failedSteps cancelledSteps runningSteps progressPercentage createdBy createdAt startedAt completedAt";
type Step = { id: string; number: number; name: string; status: string; attempts: number; result: unknown; error: string | null; startedAt: string | null; completedAt: string | null };

/** A step's time: to its end, or so far. */
const tookOf = (step: Step) => (step.startedAt ? ((step.completedAt ? Date.parse(step.completedAt) : Date.now()) - Date.parse(step.startedAt)) / 1000 : null);
type Details = {
  job: {
    steps: { totalCount: number; pageInfo: { hasNextPage: boolean; endCursor: string | null }; edges: { node: Step }[] };
    comments: { id: string; author: string; body: string; createdAt: string }[];
  } | null;
};

export function JobView(props: { id: string }) {
  const { canAct, viewer } = useSession();
  const { data, error } = useLive<{ jobUpdated: Job }>(`subscription($id: ID!) { jobUpdated(id: $id) { ${JOB} } }`, { id: props.id });
  const [status, setStatus] = useState("");
  const [pages, setPages] = useState(1);
  const [comment, setComment] = useState("");
  const job = data?.jobUpdated;
  const details = useQuery<Details>(
    `query($id: ID!, $status: [Status!], $first: Int) { job(id: $id) {
      steps(status: $status, first: $first) { totalCount pageInfo { hasNextPage endCursor } edges { node { id number name status attempts result error startedAt completedAt } } }
      comments(first: 500) { id author body createdAt } } }`,
    { id: props.id, status: status ? [status] : null, first: Math.min(500, pages * 50), version: job ? `${job.completedSteps}/${job.failedSteps}/${job.cancelledSteps}/${job.runningSteps}/${job.status}` : "" },
  );
  const { busy, run } = useAction();
  if (error) return <p class="error">{error.message}</p>;
  if (!job) return <p class="loading">Loading…</p>;
  const mutation = (name: string) => `mutation($id: ID!) { ${name}(id: $id) { id status } }`;
  const stepSeconds = details.data?.job?.steps.edges.filter(({ node }) => node.completedAt).map(({ node }) => tookOf(node)).filter((value): value is number => value !== null) ?? [];
  return (
    <div class="detail">
      <Panel
        title={<>Job #{job.id} {job.name} <StatusBadge status={job.status} /></>}
        actions={
          <>
            {["PENDING", "RUNNING"].includes(job.status) ? <ActionButton label="Cancel job" danger confirm="Cancel this job and its running steps?" query={mutation("cancelJob")} variables={{ id: job.id }} /> : null}
            {["COMPLETED", "FAILED", "CANCELLED"].includes(job.status) && (job.failedSteps > 0 || job.cancelledSteps > 0) ? <ActionButton label="Retry failed steps" query={mutation("retryJob")} variables={{ id: job.id }} /> : null}
          </>
        }
      >
        <Bar value={job.progressPercentage / 100} label={`${number(job.progressPercentage, 1)}% (${number(job.completedSteps + job.failedSteps)} of ${number(job.totalSteps)} steps ended)`} />
        {job.description ? <p>{job.description}</p> : null}
        <Counts
          items={[
            ["kind", job.kind], ["steps", job.totalSteps], ["completed", job.completedSteps], ["failed", job.failedSteps], ["cancelled", job.cancelledSteps], ["running", job.runningSteps],
            ["concurrency", job.concurrency], ["created by", job.createdBy], ["started", when(job.startedAt)], ["ended", when(job.completedAt)],
            ["avg step (shown)", stepSeconds.length ? seconds(stepSeconds.reduce((sum, value) => sum + value, 0) / stepSeconds.length) : "—"],
          ]}
        />
        {job.tags.length ? <p>{job.tags.map((tag) => <span class="tag" key={tag}>{tag}</span>)}</p> : null}
        {job.meta ? <pre class="meta">{JSON.stringify(job.meta, null, 2)}</pre> : null}
      </Panel>
      <Panel
        title={`Steps (${details.data?.job?.steps.totalCount ?? "…"})`}
        actions={
          <select aria-label="step status" value={status} onChange={(event) => (setStatus(event.currentTarget.value), setPages(1))}>
            <option value="">every step</option>
            {["PENDING", "RUNNING", "WAITING", "COMPLETED", "FAILED", "CANCELLED"].map((value) => <option key={value} value={value}>{value}</option>)}
          </select>
        }
      >
        <table class="steps">
          <thead><tr><th>#</th><th>step</th><th>status</th><th>attempts</th><th>took</th><th>result or error</th></tr></thead>
          <tbody>
            {details.data?.job?.steps.edges.map(({ node }) => (
              <tr key={node.id} data-step={node.number}>
                <td>{node.number}</td><td>{node.name}</td><td><StatusBadge status={node.status} /></td><td>{node.attempts}</td><td>{seconds(tookOf(node))}</td>
                <td class="message">{node.error ?? (node.result === null ? "" : JSON.stringify(node.result))}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {details.data?.job?.steps.pageInfo.hasNextPage && pages < 10 ? <button onClick={() => setPages(pages + 1)}>More steps</button> : null}
      </Panel>
      <Panel title={`Comments (${details.data?.job?.comments.length ?? 0})`}>
        <ul class="comments">
          {details.data?.job?.comments.map((entry) => (
            <li key={entry.id} data-comment={entry.id}>
              <strong>{entry.author}</strong> <time>{when(entry.createdAt)}</time>
              <p>{entry.body}</p>
              {canAct && entry.author === viewer ? <ActionButton label="Delete" danger query={`mutation($id: ID!) { deleteComment(id: $id) { id } }`} variables={{ id: entry.id }} done={() => details.reload()} /> : null}
            </li>
          ))}
        </ul>
        {canAct ? (
          <form
            class="comment-form"
            onSubmit={(event) => {
              event.preventDefault();
              if (!comment.trim()) return;
              void run("comment", `mutation($jobId: ID!, $body: String!) { addComment(jobId: $jobId, body: $body) { id } }`, { jobId: job.id, body: comment }, () => {
                setComment("");
                details.reload();
              });
            }}
          >
            <textarea name="comment" placeholder="Add a comment" value={comment} onInput={(event) => setComment(event.currentTarget.value)} maxLength={10000} />
            <button type="submit" disabled={busy}>Add comment</button>
          </form>
        ) : null}
      </Panel>
      <EventLog kind="JOB" id={job.id} />
    </div>
  );
}
