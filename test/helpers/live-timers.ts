// Timers alive in this process (setTimeout/setInterval, ref'd or not: getActiveResourcesInfo lists only ref'd
// ones), counted through async_hooks from the moment track() is called. For tests of what idle code leaves
// scheduled.
import { createHook } from 'node:async_hooks';

export interface TimerTracker {
  /** Timers created since track() that have neither fired (one-shot) nor been cleared. */
  live(): number;
  stop(): void;
}

export function trackTimers(): TimerTracker {
  const alive = new Set<number>();
  const hook = createHook({
    init(id, type) {
      if (type === 'Timeout') alive.add(id);
    },
    destroy(id) {
      alive.delete(id);
    },
  }).enable();
  return { live: () => alive.size, stop: () => hook.disable() };
}
