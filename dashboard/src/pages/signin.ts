import { errorBox } from "../components/errors";
import { h } from "../dom";

/** The key form. The key is checked against the API (query `viewer`) before it is kept. */
export function signInPage(signIn: (key: string) => Promise<void>, notice?: string): HTMLElement {
  const input = h("input", { id: "key", name: "key", type: "password", autocomplete: "off", required: true, spellcheck: "false" });
  const problem = h("div", { class: "problem" }, notice ? errorBox(new Error(notice)) : null);
  const button = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title", tabindex: -1 }, "promptgraph"),
    h("p", {}, "Sign in with an API key (", h("code", {}, "promptgraph keys create"), " prints one). It is kept in this tab's session storage only."),
    h("label", { for: "key" }, "API key"),
    input,
    button,
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    problem.replaceChildren();
    try {
      await signIn(input.value.trim());
    } catch (error) {
      problem.replaceChildren(errorBox(error));
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  queueMicrotask(() => input.focus());
  return h("main", { id: "main" }, form);
}
