// Each version's metrics over time, in UTC buckets of an hour or a day (metricsSeries).
// The window ends at the end of the current bucket, so it is aligned like the buckets.
import { chartFigure, figureTable, PALETTE, type Column } from "./charts";
import type { PageContext } from "../context";
import { h, href } from "../dom";
import { dollars, milliseconds, percent } from "../format";

const SERIES = `
query Series($name: String!, $since: DateTime!, $until: DateTime!, $bucket: Bucket!,
             $offset: Int!, $limit: Int!) {
  prompt(name: $name) {
    versions(includeArchived: true, offset: $offset, limit: $limit) {
      items {
        version
        metricsSeries(since: $since, until: $until, bucket: $bucket) {
          start totalTraces successRate avgCostUsd avgLatencyMs p95LatencyMs
        }
      }
    }
  }
}`;

interface Bucket {
  start: string;
  totalTraces: number;
  successRate: number | null;
  avgCostUsd: number | null;
  avgLatencyMs: number | null;
  p95LatencyMs: number | null;
}

type MetricName = "successRate" | "totalTraces" | "p95LatencyMs" | "avgLatencyMs" | "avgCostUsd";
const METRICS: Record<MetricName, { title: string; format(value: number | null): string; scale(value: number | null): number | null }> = {
  successRate: { title: "Success rate", format: percent, scale: (value) => (value === null ? null : value * 100) },
  totalTraces: { title: "Traces", format: (value) => String(value ?? 0), scale: (value) => value },
  p95LatencyMs: { title: "p95 latency", format: milliseconds, scale: (value) => value },
  avgLatencyMs: { title: "Avg latency", format: milliseconds, scale: (value) => value },
  avgCostUsd: { title: "Avg cost", format: dollars, scale: (value) => value },
};
const BUCKETS = { HOUR: 3600_000, DAY: 86400_000 } as const;
type BucketName = keyof typeof BUCKETS;
const SPANS = [1, 2, 7, 14, 30];
// The server costs a series query at versions x buckets x fields (its 50,000-node budget):
// ask for as many versions at a time as keep one request well inside it.
const SERIES_BUDGET = 40_000;
const SERIES_FIELDS = 7;

function choice<T extends string>(value: string | null, allowed: readonly T[], fallback: T): T {
  return allowed.includes(value as T) ? (value as T) : fallback;
}

export function alignedWindow(bucket: BucketName, days: number, now = Date.now()): { since: string; until: string } {
  const size = BUCKETS[bucket];
  const until = Math.floor(now / size) * size + size;
  return { since: new Date(until - days * 86400_000).toISOString().replace(".000Z", "Z"), until: new Date(until).toISOString().replace(".000Z", "Z") };
}

export async function seriesSection(context: PageContext, name: string, versions: number[]): Promise<HTMLElement> {
  const bucket = choice(context.query.get("bucket"), ["HOUR", "DAY"] as const, "DAY");
  const days = SPANS.includes(Number(context.query.get("days"))) ? Number(context.query.get("days")) : 14;
  const metric = choice(context.query.get("metric"), Object.keys(METRICS) as MetricName[], "successRate");
  const range = alignedWindow(bucket, days);
  const buckets = Math.round((Date.parse(range.until) - Date.parse(range.since)) / BUCKETS[bucket]);
  const perRequest = Math.max(1, Math.min(100, Math.floor(SERIES_BUDGET / (buckets * SERIES_FIELDS))));
  const fetched: { version: number; metricsSeries: Bucket[] }[] = [];
  // Pages of versions (archived ones included) until every version shown has its series.
  for (let offset = 0; ; offset += perRequest) {
    type Answer = { prompt: { versions: { items: { version: number; metricsSeries: Bucket[] }[] } } | null };
    const data = await context.api.request<Answer>(SERIES, { name, ...range, bucket, offset, limit: perRequest });
    const items = data.prompt?.versions.items ?? [];
    fetched.push(...items);
    const found = new Set(fetched.map((item) => item.version));
    if (items.length < perRequest || versions.every((version) => found.has(version))) break;
  }
  const series = fetched.filter((item) => versions.includes(item.version));
  const starts = series[0]?.metricsSeries.map((point) => point.start) ?? [];
  const spec = METRICS[metric];

  const navigate = (change: Record<string, string>) => {
    window.location.hash = href(`/compare/${encodeURIComponent(name)}`, { ...Object.fromEntries(context.query.entries()), ...change });
  };
  const select = (id: string, label: string, options: [string, string][], selected: string, key: string) => {
    const element = h("select", { id }, options.map(([value, text]) => h("option", { value, selected: value === selected }, text)));
    element.addEventListener("change", () => navigate({ [key]: element.value }));
    return h("div", {}, h("label", { for: id }, label), element);
  };

  type Row = { start: string; values: (number | null)[] };
  const rows: Row[] = starts.map((start, index) => ({ start, values: series.map((item) => item.metricsSeries[index]?.[metric] ?? null) }));
  const label = (start: string) => (bucket === "DAY" ? start.slice(0, 10) : start.slice(0, 16).replace("T", " "));
  const columns: Column<Row>[] = [
    { title: bucket === "DAY" ? "Day (UTC)" : "Hour (UTC)", cell: (row) => label(row.start) },
    ...series.map((item, index) => ({ title: `v${item.version}`, cell: (row: Row) => spec.format(row.values[index]) })),
  ];
  const caption = h(
    "span",
    {},
    `${spec.title} per ${bucket === "DAY" ? "day" : "hour"} and version, from `,
    h("time", { datetime: range.since, class: "since" }, range.since),
    " to ",
    h("time", { datetime: range.until, class: "until" }, range.until),
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "series-title" },
    h("h2", { id: "series-title" }, "Over time"),
    h(
      "div",
      { class: "filters" },
      select("series-metric", "Metric", Object.entries(METRICS).map(([value, item]) => [value, item.title]), metric, "metric"),
      select("series-bucket", "Bucket", [["HOUR", "Hour"], ["DAY", "Day"]], bucket, "bucket"),
      select("series-days", "Last", SPANS.map((span) => [String(span), `${span} day${span > 1 ? "s" : ""}`]), String(days), "days"),
    ),
    chartFigure(
      `${spec.title} over time`,
      {
        type: "line",
        data: {
          labels: starts.map(label),
          datasets: series.map((item, index) => ({
            label: `v${item.version}`,
            data: rows.map((row) => spec.scale(row.values[index])),
            borderColor: PALETTE[index % PALETTE.length],
            backgroundColor: PALETTE[index % PALETTE.length],
            spanGaps: false,
            pointRadius: 2,
          })),
        },
        options: { scales: { y: { beginAtZero: metric !== "successRate" } } },
      },
      figureTable(caption, columns, rows, (row) => row.start),
      "chart-series",
    ),
  );
}
