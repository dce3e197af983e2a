/**
 * The slice viewer: axial, coronal and sagittal canvases with a linked crosshair, a slider and
 * the mouse wheel per plane, window/level presets and right- or shift-drag to change them, a
 * mask overlay with opacity and on/off, and the value and world position under the pointer.
 */
import type { Vec3 } from '../../src/io/volume.js';
import { labelColor } from '../../src/display/colors.js';
import type { DisplayWindow, VolumePayload } from '../../src/display/payload-types.js';
import type { PlaneGeometry, PlaneName } from '../../src/display/planes.js';
import {
  PLANES,
  pixelOfVoxel,
  planeGeometry,
  voxelOfPixel,
  worldOfVoxel,
} from '../../src/display/planes.js';
import { byteToValue, windowToByte } from '../../src/display/window.js';
import { addStyle, BASE_CSS, decodeBase64, decodeInt16, el, slider } from '../common/payload.js';

/** Longest side of a plane on screen, in CSS pixels. */
const VIEW_SIZE_PX = 300;

/** Crosshair colour (yellow: never mistaken for the red mask). */
const CROSSHAIR = 'rgba(255, 230, 0, 0.8)';

interface PlaneView {
  geometry: PlaneGeometry;
  canvas: HTMLCanvasElement;
  slider: HTMLInputElement;
  label: HTMLElement;
  image: ImageData;
  scratch: HTMLCanvasElement;
}

/** A pointer drag: moving the crosshair, or changing the window from `start`. */
interface Drag {
  view: PlaneView;
  mode: 'cursor' | 'window';
  x: number;
  y: number;
  start: DisplayWindow;
}

/** A mounted viewer; `dispose` removes its window listeners. */
export interface MountedViewer {
  dispose(): void;
}

/**
 * Mounts a slice viewer for a payload into an element (its children are replaced).
 *
 * @param element - Container.
 * @param payload - Volume payload.
 * @returns Handle to dispose the viewer.
 */
