import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

import { InputFileError } from '../util/errors.js';

/** One training or evaluation case: a CT and its label file. */
export interface ImageLabelPair {
  /** Case name: the image file name without `.nii` / `.nii.gz`. */
  id: string;
  /** Absolute path of the image (NIfTI). */
  image: string;
  /** Absolute path of the label map (NIfTI). */
  label: string;
}

/**
 * How stored label values become training classes: `classOf[value]` is the class (0
 * background, 1 pancreas, 2 tumour when kept apart); values not listed are background.
 * `null` means "every non-zero value is class 1".
 */
export type LabelMap = Readonly<Record<number, number>> | null;

/** The cases of a dataset, checked to exist, ready for a training loop. */
export interface DatasetSelection {
  /** Which layout the cases came from. */
  layout: 'nih-split' | 'msd' | 'pair-list';
  /** Cases to train on. */
  train: ImageLabelPair[];
  /** Held-out cases with labels (the fold's test list); empty for layouts without one. */
  test: ImageLabelPair[];
  /** Stored label values to classes (see `LabelMap`). */
  labelMap: LabelMap;
  /** Class names by class index, background first. */
  classes: string[];
}

/** Options of `loadNihSplit`. */
export interface NihSplitOptions {
  /** Fold to pick, as numbered in the split file (`fold0` ... `fold3`: 0 to 3). */
  fold: number;
  /**
   * Folder the split's paths are resolved against: the folder holding `data/PANCREAS-CT/`, or
   * `PANCREAS-CT/` itself, or any folder that holds `images/` and `annotations/`. Leading
   * folders of the split's paths are dropped until the files are found.
   */
  dataRoot: string;
  /**
   * Whether images must exist (default true). False for evaluation, where only the labels
   * (references) are needed.
   */
  requireImages?: boolean;
}

/** Options of `loadMsdDataset`. */
export interface MsdOptions {
  /** `merge` (default): tumour (2) counts as pancreas; `separate`: tumour is class 2. */
  tumour?: 'merge' | 'separate';
}

/** Options of `loadDataset`, the layout chosen from what `path` is. */
export interface LoadDatasetOptions extends Partial<NihSplitOptions>, MsdOptions {}

const NIFTI_NAME = /\.nii(\.gz)?$/i;

/**
 * Loads one fold of the NIH Pancreas-CT 4-fold split (`{num_fold, seed, fold0: {train: [{image,
 * mask}], test: [...]}, ...}`, Windows-style relative paths such as
 * `data\PANCREAS-CT\images\PANCREAS_0001.nii.gz`; see `../shared/data/README.md`).
 *
 * @param splitFile - The split JSON file.
 * @param options - Fold and data root.
 * @returns Train and test cases of the fold, labels 0/1 (class 1 = pancreas).
 * @throws InputFileError when the split is malformed or the fold absent, or, in one error that
 *   lists them all, when images or labels are missing or do not belong together.
 */
export async function loadNihSplit(
  splitFile: string,
  options: NihSplitOptions,
): Promise<DatasetSelection> {
  const split = await readJson(splitFile);
  const key = `fold${options.fold}`;
  const folds = isRecord(split) ? Object.keys(split).filter((k) => /^fold\d+$/.test(k)) : [];
  if (folds.length === 0) {
    throw new InputFileError(
      splitFile,
      'has no fold0, fold1, ... entries, so it is not a k-fold split file. Pass the split ' +
        'JSON (e.g. nih-pancreas-ct-4fold-split.json).',
    );
  }
  const fold = isRecord(split) ? split[key] : undefined;
  if (!isRecord(fold)) {
    throw new InputFileError(
      splitFile,
      `has no ${key} (folds present: ${folds.join(', ')}). Pick one of those folds by its ` +
        'number (0-based as in the file).',
    );
  }

  const problems: string[] = [];
  const trainEntries = entriesOf(fold.train, `${key}.train`, problems);
  const testEntries = entriesOf(fold.test, `${key}.test`, problems);
  const all = [...trainEntries, ...testEntries];
  const requireImages = options.requireImages ?? true;
  const depth = await bestStripDepth(options.dataRoot, all, requireImages ? 'image' : 'label');
  const place = (entry: RawEntry): RawEntry => ({
    ...entry,
    image: stripAndResolve(options.dataRoot, entry.image, depth),
    label: stripAndResolve(options.dataRoot, entry.label, depth),
  });
  const train = await checkPairs(trainEntries.map(place), problems, requireImages);
  const test = await checkPairs(testEntries.map(place), problems, requireImages);
  throwIfProblems(splitFile, problems, `the data root ${options.dataRoot}`);
  const classes = ['background', 'pancreas'];
  return { layout: 'nih-split', train, test, labelMap: { 1: 1 }, classes };
}

