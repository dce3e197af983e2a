/**
 * VS Code notebook renderer of `application/vnd.panknet.volume+json` (the slice viewer).
 */
import type { ActivationFunction } from 'vscode-notebook-renderer';

import { readPayload, showError } from '../common/payload.js';
import type { MountedViewer } from './viewer.js';
import { mountSliceViewer } from './viewer.js';

/** Renderer entry point: one viewer per output item, disposed with it. */
export const activate: ActivationFunction = () => {
  const mounted = new Map<string, MountedViewer>();
  return {
    renderOutputItem(outputItem, element) {
      mounted.get(outputItem.id)?.dispose();
      try {
        const payload = readPayload(outputItem, 'panknet.volume');
        mounted.set(outputItem.id, mountSliceViewer(element, payload));
      } catch (error) {
        showError(element, 'slice viewer', error);
      }
    },
    disposeOutputItem(id) {
      if (id === undefined) {
        for (const viewer of mounted.values()) viewer.dispose();
        mounted.clear();
        return;
      }
      mounted.get(id)?.dispose();
      mounted.delete(id);
    },
  };
};