export function mountSliceViewer(element: HTMLElement, payload: VolumePayload): MountedViewer {
  const { shape, spacingMm, axisCodes, affine } = payload.grid;
  const voxels = decodeBase64(payload.voxels);
  const raw = payload.raw === undefined ? undefined : decodeInt16(payload.raw.data);
  const mask = payload.mask === undefined ? undefined : decodeBase64(payload.mask.data);
  const count = shape[0] * shape[1] * shape[2];
  if (voxels.length !== count || (raw && raw.length !== count) || (mask && mask.length !== count)) {
    throw new Error(`payload arrays do not match the grid ${shape.join(' x ')}`);
  }

  const cursor: Vec3 = [0, 1, 2].map((a) => Math.floor(shape[a] / 2)) as Vec3;
  // Open on the centre of the mask's bounding box, so that every plane shows the mask.
  if (mask) {
    const low = [Infinity, Infinity, Infinity];
    const high = [-1, -1, -1];
    for (let n = 0; n < count; n++) {
      if (mask[n] === 0) continue;
      const ij = Math.floor(n / shape[0]);
      const ijk = [n % shape[0], ij % shape[1], Math.floor(ij / shape[1])];
      for (let a = 0; a < 3; a++) {
        if (ijk[a] < low[a]) low[a] = ijk[a];
        if (ijk[a] > high[a]) high[a] = ijk[a];
      }
    }
    if (high[0] >= 0) for (let a = 0; a < 3; a++) cursor[a] = Math.round((low[a] + high[a]) / 2);
  }
  let window: DisplayWindow = { ...payload.window };
  let showMask = mask !== undefined;
  let opacity = 0.5;
  let grey = new Uint8Array(0);
  let lutFor: (index: number) => number = () => 0;

  // The grey lookup: raw int16 through the window when present, else the payload's 8 bits.
  function rebuildLut(): void {
    if (raw && payload.raw) {
      const { slope, intercept } = payload.raw;
      grey = new Uint8Array(65536);
      for (let q = -32768; q < 32768; q++) {
        grey[q + 32768] = windowToByte(intercept + slope * q, window);
      }
      lutFor = (index) => grey[raw[index] + 32768];
    } else {
      grey = new Uint8Array(256);
      for (let b = 0; b < 256; b++) grey[b] = windowToByte(byteToValue(b, payload.window), window);
      lutFor = (index) => grey[voxels[index]];
    }
  }
  rebuildLut();

  element.replaceChildren();
  const root = el('div', 'pk-root pk-slice-viewer');
  addStyle(root, BASE_CSS);
  root.appendChild(el('div', 'pk-title', payload.title));
  if (payload.seriesDescription !== undefined) {
    root.appendChild(el('div', 'pk-series', `Series: ${payload.seriesDescription}`));
  }
  const controls = el('div', 'pk-controls');
  const windowLabel = el('span', 'pk-window');
  const presetButtons = payload.presets.map((preset) => {
    const button = el('button', 'pk-preset', `${preset.name} W${preset.width}/L${preset.level}`);
    button.dataset.preset = preset.name;
    button.addEventListener('click', () => {
      window = { ...preset };
      rebuildLut();
      drawAll();
    });
    controls.appendChild(button);
    return button;
  });
  controls.appendChild(windowLabel);
  const maskToggle = el('input', 'pk-mask-toggle');
  const opacitySlider = slider(0, 100, opacity * 100, 'mask opacity');
  opacitySlider.classList.add('pk-opacity');
  if (mask) {
    maskToggle.type = 'checkbox';
    maskToggle.checked = true;
    const toggleLabel = el('label', 'pk-mask-label', ' mask');
    toggleLabel.prepend(maskToggle);
    controls.append(toggleLabel, el('span', 'pk-opacity-label', 'opacity'), opacitySlider);
    maskToggle.addEventListener('change', () => {
      showMask = maskToggle.checked;
      drawAll();
    });
    opacitySlider.addEventListener('input', () => {
      opacity = Number(opacitySlider.value) / 100;
      drawAll();
    });
  }
  root.appendChild(controls);

  const maxExtentMm = Math.max(...shape.map((n, a) => n * spacingMm[a]));
  const pxPerMm = VIEW_SIZE_PX / maxExtentMm;
  const row = el('div', 'pk-row');
  const views = PLANES.map((plane: PlaneName): PlaneView => {
    const geometry = planeGeometry(plane, shape, spacingMm, axisCodes);
    const box = el('div', 'pk-plane');
    box.dataset.plane = plane;
    const canvas = el('canvas', 'pk-canvas');
    canvas.width = Math.max(1, Math.round(geometry.width * geometry.pixelWidthMm * pxPerMm));
    canvas.height = Math.max(1, Math.round(geometry.height * geometry.pixelHeightMm * pxPerMm));
    const input = slider(0, geometry.depth - 1, cursor[geometry.normalAxis], `${plane} slice`);
    const label = el('span', 'pk-slice-label');
    const scratch = document.createElement('canvas');
    scratch.width = geometry.width;
    scratch.height = geometry.height;
    box.append(el('span', 'pk-plane-name', plane), canvas, input, label);
    row.appendChild(box);
    return {
      geometry,
      canvas,
      slider: input,
      label,
      image: new ImageData(geometry.width, geometry.height),
      scratch,
    };
  });
  root.appendChild(row);
  const probe = el('div', 'pk-probe', 'Move the pointer over a slice.');
  root.appendChild(probe);
  element.appendChild(root);

  function drawPlane(view: PlaneView): void {
    const { geometry, image, canvas, scratch } = view;
    const slice = cursor[geometry.normalAxis];
    const pixels = image.data;
    const strides = [1, shape[0], shape[0] * shape[1]];
    let p = 0;
    for (let r = 0; r < geometry.height; r++) {
      for (let c = 0; c < geometry.width; c++, p += 4) {
        const ijk = voxelOfPixel(geometry, c, r, slice);
        const index = ijk[0] * strides[0] + ijk[1] * strides[1] + ijk[2] * strides[2];
        const g = lutFor(index);
        const label = showMask && mask ? mask[index] : 0;
        if (label > 0) {
          const color = labelColor(label);
          pixels[p] = g + (color[0] - g) * opacity;
          pixels[p + 1] = g + (color[1] - g) * opacity;
          pixels[p + 2] = g + (color[2] - g) * opacity;
        } else {
          pixels[p] = g;
          pixels[p + 1] = g;
          pixels[p + 2] = g;
        }
        pixels[p + 3] = 255;
      }
    }
    const scratchContext = scratch.getContext('2d');
    const context = canvas.getContext('2d');
    if (!scratchContext || !context) return;
    scratchContext.putImageData(image, 0, 0);
    context.imageSmoothingEnabled = false;
    context.drawImage(scratch, 0, 0, canvas.width, canvas.height);
    const [col, rowIndex] = pixelOfVoxel(geometry, cursor);
    const x = ((col + 0.5) / geometry.width) * canvas.width;
    const y = ((rowIndex + 0.5) / geometry.height) * canvas.height;
    context.strokeStyle = CROSSHAIR;
    context.lineWidth = 1;
    context.beginPath();
    context.moveTo(Math.round(x) + 0.5, 0);
    context.lineTo(Math.round(x) + 0.5, canvas.height);
    context.moveTo(0, Math.round(y) + 0.5);
    context.lineTo(canvas.width, Math.round(y) + 0.5);
    context.stroke();
    view.slider.value = String(slice);
    view.label.textContent = `${geometry.plane} ${slice + 1}/${geometry.depth}`;
    view.canvas.dataset.slice = String(slice);
  }

  function drawAll(): void {
    for (const view of views) drawPlane(view);
    windowLabel.textContent = `window W${round(window.width)}/L${round(window.level)}`;
    for (const button of presetButtons) {
      button.classList.toggle('pk-active', button.dataset.preset === window.name);
    }
  }

  function valueText(index: number): string {
    const unit = payload.unit ? ` ${payload.unit}` : '';
    if (raw && payload.raw) {
      return `${round(payload.raw.intercept + payload.raw.slope * raw[index])}${unit}`;
    }
    // Without raw values, 0 and 255 stand for everything outside the payload's window.
    const b = voxels[index];
    const value = round(byteToValue(b, payload.window));
    return `${b === 0 ? '<= ' : b === 255 ? '>= ' : '~'}${value}${unit}`;
  }

  function voxelUnderPointer(view: PlaneView, event: MouseEvent): Vec3 {
    const rect = view.canvas.getBoundingClientRect();
    const { geometry } = view;
    const fx = (event.clientX - rect.left) / Math.max(1, rect.width);
    const fy = (event.clientY - rect.top) / Math.max(1, rect.height);
    const col = Math.min(geometry.width - 1, Math.max(0, Math.floor(fx * geometry.width)));
    const r = Math.min(geometry.height - 1, Math.max(0, Math.floor(fy * geometry.height)));
    return voxelOfPixel(geometry, col, r, cursor[geometry.normalAxis]);
  }

  function showProbe(ijk: Vec3): void {
    const index = ijk[0] + shape[0] * (ijk[1] + shape[1] * ijk[2]);
    const world = worldOfVoxel(affine, ijk).map((v) => v.toFixed(1));
    const label = mask ? ` mask ${mask[index]}` : '';
    probe.textContent =
      `voxel (${ijk.join(', ')}) = ${valueText(index)}${label}; ` + `RAS (${world.join(', ')}) mm`;
  }

  let drag: Drag | undefined;
  const onMove = (event: MouseEvent): void => {
    if (!drag) return;
    if (drag.mode === 'cursor') {
      const ijk = voxelUnderPointer(drag.view, event);
      cursor.splice(0, 3, ...ijk);
      drawAll();
      return;
    }
    const step = drag.start.width / 200;
    window = {
      name: 'custom',
      width: Math.max(1e-3, drag.start.width + (event.clientX - drag.x) * step),
      level: drag.start.level - (event.clientY - drag.y) * step,
    };
    rebuildLut();
    drawAll();
  };
  const onUp = (): void => {
    drag = undefined;
  };
  globalThis.addEventListener('mousemove', onMove);
  globalThis.addEventListener('mouseup', onUp);

  for (const view of views) {
    const { canvas, geometry } = view;
    view.slider.addEventListener('input', () => {
      cursor[geometry.normalAxis] = Number(view.slider.value);
      drawAll();
    });
    canvas.addEventListener(
      'wheel',
      (event) => {
        event.preventDefault();
        const step = event.deltaY > 0 ? 1 : event.deltaY < 0 ? -1 : 0;
        const next = cursor[geometry.normalAxis] + step;
        cursor[geometry.normalAxis] = Math.min(geometry.depth - 1, Math.max(0, next));
        drawAll();
      },
      { passive: false },
    );
    canvas.addEventListener('contextmenu', (event) => event.preventDefault());
    canvas.addEventListener('mousedown', (event) => {
      event.preventDefault();
      const mode = event.button === 2 || event.shiftKey ? 'window' : 'cursor';
      drag = { view, mode, x: event.clientX, y: event.clientY, start: { ...window } };
      if (mode === 'cursor') onMove(event);
    });
    canvas.addEventListener('mousemove', (event) => showProbe(voxelUnderPointer(view, event)));
  }
  drawAll();

  return {
    dispose(): void {
      globalThis.removeEventListener('mousemove', onMove);
      globalThis.removeEventListener('mouseup', onUp);
    },
  };
}

function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 10) / 10;
}
