import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { Bar, number, Panel, StatusBadge, until, when } from "../components.js";
import { useSession } from "../context.js";
import { useEvents, useLive, useQuery, useTick, type LiveEvent } from "../hooks.js";
import { Link, navigate } from "../router.js";

type ImportRow = { id: string; name: string; source: string; status: string; progress: number | null; pagesDone: number; totalPages: number | null; itemsProcessed: number; itemsPerSecond: number | null; pagesPerHour: number | null; estimatedCompletionAt: string | null; resumeAt: string | null };
type QueueRow = { queue: string; pending: number; running: number; waiting: number; completed: number; failed: number; cancelled: number; total: number; paused: boolean };
type JobRow = { id: string; name: string; kind: string; status: string; progressPercentage: number; totalSteps: number; completedSteps: number; failedSteps: number; runningSteps: number; tags: string[] };
type CollectorRow = { name: string; schedule: string | null; nextRunAt: string | null; lastSuccessAt: string | null; lastRun: { id: string; status: string; recordsProcessed: number; durationSeconds: number | null } | null; stats: { successes: number; failures: number; recordsPerSecond: number | null } };
type Overview = {
  imports: { totalCount: number; edges: { node: ImportRow }[] };
  importSummary: { byStatus: { status: string; count: number }[] };
  processors: { name: string }[];
  jobs: { totalCount: number; edges: { node: JobRow }[] };
  jobStats: { pending: number; running: number; completed: number; failed: number; cancelled: number };
  collectors: CollectorRow[];
};

const OVERVIEW = `query Overview {
  imports(first: 8) { totalCount edges { node { id name source status progress pagesDone totalPages itemsProcessed itemsPerSecond pagesPerHour estimatedCompletionAt resumeAt } } }
  importSummary { byStatus { status count } }
  jobStats { pending running completed failed cancelled }
  processors { name }
  jobs(first: 8) { totalCount edges { node { id name kind status progressPercentage totalSteps completedSteps failedSteps runningSteps tags } } }
  collectors { name schedule nextRunAt lastSuccessAt lastRun { id status recordsProcessed durationSeconds } stats { successes failures recordsPerSecond } }
}`;

const QUEUE_FIELDS = "queue pending running waiting completed failed cancelled total paused";
const ended = (row: QueueRow) => row.completed + row.failed + row.cancelled;

/** One queue, live (its status is coalesced to 4 a second by the service, however busy the queue), with its rate. */
function QueueLine(props: { name: string; troubled(queue: string, count: number): void }) {
  const { data } = useLive<{ queueStatusUpdated: QueueRow }>(`subscription($queue: String) { queueStatusUpdated(queue: $queue) { ${QUEUE_FIELDS} } }`, { queue: props.name });
  const troubles = data ? data.queueStatusUpdated.failed + data.queueStatusUpdated.waiting : 0;
  useEffect(() => props.troubled(props.name, troubles), [troubles]);
  // Items ended per second, over the last few seconds.
  const samples = useRef<{ at: number; ended: number }[]>([]);
  const row = data?.queueStatusUpdated;
  if (!row) return null;
  const now = Date.now();
  samples.current = [...samples.current.filter((sample) => now - sample.at < 10_000), { at: now, ended: ended(row) }];
  const first = samples.current[0];
  const rate = now - first.at >= 1000 ? (ended(row) - first.ended) / ((now - first.at) / 1000) : null;
  return (
    <tr data-queue={row.queue}>
      <td><Link to={`/queues/${row.queue}`}>{row.queue}</Link></td>
      <td>{row.paused ? <StatusBadge status="PAUSED" /> : "running"}</td>
      <td>{number(row.pending)}</td><td>{number(row.running)}</td><td>{number(row.waiting)}</td><td>{number(row.completed)}</td><td>{number(row.failed)}</td><td>{number(row.cancelled)}</td>
      <td class="wide"><Bar value={row.total ? ended(row) / row.total : null} /></td>
      <td>{number(rate, 1)}</td>
    </tr>
  );
}

