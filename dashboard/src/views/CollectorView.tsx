import { useState } from "preact/hooks";
import { ActionButton, Counts, number, Panel, seconds, StatusBadge, when } from "../components.js";
import { useSession } from "../context.js";
import { useAction, useEvents, useQuery } from "../hooks.js";

type Run = { id: string; status: string; trigger: string; recordsProcessed: number; recordsInserted: number; recordsUpdated: number; durationSeconds: number | null; window: { years?: number[]; since?: unknown; fullRefresh?: boolean } | null; error: string | null; startedAt: string };
type Collector = {
  collector: {
    name: string; description: string; schedule: string | null; nextRunAt: string | null; lastSuccessAt: string | null;
    stats: { successes: number; failures: number; avgRecordsProcessed: number | null; avgDurationSeconds: number | null; recordsPerSecond: number | null; lastRunAt: string | null };
    runs: { totalCount: number; edges: { node: Run }[] };
  } | null;
};

function windowOf(run: Run): string {
  const parts: string[] = [];
  if (run.window?.fullRefresh) parts.push("full refresh");
  if (run.window?.years?.length) parts.push(`${run.window.years.length} years: ${run.window.years[0]}…${run.window.years.at(-1)}`);
  if (run.window?.since) parts.push(`since ${String(run.window.since)}`);
  return parts.join("; ") || "—";
}

export function CollectorView(props: { name: string }) {
  const { canAct } = useSession();
  const collector = useQuery<Collector>(
    `query($name: String!) { collector(name: $name) { name description schedule nextRunAt lastSuccessAt
      stats { successes failures avgRecordsProcessed avgDurationSeconds recordsPerSecond lastRunAt }
      runs(first: 20) { totalCount edges { node { id status trigger recordsProcessed recordsInserted recordsUpdated durationSeconds window error startedAt } } } } }`,
    { name: props.name },
  );
  // Its runs' events say when to read again (a new run, progress, an end).
  useEvents(["STATUS", "PROGRESS"], () => collector.refresh(), undefined, ["COLLECTOR_RUN"]);
  const [cron, setCron] = useState<string | null>(null);
  const [fullRefresh, setFullRefresh] = useState(false);
  const { busy, run } = useAction();
  if (collector.error) return <p class="error">{collector.error.message}</p>;
  if (!collector.data) return <p class="loading">Loading…</p>;
  const state = collector.data.collector;
  if (!state) return <p class="error">No collector "{props.name}".</p>;
  const schedule = cron ?? state.schedule ?? "";
  const setSchedule = (value: string | null) =>
    void run(value ? "schedule" : "clear schedule", `mutation($name: String!, $cron: String) { scheduleCollector(name: $name, cron: $cron) { schedule } }`, { name: state.name, cron: value }, () => {
      setCron(null);
      collector.reload();
    });
  return (
    <div class="detail">
      <Panel
        title={<>Collector {state.name}</>}
        actions={
          canAct ? (
            <>
              <label class="check"><input type="checkbox" checked={fullRefresh} onChange={(event) => setFullRefresh(event.currentTarget.checked)} /> full refresh</label>
              <ActionButton label="Run now" query={`mutation($input: RunCollectorInput!) { runCollector(input: $input) { id } }`} variables={{ input: { name: state.name, fullRefresh } }} done={() => collector.reload()} />
            </>
          ) : null
        }
      >
        <p>{state.description}</p>
        <Counts
          items={[
            ["successes", state.stats.successes], ["failures", state.stats.failures], ["avg records", number(state.stats.avgRecordsProcessed)], ["avg time", seconds(state.stats.avgDurationSeconds)],
            ["records/s", number(state.stats.recordsPerSecond)], ["last run", when(state.stats.lastRunAt)], ["last success", when(state.lastSuccessAt)],
          ]}
        />
      </Panel>
      <Panel title="Schedule">
        <p>{state.schedule ? <>Cron <code>{state.schedule}</code> (UTC), next at {when(state.nextRunAt)}.</> : "Not scheduled."}</p>
        {canAct ? (
          <form
            class="filters"
            onSubmit={(event) => {
              event.preventDefault();
              setSchedule(schedule.trim() || null);
            }}
          >
            <input name="cron" placeholder="cron, e.g. 0 * * * *" value={schedule} onInput={(event) => setCron(event.currentTarget.value)} />
            <button type="submit" disabled={busy}>Set schedule</button>
            {state.schedule ? <button type="button" disabled={busy} onClick={() => setSchedule(null)}>Clear schedule</button> : null}
          </form>
        ) : null}
      </Panel>
      <Panel title={`Runs (${state.runs.totalCount})`}>
        <table>
          <thead><tr><th>run</th><th>status</th><th>trigger</th><th>processed / new / updated</th><th>took</th><th>window</th><th>error</th></tr></thead>
          <tbody>
            {state.runs.edges.map(({ node }) => (
              <tr key={node.id} data-run={node.id}>
                <td>#{node.id} <small>{when(node.startedAt)}</small></td><td><StatusBadge status={node.status} /></td><td>{node.trigger}</td>
                <td>{number(node.recordsProcessed)} / {number(node.recordsInserted)} / {number(node.recordsUpdated)}</td><td>{seconds(node.durationSeconds)}</td><td>{windowOf(node)}</td><td class="message">{node.error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Panel>
    </div>
  );
}
