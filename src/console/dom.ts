/** Builds an element; text children are text nodes (never parsed as HTML). */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string | null)[]): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) if (child !== null) node.append(child);
  return node;
}

/** The element with this id (the page is ours: it exists). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}

/** `3m ago`, `in 9m 58s` style durations. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d`;
}

/** A compact local time with the full ISO instant as a tooltip. */
export function timeEl(iso: string): HTMLElement {
  const date = new Date(iso);
  return el('time', { datetime: iso, title: date.toISOString() }, date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' }));
}
