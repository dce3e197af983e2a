/**
 * Helpers shared by the renderers: reading a payload from an output item (object or JSON
 * string), base64 decoding in the browser, small DOM builders that only ever set text.
 */
import type { OutputItem } from 'vscode-notebook-renderer';

import type { DisplayPayload } from '../../src/display/payload-types.js';

/**
 * Reads a payload of the expected kind from an output item. Kernels such as tslab store a
 * `+json` output as a JSON string, so both an object and a string are accepted.
 *
 * @throws Error naming the kind found versus expected.
 */
export function readPayload<K extends DisplayPayload['kind']>(
  item: Pick<OutputItem, 'json'>,
  kind: K,
): Extract<DisplayPayload, { kind: K }> {
  let value: unknown = item.json();
  if (typeof value === 'string') value = JSON.parse(value);
  if (typeof value !== 'object' || value === null || !('kind' in value)) {
    throw new Error(`expected a ${kind} payload, found ${typeof value}`);
  }
  const found = (value as { kind: unknown }).kind;
  if (found !== kind) throw new Error(`expected a ${kind} payload, found ${String(found)}`);
  return value as Extract<DisplayPayload, { kind: K }>;
}

/** Decodes base64 to bytes. */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let n = 0; n < binary.length; n++) bytes[n] = binary.charCodeAt(n);
  return bytes;
}

/** Decodes base64 of little-endian int16 values. */
export function decodeInt16(text: string): Int16Array {
  const bytes = decodeBase64(text);
  return new Int16Array(bytes.buffer, 0, bytes.byteLength >> 1);
}

/** Creates an element with a class and optional text (set with `textContent`, never as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Creates a range input. */
export function slider(min: number, max: number, value: number, label: string): HTMLInputElement {
  const input = el('input', 'pk-slider');
  input.type = 'range';
  input.min = String(min);
  input.max = String(max);
  input.value = String(value);
  input.setAttribute('aria-label', label);
  return input;
}

/** Shows an error in the output cell as text. */
export function showError(element: HTMLElement, viewer: string, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  element.replaceChildren(el('div', 'pk-error', `PankNet ${viewer}: ${message}`));
}

/** Shared styles of the renderers (no external resources). */
export const BASE_CSS = `
.pk-root { font: 12px/1.4 var(--vscode-font-family, sans-serif); color: inherit; }
.pk-title { font-weight: 600; margin: 2px 0; }
.pk-series, .pk-probe, .pk-window { opacity: 0.85; margin: 2px 0; min-height: 1.4em; }
.pk-row { display: flex; flex-wrap: wrap; gap: 8px; align-items: flex-start; }
.pk-plane { display: flex; flex-direction: column; gap: 2px; }
.pk-plane canvas { background: #000; cursor: crosshair; image-rendering: pixelated; }
.pk-controls { display: flex; flex-wrap: wrap; gap: 6px; align-items: center; margin: 4px 0; }
.pk-controls button { font: inherit; padding: 1px 6px; }
.pk-controls button.pk-active { outline: 2px solid #e8c547; }
.pk-error { color: #e05050; white-space: pre-wrap; }
`;

/** Appends a `<style>` with `css` to an element. */
export function addStyle(element: HTMLElement, css: string): void {
  const style = document.createElement('style');
  style.textContent = css;
  element.appendChild(style);
}
