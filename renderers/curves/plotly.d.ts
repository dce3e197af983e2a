/** The part of plotly.js that the curves renderer uses (the package ships no types). */
declare module 'plotly.js-dist-min' {
  interface PlotlyStatic {
    react(root: HTMLElement, data: object[], layout?: object, config?: object): Promise<unknown>;
    purge(root: HTMLElement): void;
  }
  const Plotly: PlotlyStatic;
  export default Plotly;
}
