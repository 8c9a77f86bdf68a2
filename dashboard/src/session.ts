// The key lives in session storage: gone when the tab closes, never sent anywhere but /graphql.
const KEY = "promptgraph.key";

export function storedKey(): string | null {
  return window.sessionStorage.getItem(KEY);
}

export function storeKey(key: string): void {
  window.sessionStorage.setItem(KEY, key);
}

export function forgetKey(): void {
  window.sessionStorage.removeItem(KEY);
}
