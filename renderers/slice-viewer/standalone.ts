/**
 * Entry of the self-contained page written by `panknet view`: reads the payload from the
 * `<script type="application/json" id="panknet-payload">` element and mounts the viewer.
 */
import { readPayload, showError } from '../common/payload.js';
import { mountSliceViewer } from './viewer.js';

const source = document.getElementById('panknet-payload');
const target = document.getElementById('panknet-view') ?? document.body;
try {
  const payload = readPayload({ json: () => source?.textContent ?? 'null' }, 'panknet.volume');
  document.title = `${payload.title} - PankNet`;
  mountSliceViewer(target, payload);
} catch (error) {
  showError(target, 'slice viewer', error);
}
