/**
 * Everything a test opens (servers, sockets, clients, child processes)
 * registers here; a test file that ends with any still open fails
 * (test/helpers/leak-check.ts).
 */
const open = new Map<object, string>();

export function track<T extends object>(resource: T, description: string): T {
  open.set(resource, description);
  return resource;
}

export function release(resource: object): void {
  open.delete(resource);
}

export function stillOpen(): string[] {
  return [...open.values()];
}