/**
 * Fold numbers of a k-fold split file (`fold0`, `fold1`, ... give 0, 1, ...).
 *
 * @param splitFile - The split JSON file.
 * @returns Fold numbers in ascending order.
 * @throws InputFileError when the file is unreadable or holds no fold.
 */
export async function listSplitFolds(splitFile: string): Promise<number[]> {
  const split = await readJson(splitFile);
  const keys = isRecord(split) ? Object.keys(split).filter((k) => /^fold\d+$/.test(k)) : [];
  if (keys.length === 0) {
    throw new InputFileError(
      splitFile,
      'has no fold0, fold1, ... entries, so it is not a k-fold split file. Pass the split ' +
        'JSON (e.g. nih-pancreas-ct-4fold-split.json).',
    );
  }
  return keys.map((k) => Number(k.slice(4))).sort((a, b) => a - b);
}

/**
 * Loads a Medical Segmentation Decathlon task folder (Task07_Pancreas): `dataset.json` with
 * `training: [{image, label}]` paths relative to the folder (`./imagesTr/x.nii.gz`,
 * `./labelsTr/x.nii.gz`). Labels: 1 pancreas, 2 tumour.
 *
 * @param folder - The task folder holding `dataset.json`.
 * @param options - Whether tumour merges into pancreas (default) or stays a class.
 * @returns The training cases (MSD test images have no labels, so `test` is empty).
 * @throws InputFileError when `dataset.json` is missing or malformed, or, all at once, when
 *   images or labels are missing or do not belong together.
 */
export async function loadMsdDataset(
  folder: string,
  options: MsdOptions = {},
): Promise<DatasetSelection> {
  const file = join(folder, 'dataset.json');
  const dataset = await readJson(file);
  if (!isRecord(dataset) || !Array.isArray(dataset.training)) {
    throw new InputFileError(
      file,
      'has no "training" list of {image, label}, so it is not an MSD dataset.json. Point to ' +
        'the task folder (e.g. Task07_Pancreas) as downloaded.',
    );
  }

  const problems: string[] = [];
  const entries = entriesOf(dataset.training, 'training', problems).map((entry) => ({
    ...entry,
    image: resolve(folder, entry.image),
    label: resolve(folder, entry.label),
  }));
  const train = await checkPairs(entries, problems);
  throwIfProblems(file, problems, `the folder ${folder}`);
  const separate = options.tumour === 'separate';
  return {
    layout: 'msd',
    train,
    test: [],
    labelMap: separate ? { 1: 1, 2: 2 } : { 1: 1, 2: 1 },
    classes: separate ? ['background', 'pancreas', 'tumour'] : ['background', 'pancreas'],
  };
}

/**
 * Loads a plain list of pairs: a JSON array of `{image, label}` (or `{image, mask}`), or a CSV
 * with two columns `image,label` (a header row is optional). Relative paths are resolved
 * against the list file's folder.
 *
 * @param listFile - `.json` or `.csv` file.
 * @returns The cases as `train`; labels: every non-zero value is pancreas.
 * @throws InputFileError when the list is malformed or, all at once, when files are missing.
 */
