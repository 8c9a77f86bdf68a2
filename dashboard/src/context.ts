import type { Api, Viewer } from "./api";

/** What every page is given: the signed-in key's client and who it is. */
export interface PageContext {
  api: Api;
  viewer: Viewer;
  /** Query parameters of the current route. */
  query: URLSearchParams;
  /** Says something to the user (and to screen readers) without moving focus. */
  announce(message: string): void;
  /** Renders the current route again, after a change. */
  refresh(): void;
}
