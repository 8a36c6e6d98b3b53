import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { enqueue, enqueueInput } from "../work/queue/enqueue.js";
import { MAX_ENQUEUE } from "../work/queue/kind.js";
import { InputError } from "../engine/errors.js";
import { CommandError, intOption, UsageError, type Parsed } from "./usage.js";

export const ENQUEUE_USAGE = `milepost enqueue QUEUE FILE.jsonl [--priority N] [--max-attempts N]
                              one item per line: {"key": …, "payload": {…}, "label"?, "tags"?, "meta"?};
                              sent in batches of 1,000; exits 1 if a line was bad or refused`;

const BATCH = Math.min(1000, MAX_ENQUEUE);
/** One line's item, checked as enqueue checks each item, so one bad line does not refuse its batch. */
const itemSchema = enqueueInput.shape.items.element;
/** Problems shown one by one; the rest are counted. */
const SHOWN = 20;

/** `enqueue QUEUE FILE`: a JSON Lines file into a queue, through the same checks as the API's enqueue. */
export async function enqueueCommand(parsed: Parsed, out: (line: string) => void): Promise<void> {
  const [queue, file, ...rest] = parsed.positional;
  if (!queue || !file || rest.length) throw new UsageError("enqueue needs a queue and a file: milepost enqueue QUEUE FILE.jsonl");
  const priority = intOption(parsed, "priority", -1_000_000, 1_000_000);
  const maxAttempts = intOption(parsed, "max-attempts", 1, 100);
  const problems: string[] = [];
  const counts = { added: 0, queued: 0 };
  let batch: { line: number; item: unknown }[] = [];

  const send = async () => {
    if (!batch.length) return;
    const lines = new Map(batch.map(({ line, item }) => [(item as { key?: unknown }).key, line]));
    try {
      const result = await enqueue({ queue, items: batch.map(({ item }) => item), priority, maxAttempts });
      counts.added += result.added.length;
      for (const skipped of result.skipped) {
        if (skipped.reason === "ALREADY_QUEUED") counts.queued++;
        else problems.push(`line ${lines.get(skipped.key)}: ${skipped.message}`);
      }
    } catch (error) {
      // Every line was checked: what refuses a batch now is the queue, or an option.
      if (error instanceof InputError) throw new CommandError(error.message);
      throw error;
    }
    batch = [];
  };

  let stream;
  try {
    stream = createReadStream(file, { encoding: "utf8" });
    await new Promise((resolve, reject) => stream!.once("open", resolve).once("error", reject));
  } catch (error) {
    throw new CommandError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let number = 0;
  for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
    number++;
    if (!text.trim()) continue;
    let item: unknown;
    try {
      item = JSON.parse(text);
    } catch (error) {
      problems.push(`line ${number}: not JSON (${(error as Error).message})`);
      continue;
    }
    const checked = itemSchema.safeParse(item);
    if (!checked.success) {
      problems.push(`line ${number}: ${checked.error.issues.map((issue) => `${issue.path.join(".") || "item"}: ${issue.message}`).join("; ")}`);
      continue;
    }
    batch.push({ line: number, item });
    if (batch.length === BATCH) await send();
  }
  await send();
  out(`${queue}: ${counts.added} added, ${counts.queued} already queued, ${problems.length} refused (of ${number} lines)`);
  const lineOf = (problem: string) => Number(/\d+/.exec(problem)?.[0] ?? 0);
  problems.sort((a, b) => lineOf(a) - lineOf(b));
  for (const problem of problems.slice(0, SHOWN)) out(`  ${problem}`);
  if (problems.length > SHOWN) out(`  … and ${problems.length - SHOWN} more`);
  if (problems.length) throw new CommandError(`${problems.length} lines were not enqueued`);
}