export async function loadPairList(listFile: string): Promise<DatasetSelection> {
  const problems: string[] = [];
  let raw: RawEntry[];
  if (/\.csv$/i.test(listFile)) {
    raw = parsePairCsv(await readText(listFile), problems);
  } else {
    const list = await readJson(listFile);
    if (!Array.isArray(list)) {
      throw new InputFileError(
        listFile,
        'is not a JSON array of {image, label}. Write the pairs as ' +
          '[{"image": "ct/a.nii.gz", "label": "labels/a.nii.gz"}, ...].',
      );
    }
    raw = entriesOf(list, 'list', problems);
  }

  const root = dirname(resolve(listFile));
  const entries = raw.map((entry) => ({
    ...entry,
    image: resolve(root, entry.image),
    label: resolve(root, entry.label),
  }));
  const train = await checkPairs(entries, problems);
  if (entries.length === 0 && problems.length === 0) problems.push('the list holds no pair');
  throwIfProblems(listFile, problems, `the folder ${root}`);
  const classes = ['background', 'pancreas'];
  return { layout: 'pair-list', train, test: [], labelMap: null, classes };
}

/**
 * Loads a dataset in whichever supported layout `path` is: an MSD task folder (with
 * `dataset.json`), a k-fold split JSON (needs `fold` and `dataRoot`), or a JSON/CSV pair list.
 *
 * @param path - Folder or file.
 * @param options - Fold and data root for split files; tumour handling for MSD.
 * @returns The checked cases.
 * @throws InputFileError as the layout's loader, or when a split file lacks fold or data root.
 */
export async function loadDataset(
  path: string,
  options: LoadDatasetOptions = {},
): Promise<DatasetSelection> {
  const info = await stat(path).catch((cause: unknown) => {
    throw new InputFileError(path, 'no such file or folder. Check the path.', { cause });
  });
  if (info.isDirectory()) return loadMsdDataset(path, options);
  if (/\.csv$/i.test(path)) return loadPairList(path);

  const content = await readJson(path);
  if (isRecord(content) && Object.keys(content).some((k) => /^fold\d+$/.test(k))) {
    if (options.fold === undefined || options.dataRoot === undefined) {
      throw new InputFileError(
        path,
        'is a k-fold split file, which needs a fold and a data root. Pass both, e.g. ' +
          '--fold 0 --data-root /data (the folder holding data/PANCREAS-CT).',
      );
    }
    return loadNihSplit(path, { fold: options.fold, dataRoot: options.dataRoot });
  }
  if (isRecord(content) && Array.isArray(content.training)) {
    return loadMsdDataset(dirname(path), options);
  }
  return loadPairList(path);
}

/**
 * Maps stored label values to training classes.
 *
 * @param labels - Label map voxels, any typed array.
 * @param labelMap - Value-to-class table, or `null` for "non-zero is class 1".
 * @returns Uint8Array of classes, same length.
 */
export function applyLabelMap(labels: ArrayLike<number>, labelMap: LabelMap): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const value = labels[i];
    out[i] = labelMap === null ? (value !== 0 ? 1 : 0) : (labelMap[value] ?? 0);
  }
  return out;
}

interface RawEntry {
  /** Where the entry was read, for messages (`fold1.train[3]`). */
  where: string;
  image: string;
  label: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((cause: unknown) => {
    throw new InputFileError(file, 'cannot be read. Check the path and permissions.', { cause });
  });
}

async function readJson(file: string): Promise<unknown> {
  const text = await readText(file);
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new InputFileError(file, `is not valid JSON (${reason}). Fix the file.`, { cause });
  }
}

/** Reads `[{image, label | mask}]`, noting malformed entries as problems. */
function entriesOf(list: unknown, where: string, problems: string[]): RawEntry[] {
  if (!Array.isArray(list)) {
    problems.push(`${where} is not a list of {image, label}`);
    return [];
  }
  const entries: RawEntry[] = [];
  list.forEach((item: unknown, n) => {
    const at = `${where}[${n}]`;
    const label = isRecord(item) ? (item.label ?? item.mask) : undefined;
    if (!isRecord(item) || typeof item.image !== 'string' || typeof label !== 'string') {
      problems.push(`${at} lacks a string "image" and "label" (or "mask")`);
      return;
    }
    entries.push({ where: at, image: toPosix(item.image), label: toPosix(label) });
  });
  return entries;
}

