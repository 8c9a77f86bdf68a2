// The one place the dashboard decides which actions to show: the same rule the API enforces
// (contract section 1), so a key never sees a button the server would answer FORBIDDEN to.
import type { Role, Viewer } from "./api";

const WRITERS: readonly Role[] = ["EDITOR", "ADMIN"];

/** Whether this key may change a prompt: its versions, tags, labels (and, later, rollouts). */
export function mayWritePrompt(viewer: Viewer): boolean {
  return WRITERS.includes(viewer.role);
}
