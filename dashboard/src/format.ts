// How figures are written, in charts' tables and everywhere else (the browser tests read
// them back and compare them with the API's numbers at this precision).
export const dash = "—";

export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? dash : `${(value * 100).toFixed(1)}%`;
}

export function milliseconds(value: number | null | undefined): string {
  return value === null || value === undefined ? dash : `${value.toFixed(0)} ms`;
}

export function dollars(value: number | null | undefined): string {
  return value === null || value === undefined ? dash : `$${value.toFixed(5)}`;
}

export function pValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return dash;
  return value < 0.0001 ? "< 0.0001" : value.toFixed(4);
}

export function interval(value: { low: number; high: number } | null | undefined): string {
  return value ? `${percent(value.low)} – ${percent(value.high)}` : dash;
}

export function when(value: string | null | undefined): string {
  return value ? value.replace("T", " ").replace(/(\.\d+)?(Z|\+00:00)$/, " UTC") : dash;
}
