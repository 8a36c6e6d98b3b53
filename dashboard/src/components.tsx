import type { ComponentChildren } from "preact";
import { useSession } from "./context.js";
import { useAction } from "./hooks.js";

export function StatusBadge(props: { status: string }) {
  return <span class={`status status-${props.status.toLowerCase()}`}>{props.status}</span>;
}

/** A bar from 0 to 1; an unknown total shows as an empty bar with its label. */
export function Bar(props: { value: number | null; label?: string }) {
  const percent = props.value === null ? 0 : Math.round(Math.min(1, Math.max(0, props.value)) * 1000) / 10;
  return (
    <div class="bar" role="progressbar" aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100} title={props.label}>
      <div class="bar-fill" style={{ width: `${percent}%` }} />
      <span class="bar-label">{props.label ?? (props.value === null ? "—" : `${percent}%`)}</span>
    </div>
  );
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 60) return `${value.toFixed(value < 10 ? 1 : 0)} s`;
  if (value < 3600) return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
  return `${Math.floor(value / 3600)} h ${Math.round((value % 3600) / 60)} min`;
}

export function until(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  return seconds(Math.max(0, (Date.parse(iso) - now) / 1000));
}

export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

export function number(value: number | null | undefined, digits = 0): string {
  return value === null || value === undefined ? "—" : value.toLocaleString(undefined, { maximumFractionDigits: digits });
}

export function Panel(props: { title: ComponentChildren; children: ComponentChildren; actions?: ComponentChildren; id?: string }) {
  return (
    <section class="panel" id={props.id}>
      <header>
        <h2>{props.title}</h2>
        {props.actions ? <div class="actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

/** A button that runs a mutation; shown only to tokens that may act (OPERATOR, ADMIN). */
export function ActionButton(props: { label: string; query: string; variables?: Record<string, unknown>; done?: (answer: unknown) => void; danger?: boolean; confirm?: string }) {
  const { canAct } = useSession();
  const { busy, run } = useAction();
  if (!canAct) return null;
  return (
    <button
      class={props.danger ? "danger" : undefined}
      disabled={busy}
      onClick={() => {
        if (props.confirm && !confirm(props.confirm)) return;
        void run(props.label, props.query, props.variables, props.done);
      }}
    >
      {props.label}
    </button>
  );
}

export function Counts(props: { items: [string, number | string | null | undefined][] }) {
  return (
    <dl class="counts">
      {props.items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{typeof value === "number" ? number(value) : (value ?? "—")}</dd>
        </div>
      ))}
    </dl>
  );
}