/** The strip of what went wrong or is waiting, across every kind, newest first. */
type Alert = { id: string; at: string; text: string; href: string | null; level: "error" | "wait" };
const HREF: Record<string, (id: string) => string> = { IMPORT: (id) => `/imports/${id}`, JOB: (id) => `/jobs/${id}` };

function alertOf(event: LiveEvent): Alert | null {
  const subject = `${event.subjectKind.toLowerCase().replace("_", " ")} ${event.subjectId}`;
  const href = HREF[event.subjectKind]?.(event.subjectId) ?? null;
  if (event.kind === "STATUS" && event.to === "FAILED") return { id: event.id, at: event.at, text: `${subject} failed: ${event.reason ?? ""}`, href, level: "error" };
  if (event.kind === "STATUS" && event.to === "WAITING") return { id: event.id, at: event.at, text: `${subject} waits: ${event.reason ?? ""}`, href, level: "wait" };
  if (event.kind === "LOG" && (event.level === "ERROR" || event.level === "WARNING")) return { id: event.id, at: event.at, text: `${subject}: ${event.message ?? ""}`, href, level: event.level === "ERROR" ? "error" : "wait" };
  return null;
}

export function Overview() {
  const { api, notify, canAct } = useSession();
  const overview = useQuery<Overview>(OVERVIEW, {});
  // Queue items that failed or wait, newest first: asked again when a queue's count of them changes (their own
  // events are too many to follow here).
  const [troubles, setTroubles] = useState<Record<string, number>>({});
  const troubled = useCallback((queue: string, count: number) => setTroubles((all) => (all[queue] === count ? all : { ...all, [queue]: count })), []);
  const items = useQuery<{ queueItems: { edges: { node: { id: string; key: string; queue: string; status: string; error: string | null; updatedAt: string } }[] } }>(
    `query { queueItems(status: [FAILED, WAITING], first: 5) { edges { node { id key queue status error updatedAt } } } }`,
    { troubles },
  );
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const now = useTick();

  // Imports, jobs and collector runs say when to read again; queues' thousands of items do not come here.
  useEvents(
    ["STATUS", "PROGRESS", "LOG"],
    (event) => {
      overview.refresh();
      const alert = alertOf(event);
      if (alert) setAlerts((list) => [alert, ...list].slice(0, 12));
    },
    undefined,
    ["IMPORT", "JOB", "COLLECTOR_RUN"],
  );

  const startDemo = async () => {
    try {
      const { startImport } = await api.request<{ startImport: { id: string } }>(`mutation { startImport(input: { source: "demo-movies", config: {}, resumeExisting: false }) { id } }`);
      navigate(`/imports/${startImport.id}`);
    } catch (failure) {
      notify(`start a demo import: ${(failure as Error).message}`, true);
    }
  };

  if (overview.error) return <p class="error">{overview.error.message}</p>;
  if (!overview.data) return <p class="loading">Loading…</p>;
  const { imports, jobs, collectors, importSummary, jobStats } = overview.data;
  const importCounts = importSummary.byStatus.filter((entry) => entry.count > 0).map((entry) => `${entry.count} ${entry.status.toLowerCase()}`).join(", ");
  const jobCounts = (["pending", "running", "completed", "failed", "cancelled"] as const).filter((status) => jobStats[status] > 0).map((status) => `${jobStats[status]} ${status}`).join(", ");
  return (
    <div class="overview">
      <section class="alerts" aria-label="Errors and waits">
        {alerts.length === 0 && !items.data?.queueItems.edges.length ? <span class="quiet">No errors or rate-limit waits since this page opened.</span> : null}
        {items.data?.queueItems.edges.map(({ node }) => (
          <div key={`item-${node.id}`} class={`alert alert-${node.status === "FAILED" ? "error" : "wait"}`}>
            <time>{new Date(node.updatedAt).toLocaleTimeString()}</time> <Link to={`/queues/${node.queue}`}>{node.queue} item {node.key}</Link> {node.status === "FAILED" ? "failed" : "waits"}: {node.error ?? ""}
          </div>
        ))}
        {alerts.map((alert) => (
          <div key={alert.id} class={`alert alert-${alert.level}`}>
            <time>{new Date(alert.at).toLocaleTimeString()}</time> {alert.href ? <Link to={alert.href}>{alert.text}</Link> : alert.text}
          </div>
        ))}
      </section>

      <Panel title={<>Imports ({imports.totalCount}) <small class="quiet">{importCounts}</small></>} actions={canAct ? <button onClick={() => void startDemo()}>Start a demo import</button> : null}>
        <table>
          <thead>
            <tr><th>import</th><th>status</th><th>progress</th><th>pages</th><th>items/s</th><th>pages/h</th><th>ETA</th></tr>
          </thead>
          <tbody>
            {imports.edges.map(({ node }) => (
              <tr key={node.id} data-import={node.id}>
                <td><Link to={`/imports/${node.id}`}>#{node.id} {node.name}</Link></td>
                <td><StatusBadge status={node.status} />{node.status === "WAITING" ? <small> resumes in {until(node.resumeAt, now)}</small> : null}</td>
                <td class="wide"><Bar value={node.progress} /></td>
                <td>{number(node.pagesDone)}/{node.totalPages === null ? "?" : number(node.totalPages)}</td>
                <td>{number(node.itemsPerSecond, 1)}</td>
                <td>{number(node.pagesPerHour)}</td>
                <td>{node.status === "RUNNING" ? until(node.estimatedCompletionAt, now) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>

      <Panel title="Queues">
        <table>
          <thead>
            <tr><th>queue</th><th>state</th><th>pending</th><th>running</th><th>waiting</th><th>completed</th><th>failed</th><th>cancelled</th><th>done</th><th>items/s</th></tr>
          </thead>
          <tbody>
            {overview.data.processors.map((processor) => <QueueLine key={processor.name} name={processor.name} troubled={troubled} />)}
          </tbody>
        </table>
      </Panel>

      <Panel title={<>Jobs ({jobs.totalCount}) <small class="quiet">{jobCounts}</small></>}>
        <table>
          <thead>
            <tr><th>job</th><th>kind</th><th>status</th><th>progress</th><th>steps</th><th>tags</th></tr>
          </thead>
          <tbody>
            {jobs.edges.map(({ node }) => (
              <tr key={node.id} data-job={node.id}>
                <td><Link to={`/jobs/${node.id}`}>#{node.id} {node.name}</Link></td>
                <td>{node.kind}</td>
                <td><StatusBadge status={node.status} /></td>
                <td class="wide"><Bar value={node.progressPercentage / 100} /></td>
                <td>{number(node.completedSteps)} done, {number(node.failedSteps)} failed, {number(node.runningSteps)} running of {number(node.totalSteps)}</td>
                <td>{node.tags.map((tag) => <span class="tag" key={tag}>{tag}</span>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>

      <Panel title="Collectors">
        <table>
          <thead>
            <tr><th>collector</th><th>last run</th><th>records</th><th>took</th><th>successes / failures</th><th>records/s</th><th>schedule</th><th>next</th></tr>
          </thead>
          <tbody>
            {collectors.map((collector) => (
              <tr key={collector.name} data-collector={collector.name}>
                <td><Link to={`/collectors/${collector.name}`}>{collector.name}</Link></td>
                <td>{collector.lastRun ? <StatusBadge status={collector.lastRun.status} /> : "never"}</td>
                <td>{number(collector.lastRun?.recordsProcessed)}</td>
                <td>{collector.lastRun?.durationSeconds == null ? "—" : `${collector.lastRun.durationSeconds.toFixed(1)} s`}</td>
                <td>{collector.stats.successes} / {collector.stats.failures}</td>
                <td>{number(collector.stats.recordsPerSecond)}</td>
                <td>{collector.schedule ?? "—"}</td>
                <td>{when(collector.nextRunAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
    </div>
  );
}