/** Windows separators (`data\PANCREAS-CT\x`) to forward slashes; works on every OS. */
function toPosix(path: string): string {
  return path.replace(/\\/g, '/');
}

function parsePairCsv(text: string, problems: string[]): RawEntry[] {
  const entries: RawEntry[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, n) => {
    if (line.trim() === '' || line.trimStart().startsWith('#')) return;
    const cells = line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
    if (n === 0 && !NIFTI_NAME.test(cells[0])) return;
    if (cells.length < 2 || cells[0] === '' || cells[1] === '') {
      problems.push(`line ${n + 1} does not have two columns image,label`);
      return;
    }
    entries.push({ where: `line ${n + 1}`, image: toPosix(cells[0]), label: toPosix(cells[1]) });
  });
  return entries;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (info) => info.isFile(),
    () => false,
  );
}

/** The last run of digits in a file name (`PANCREAS_0019` and `label0019` give 19). */
function caseNumber(path: string): number | undefined {
  const digits = basename(path).replace(NIFTI_NAME, '').match(/\d+/g);
  return digits === null ? undefined : Number(digits[digits.length - 1]);
}

/** Checks every pair, adding one problem per fault; returns the pairs. */
async function checkPairs(
  entries: RawEntry[],
  problems: string[],
  requireImages = true,
): Promise<ImageLabelPair[]> {
  const pairs: ImageLabelPair[] = [];
  const seen = new Map<string, string>();
  for (const entry of entries) {
    const [imageOk, labelOk] = await Promise.all([exists(entry.image), exists(entry.label)]);
    if (!imageOk && requireImages) problems.push(`${entry.where}: image ${entry.image} is missing`);
    if (!labelOk) problems.push(`${entry.where}: label ${entry.label} is missing`);
    for (const file of [entry.image, entry.label]) {
      if (!NIFTI_NAME.test(file)) problems.push(`${entry.where}: ${file} is not .nii or .nii.gz`);
    }
    const imageNumber = caseNumber(entry.image);
    const labelNumber = caseNumber(entry.label);
    if (imageNumber !== undefined && labelNumber !== undefined && imageNumber !== labelNumber) {
      problems.push(
        `${entry.where}: image ${basename(entry.image)} and label ${basename(entry.label)} ` +
          `carry different case numbers (${imageNumber} vs ${labelNumber})`,
      );
    }
    const id = basename(entry.image).replace(NIFTI_NAME, '');
    const before = seen.get(entry.image);
    if (before !== undefined) problems.push(`${entry.where}: image repeats ${before}`);
    seen.set(entry.image, entry.where);
    pairs.push({ id, image: entry.image, label: entry.label });
  }
  return pairs;
}

function throwIfProblems(file: string, problems: string[], searched: string): void {
  if (problems.length === 0) return;
  throw new InputFileError(
    file,
    `${problems.length} problem${problems.length === 1 ? '' : 's'} with the dataset ` +
      `(paths resolved against ${searched}): ${problems.join('; ')}. Fix or remove these ` +
      'entries, or point to the right folder, before training.',
  );
}

/**
 * How many leading folders of the split's paths to drop so that most files are found under
 * `root` (`data/PANCREAS-CT/images/x` may live at `root/images/x`). 0 when nothing is found.
 */
async function bestStripDepth(
  root: string,
  entries: RawEntry[],
  probe: 'image' | 'label',
): Promise<number> {
  const maxDepth = Math.max(0, ...entries.map((e) => e[probe].split('/').length - 1));
  let best = 0;
  let bestHits = 0;
  for (let depth = 0; depth <= maxDepth; depth++) {
    let hits = 0;
    for (const entry of entries) {
      if (await exists(stripAndResolve(root, entry[probe], depth))) hits++;
    }
    if (hits > bestHits) {
      best = depth;
      bestHits = hits;
    }
  }
  return best;
}

function stripAndResolve(root: string, path: string, depth: number): string {
  if (isAbsolute(path)) return path;
  return resolve(root, path.split('/').slice(depth).join('/'));
}
