/**
 * PankNet-TS: pancreas segmentation with hierarchical 3D features (Proietto Salanitri et al.,
 * MLMI 2021). The public API of the `panknet` package: volume I/O and preprocessing, metrics,
 * the network and its engines, training, and the notebook display helpers.
 *
 * Nothing here uses top-level await, so CommonJS callers (the tslab kernel) can `require` it.
 */

export * from './io/volume.js';
export * from './io/read-volume.js';
export { readNifti } from './io/read-nifti.js';
export { writeNifti, type WriteNiftiOptions } from './io/write-nifti.js';
export { readDicomSeries, listDicomSeries, type DicomSeriesSummary } from './io/read-dicom.js';
export { axcodes, voxelToWorld, worldToVoxel, spacingFromAffine } from './io/affine.js';
export { reorientToRas } from './preprocess/reorient-to-ras.js';
export {
  resampleToSpacing,
  resampleToReference,
  resampleOnGrid,
  type ResampleMode,
} from './preprocess/resample.js';
export { normalizeCt, normalizeMri, DEFAULT_WINDOW_HU } from './preprocess/normalize-intensity.js';
export { labelsToMask } from './preprocess/labels-to-mask.js';
export * from './preprocess/prepare-for-network.js';
export * from './metrics/index.js';
export * from './model/architecture.js';
export {
  PankNet,
  initialStateDict,
  type ForwardOptions,
  type ForwardResult,
} from './model/panknet.js';
export type { StateDict, ParameterArray } from './model/state-dict.js';
export { saveCheckpoint, loadCheckpoint, type CheckpointMeta } from './model/checkpoint.js';
export { selectBackend, type BackendName, type BackendChoice } from './backend/select-backend.js';
export type { SegmentationEngine, EngineOutput, EngineRunOptions } from './infer/engine.js';
export { TfjsEngine } from './infer/tfjs-engine.js';
export { createOnnxEngine } from './onnx/onnx-engine.js';
export { exportOnnx } from './onnx/export-onnx.js';
export * from './infer/sliding-window.js';
export * from './infer/postprocess.js';
export * from './infer/predict-volume.js';
export * from './infer/load-model.js';
export * from './train/datasets.js';
export * from './train/train.js';
export { show, readTrainingRows, TRAINING_LOG_FILES } from './display/show.js';
export * from './display/index.js';
export { setLogLevel, setLogSink, log, type LogLevel, type ProgressEvent } from './util/log.js';
export * from './util/errors.js';
export { RandomStream } from './util/random.js';
