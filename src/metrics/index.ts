/** Segmentation metrics on plain typed arrays; no TensorFlow.js. */
export { countConfusion, type ConfusionCounts } from './confusion-counts.js';
export { squaredDistanceTransform } from './distance-transform.js';
export { maskVolumeMl } from './mask-volume.js';
export { overlapMetrics, type OverlapMetrics } from './overlap-metrics.js';
export {
  assertSameGrid,
  evaluateMasks,
  GRID_TOLERANCE_MM,
  labelMask,
  type SegmentationMetrics,
} from './segmentation-metrics.js';
export {
  quantileLinear,
  surfaceDistances,
  surfaceMask,
  type SurfaceDistanceMetrics,
} from './surface-distances.js';
export {
  caseId,
  CASE_METRIC_KEYS,
  evaluateCase,
  meanMetrics,
  pairCaseFiles,
  type CaseMetricKey,
  type CasePair,
  type CasePairing,
  type CaseResult,
  type EvaluateCaseOptions,
} from './evaluate-cases.js';
export {
  evaluationReportJson,
  formatEvaluationTable,
  JSON_METRIC_NAMES,
  writeEvaluationCsv,
  type CaseJson,
  type EvaluationReportJson,
  type MetricsJson,
} from './evaluation-report.js';
export {
  foldScores,
  formatFoldTable,
  readFoldReport,
  summarizeFolds,
  type CrossValidationSummary,
  type FoldScores,
} from './cross-validation.js';
