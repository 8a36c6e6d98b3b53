/** The wake-up of a worker's loop, between its looks for work. */

/**
 * Resolves `wait` early when `wake` is called. A wake that comes while
 * nobody waits (the loop is claiming) is kept for the next wait: that claim
 * may have read the database just before what the wake announces.
 */
export function createWaker() {
  let wake: (() => void) | undefined;
  let woken = false;
  return {
    wait(ms: number) {
      if (woken) {
        woken = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        }
        wake = done;
      });
    },
    wake: () => {
      if (wake) wake();
      else woken = true;
    },
  };
}
