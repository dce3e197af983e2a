/**
 * VS Code notebook renderer of `application/vnd.panknet.training+json`: loss and learning rate
 * on the left, Dice of map1..map4, fused and validation on the right (plotly.js). Rendering
 * again into the same element updates the plot in place, so a live-updated output redraws.
 */
import Plotly from 'plotly.js-dist-min';
import type { ActivationFunction } from 'vscode-notebook-renderer';

import { SERIES_COLORS } from '../../src/display/colors.js';
import type { TrainingPayload } from '../../src/display/payload-types.js';
import { addStyle, BASE_CSS, el, readPayload, showError } from '../common/payload.js';

function traces(payload: TrainingPayload): object[] {
  const x = payload.epoch;
  const line = (name: string, y: (number | null)[], axes: object, extra: object = {}): object => ({
    type: 'scatter',
    mode: 'lines',
    name,
    x,
    y,
    line: { color: SERIES_COLORS[name.split(' ')[0]] ?? '#444', width: 2 },
    ...axes,
    ...extra,
  });
  const dice = { xaxis: 'x2', yaxis: 'y3' };
  return [
    line('loss', payload.loss, { xaxis: 'x', yaxis: 'y' }),
    line('lr', payload.lr, { xaxis: 'x', yaxis: 'y2' }, { line: { dash: 'dot', width: 1 } }),
    line('map1 Dice', payload.dice.map1, dice),
    line('map2 Dice', payload.dice.map2, dice),
    line('map3 Dice', payload.dice.map3, dice),
    line('map4 Dice', payload.dice.map4, dice),
    line('fused Dice', payload.dice.fused, dice, { line: { width: 3 } }),
    line('val Dice', payload.valDice, dice, { mode: 'lines+markers', connectgaps: true }),
  ];
}

const LAYOUT = {
  height: 340,
  margin: { l: 50, r: 50, t: 20, b: 40 },
  xaxis: { domain: [0, 0.42], title: { text: 'epoch' } },
  yaxis: { title: { text: 'loss' }, rangemode: 'tozero' },
  yaxis2: { title: { text: 'learning rate' }, overlaying: 'y', side: 'right', type: 'log' },
  xaxis2: { domain: [0.55, 1], anchor: 'y3', title: { text: 'epoch' } },
  yaxis3: { anchor: 'x2', range: [0, 1], title: { text: 'Dice' } },
  legend: { orientation: 'h', y: -0.2 },
  paper_bgcolor: 'rgba(0,0,0,0)',
  plot_bgcolor: 'rgba(0,0,0,0)',
};

/** Renderer entry point. */
export const activate: ActivationFunction = () => {
  const plots = new Map<string, HTMLElement>();
  return {
    async renderOutputItem(outputItem, element) {
      try {
        const payload = readPayload(outputItem, 'panknet.training');
        let root = element.querySelector<HTMLElement>(':scope > .pk-curves');
        let plot = root?.querySelector<HTMLElement>('.pk-plot');
        if (!root || !plot) {
          element.replaceChildren();
          root = el('div', 'pk-root pk-curves');
          addStyle(root, BASE_CSS);
          root.append(el('div', 'pk-title'), el('div', 'pk-summary'));
          plot = el('div', 'pk-plot');
          root.appendChild(plot);
          element.appendChild(root);
        }
        const title = root.querySelector('.pk-title');
        if (title) title.textContent = payload.title;
        const summary = root.querySelector('.pk-summary');
        const last = payload.epoch.length - 1;
        if (summary) {
          summary.textContent =
            last < 0
              ? 'no epochs yet'
              : `epoch ${payload.epoch[last]}: loss ${payload.loss[last]?.toFixed(4) ?? 'n/a'}, ` +
                `fused Dice ${payload.dice.fused[last]?.toFixed(4) ?? 'n/a'}`;
        }
        // Plotly.react diffs against the previous figure, so a replaced output updates in place.
        await Plotly.react(plot, traces(payload), LAYOUT, { displaylogo: false, responsive: true });
        plots.set(outputItem.id, plot);
      } catch (error) {
        showError(element, 'training curves', error);
      }
    },
    disposeOutputItem(id) {
      const ids = id === undefined ? [...plots.keys()] : [id];
      for (const key of ids) {
        const plot = plots.get(key);
        if (plot) Plotly.purge(plot);
        plots.delete(key);
      }
    },
  };
};
