import { h, href } from "../dom";

export interface Pagination {
  total: number;
  offset: number;
  limit: number;
}

/** "1–20 of 45" with previous/next links that keep the other query parameters. */
export function pager(path: string, query: URLSearchParams, page: Pagination): HTMLElement {
  const link = (offset: number, text: string, rel: string): HTMLElement => {
    const parameters = Object.fromEntries(query.entries());
    return h("a", { href: href(path, { ...parameters, offset: offset || undefined }), rel }, text);
  };
  const last = Math.min(page.offset + page.limit, page.total);
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    page.offset > 0 ? link(Math.max(0, page.offset - page.limit), "← Previous", "prev") : null,
    h("span", {}, page.total ? `${page.offset + 1}–${last} of ${page.total}` : "none"),
    last < page.total ? link(page.offset + page.limit, "Next →", "next") : null,
  );
}
