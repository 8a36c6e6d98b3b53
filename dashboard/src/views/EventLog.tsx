import { useEffect, useRef, useState } from "preact/hooks";
import { Panel } from "../components.js";
import { useSession } from "../context.js";
import { EVENT_FIELDS, type LiveEvent } from "../hooks.js";

/** Lines a log keeps: the newest. */
const KEPT = 300;

function line(event: LiveEvent): string {
  if (event.kind === "STATUS") return `${event.from ?? "—"} → ${event.to}${event.reason ? ` (${event.reason})` : ""}`;
  if (event.kind === "LOG") return `[${event.level}] ${event.message}`;
  return event.kind.toLowerCase();
}

/** A subject's stored events from its first (LOG, STATUS), then live: the subscription replays them with `after: "0"`. */
export function EventLog(props: { kind: string; id: string }) {
  const { api } = useSession();
  const [events, setEvents] = useState<LiveEvent[]>([]);
  const box = useRef<HTMLOListElement>(null);
  useEffect(() => {
    setEvents([]);
    let last = 0n;
    return api.subscribe<{ events: LiveEvent }>(
      `subscription($subject: SubjectInput!) { events(subject: $subject, kinds: [LOG, STATUS], after: "0") { ${EVENT_FIELDS} } }`,
      { subject: { kind: props.kind, id: props.id } },
      ({ events: event }) => {
        // A reconnect replays from the start: what was shown already is not shown twice.
        if (BigInt(event.id) <= last) return;
        last = BigInt(event.id);
        setEvents((list) => [...list, event].slice(-KEPT));
      },
    );
  }, [props.kind, props.id]);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [events.length]);
  return (
    <Panel title="Event log">
      <ol class="log" ref={box}>
        {events.map((event) => (
          <li key={event.id} class={`log-${(event.level ?? event.kind).toLowerCase()}`}>
            <time>{new Date(event.at).toLocaleTimeString()}</time> {line(event)}
          </li>
        ))}
      </ol>
    </Panel>
  );
}
