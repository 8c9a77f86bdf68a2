import { ApiError } from "../api";
import { h } from "../dom";

/** An error in words (the API's message and code), never a blank page. */
export function errorBox(error: unknown): HTMLElement {
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : "ERROR";
  return h("div", { class: "error", role: "alert" }, h("strong", {}, "Something went wrong: "), message, h("span", { class: "code" }, ` (${code})`));
}
