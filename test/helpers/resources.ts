/**
 * Everything a test opens (servers, sockets, clients, child processes)
 * registers here; a test file that ends with any still open fails
 * (test/helpers/leak-check.ts), after what can be disposed of has been, so a
 * failing test does not leave processes running either.
 */
const open = new Map<object, { description: string; dispose?: () => void }>();

export function track<T extends object>(resource: T, description: string, dispose?: () => void): T {
  open.set(resource, { description, dispose });
  return resource;
}

export function release(resource: object): void {
  open.delete(resource);
}

export function stillOpen(): string[] {
  return [...open.values()].map((entry) => entry.description);
}

/** Disposes of what is still open (kills child processes), so nothing outlives the test file. */
export function disposeAll(): void {
  for (const entry of open.values()) entry.dispose?.();
}
