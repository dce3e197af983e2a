/**
 * VS Code notebook renderer of `application/vnd.panknet.decoders+json`: the four decoder maps,
 * the fused map and a disagreement map (max - min over the four decoders) side by side on the
 * same axial slice, one slider and the wheel scrolling all panels, with a colour scale.
 */
import type { ActivationFunction } from 'vscode-notebook-renderer';

import { probabilityLut } from '../../src/display/colors.js';
import type { DecodersPayload } from '../../src/display/payload-types.js';
import { extractSlice, planeGeometry } from '../../src/display/planes.js';
import {
  addStyle,
  BASE_CSS,
  decodeBase64,
  el,
  readPayload,
  showError,
  slider,
} from '../common/payload.js';

/** Longest side of one panel on screen, in CSS pixels. */
const PANEL_SIZE_PX = 180;

function mountDecoderGrid(element: HTMLElement, payload: DecodersPayload): void {
  const { shape, spacingMm, axisCodes } = payload.grid;
  const count = shape[0] * shape[1] * shape[2];
  const maps = payload.maps.map(decodeBase64);
  const image = payload.image === undefined ? undefined : decodeBase64(payload.image);
  if (maps.some((m) => m.length !== count) || (image && image.length !== count)) {
    throw new Error(`payload arrays do not match the grid ${shape.join(' x ')}`);
  }
  // Disagreement: spread (max - min) of the four decoder probabilities, per voxel.
  const spread = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    let lo = 255;
    let hi = 0;
    for (let m = 0; m < 4; m++) {
      const v = maps[m][n];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    spread[n] = hi - lo;
  }
  const layers = [...maps, spread];
  const names = [...payload.names, 'disagreement (max - min)'];
  const geometry = planeGeometry('axial', shape, spacingMm, axisCodes);
  const lut = probabilityLut();

  // Start on the slice where the fused map has the most mass.
  const size = geometry.width * geometry.height;
  let slice = Math.floor(geometry.depth / 2);
  let best = 0;
  const buffer = new Uint8Array(size);
  for (let s = 0; s < geometry.depth; s++) {
    const sum = extractSlice(maps[4], shape, geometry, s, buffer).reduce((a, v) => a + v, 0);
    if (sum > best) [slice, best] = [s, sum];
  }

  element.replaceChildren();
  const root = el('div', 'pk-root pk-decoder-grid');
  addStyle(root, BASE_CSS);
  root.appendChild(el('div', 'pk-title', payload.title));
  const input = slider(0, geometry.depth - 1, slice, 'axial slice');
  const label = el('span', 'pk-slice-label');
  const controls = el('div', 'pk-controls');
  controls.append(el('span', '', 'axial slice'), input, label);
  root.appendChild(controls);

  const extentW = geometry.width * geometry.pixelWidthMm;
  const extentH = geometry.height * geometry.pixelHeightMm;
  const pxPerMm = PANEL_SIZE_PX / Math.max(extentW, extentH);
  const row = el('div', 'pk-row');
  const panels = layers.map((_, index) => {
    const box = el('div', 'pk-plane');
    box.dataset.map = index < 5 ? payload.names[index] : 'disagreement';
    const canvas = el('canvas', 'pk-canvas');
    canvas.width = Math.max(1, Math.round(extentW * pxPerMm));
    canvas.height = Math.max(1, Math.round(extentH * pxPerMm));
    box.append(el('span', 'pk-map-name', names[index]), canvas);
    row.appendChild(box);
    return canvas;
  });
  root.appendChild(row);

  // Colour scale: the probability colour map from 0 to 1.
  const scale = el('div', 'pk-controls pk-scale');
  const bar = el('canvas', 'pk-scale-bar');
  bar.width = 256;
  bar.height = 12;
  const barContext = bar.getContext('2d');
  if (barContext) {
    const pixels = barContext.createImageData(256, 12);
    for (let x = 0; x < 256; x++) {
      for (let y = 0; y < 12; y++) {
        pixels.data.set([lut[3 * x], lut[3 * x + 1], lut[3 * x + 2], 255], (y * 256 + x) * 4);
      }
    }
    barContext.putImageData(pixels, 0, 0);
  }
  scale.append(el('span', '', 'p = 0'), bar, el('span', '', '1'));
  root.appendChild(scale);
  const probe = el('div', 'pk-probe', 'Move the pointer over a map.');
  root.appendChild(probe);
  element.appendChild(root);

  const scratch = document.createElement('canvas');
  scratch.width = geometry.width;
  scratch.height = geometry.height;
  const imageData = new ImageData(geometry.width, geometry.height);
  const greySlice = new Uint8Array(size);
  const layerSlice = new Uint8Array(size);

  function draw(): void {
    if (image) extractSlice(image, shape, geometry, slice, greySlice);
    layers.forEach((layer, index) => {
      extractSlice(layer, shape, geometry, slice, layerSlice);
      const pixels = imageData.data;
      for (let p = 0; p < size; p++) {
        const b = layerSlice[p];
        const alpha = image ? b / 255 : 1;
        const g = image ? greySlice[p] : 0;
        pixels[4 * p] = g + (lut[3 * b] - g) * alpha;
        pixels[4 * p + 1] = g + (lut[3 * b + 1] - g) * alpha;
        pixels[4 * p + 2] = g + (lut[3 * b + 2] - g) * alpha;
        pixels[4 * p + 3] = 255;
      }
      const scratchContext = scratch.getContext('2d');
      const context = panels[index].getContext('2d');
      if (!scratchContext || !context) return;
      scratchContext.putImageData(imageData, 0, 0);
      context.imageSmoothingEnabled = false;
      context.drawImage(scratch, 0, 0, panels[index].width, panels[index].height);
      panels[index].dataset.slice = String(slice);
    });
    input.value = String(slice);
    label.textContent = `${slice + 1}/${geometry.depth}`;
  }

  input.addEventListener('input', () => {
    slice = Number(input.value);
    draw();
  });
  for (const canvas of panels) {
    canvas.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const step = event.deltaY > 0 ? 1 : event.deltaY < 0 ? -1 : 0;
        slice = Math.min(geometry.depth - 1, Math.max(0, slice + step));
        draw();
      },
      { passive: false },
    );
    canvas.addEventListener('mousemove', (event) => {
      const rect = canvas.getBoundingClientRect();
      const col = Math.floor(((event.clientX - rect.left) / rect.width) * geometry.width);
      const r = Math.floor(((event.clientY - rect.top) / rect.height) * geometry.height);
      const p = Math.min(geometry.height - 1, Math.max(0, r)) * geometry.width;
      const index = p + Math.min(geometry.width - 1, Math.max(0, col));
      const values = layers.map((layer) => {
        extractSlice(layer, shape, geometry, slice, layerSlice);
        return (layerSlice[index] / 255).toFixed(2);
      });
      probe.textContent = names.map((name, n) => `${name.split(' ')[0]} ${values[n]}`).join(', ');
    });
  }
  draw();
}

/** Renderer entry point. */
export const activate: ActivationFunction = () => ({
  renderOutputItem(outputItem, element) {
    try {
      mountDecoderGrid(element, readPayload(outputItem, 'panknet.decoders'));
    } catch (error) {
      showError(element, 'decoder maps', error);
    }
  },
  disposeOutputItem() {
    // Nothing to release: listeners live on the output's own elements.
  },
});
