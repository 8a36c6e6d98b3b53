import { ActionButton, Bar, Counts, number, Panel, seconds, StatusBadge, until, when } from "../components.js";
import { useSession } from "../context.js";
import { useLive, useQuery, useTick } from "../hooks.js";
import { EventLog } from "./EventLog.js";

type Level = { level: string; index: number; total: number | null; key: string | null; label: string | null };
type ImportState = {
  id: string; name: string; source: string; dataset: string; status: string; progress: number | null; pagesDone: number; totalPages: number | null; itemsTotal: number | null;
  itemsProcessed: number; itemsNew: number; itemsUpdated: number; itemsUnchanged: number; errorCount: number; lastError: string | null;
  itemsPerSecond: number | null; pagesPerHour: number | null; estimatedCompletionAt: string | null; resumeAt: string | null; resumeCount: number;
  checkpoint: { path: Level[]; at: string } | null; levels: { level: string; discovered: number; done: number }[];
};
const FIELDS = `id name source dataset status progress pagesDone totalPages itemsTotal itemsProcessed itemsNew itemsUpdated itemsUnchanged errorCount lastError
  itemsPerSecond pagesPerHour estimatedCompletionAt resumeAt resumeCount checkpoint { path { level index total key label } at } levels { level discovered done }`;
type ImportErrors = { import: { errors: { totalCount: number; edges: { node: { page: number | null; path: string[] | null; httpStatus: number | null; message: string; attempts: number; at: string } }[] } } | null };

export function ImportView(props: { id: string }) {
  const { api, notify } = useSession();
  const { data, error } = useLive<{ importUpdated: ImportState }>(`subscription($id: ID!) { importUpdated(id: $id) { ${FIELDS} } }`, { id: props.id });
  const errors = useQuery<ImportErrors>(`query($id: ID!) { import(id: $id) { errors(first: 20) { totalCount edges { node { page path httpStatus message attempts at } } } } }`, { id: props.id, count: data?.importUpdated.errorCount ?? 0 });
  const now = useTick();
  if (error) return <p class="error">{error.message}</p>;
  if (!data) return <p class="loading">Loading…</p>;
  const row = data.importUpdated;
  const mutation = (name: string) => `mutation($id: ID!) { ${name}(id: $id) { id status } }`;
  const report = async () => {
    try {
      const answer = await api.request<{ import: { report: unknown } }>(`query($id: ID!) { import(id: $id) { report } }`, { id: row.id });
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([JSON.stringify(answer.import.report, null, 2)], { type: "application/json" }));
      link.download = `import-${row.id}-report.json`;
      link.click();
      URL.revokeObjectURL(link.href);
    } catch (failure) {
      notify(`report: ${(failure as Error).message}`, true);
    }
  };
  const running = ["PENDING", "RUNNING", "WAITING"].includes(row.status);
  return (
    <div class="detail">
      <Panel
        title={<>Import #{row.id} {row.name} <StatusBadge status={row.status} /></>}
        actions={
          <>
            {running ? <ActionButton label="Pause" query={mutation("pauseImport")} variables={{ id: row.id }} /> : null}
            {["PAUSED", "FAILED", "WAITING"].includes(row.status) ? <ActionButton label="Resume" query={mutation("resumeImport")} variables={{ id: row.id }} /> : null}
            {row.status === "WAITING" ? <ActionButton label="Retry now" query={mutation("retryImportNow")} variables={{ id: row.id }} /> : null}
            {row.status !== "COMPLETED" && row.status !== "CANCELLED" ? <ActionButton label="Cancel" danger confirm="Cancel this import for good? Its committed records stay." query={mutation("cancelImport")} variables={{ id: row.id }} /> : null}
            <button onClick={() => void report()}>Report (JSON)</button>
          </>
        }
      >
        <Bar value={row.progress} label={`${number(row.pagesDone)} of ${row.totalPages === null ? "?" : number(row.totalPages)} pages`} />
        {row.status === "WAITING" ? <p class="wait">Waiting: resumes by itself in {until(row.resumeAt, now)} ({when(row.resumeAt)}).</p> : null}
        {row.lastError ? <p class="error">Last error: {row.lastError}</p> : null}
        <Counts
          items={[
            ["source", row.source], ["dataset", row.dataset], ["items", row.itemsProcessed], ["new", row.itemsNew], ["updated", row.itemsUpdated], ["unchanged", row.itemsUnchanged],
            ["errors", row.errorCount], ["items/s", number(row.itemsPerSecond, 1)], ["pages/h", number(row.pagesPerHour)],
            ["ETA", row.status === "RUNNING" ? seconds(row.estimatedCompletionAt ? (Date.parse(row.estimatedCompletionAt) - now) / 1000 : null) : "—"], ["resumes", row.resumeCount],
          ]}
        />
      </Panel>
      <Panel title="Checkpoint">
        {row.checkpoint ? (
          <>
            <ol class="path">
              {row.checkpoint.path.map((level) => (
                <li key={`${level.level}-${level.index}`}>
                  {level.level} {number(level.index)}/{level.total === null ? "?" : number(level.total)} {level.label ? `'${level.label}'` : level.key ?? ""}
                </li>
              ))}
            </ol>
            <small>committed {when(row.checkpoint.at)}</small>
          </>
        ) : (
          <span class="quiet">No checkpoint yet.</span>
        )}
        {row.levels.length ? (
          <table>
            <thead><tr><th>level</th><th>found</th><th>done</th><th /></tr></thead>
            <tbody>
              {row.levels.map((level) => (
                <tr key={level.level}><td>{level.level}</td><td>{number(level.discovered)}</td><td>{number(level.done)}</td><td class="wide"><Bar value={level.discovered ? level.done / level.discovered : null} /></td></tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </Panel>
      <Panel title={`Errors (${errors.data?.import?.errors.totalCount ?? 0})`}>
        <table>
          <thead><tr><th>page</th><th>path</th><th>HTTP</th><th>attempts</th><th>message</th></tr></thead>
          <tbody>
            {errors.data?.import?.errors.edges.map(({ node }, index) => (
              <tr key={index}><td>{node.page ?? "—"}</td><td>{(node.path ?? []).join(" › ")}</td><td>{node.httpStatus ?? "—"}</td><td>{node.attempts}</td><td>{node.message}</td></tr>
            ))}
          </tbody>
        </table>
      </Panel>
      <EventLog kind="IMPORT" id={row.id} />
    </div>
  );
}
