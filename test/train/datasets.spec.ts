import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  applyLabelMap,
  loadDataset,
  loadMsdDataset,
  loadNihSplit,
  loadPairList,
} from '../../src/train/datasets.js';
import { InputFileError } from '../../src/util/errors.js';
import { sharedData } from '../helpers/data.js';
import { identityVolume, writeNiftiFile } from '../helpers/nifti-files.js';

/** A real 4 x 4 x 3 NIfTI file (uint8, 1 mm) at `path`, folders created. */
async function tinyNifti(path: string): Promise<void> {
  const data = new Uint8Array(48).fill(1, 0, 5);
  await writeNiftiFile(path, identityVolume(data, [4, 4, 3], { datatype: 'uint8' }));
}

interface SplitEntry {
  image: string;
  mask: string;
}

describe('datasets', () => {
  let root: string;
  let split: Record<string, { train: SplitEntry[]; test: SplitEntry[] }>;
  const splitFile = sharedData('nih-pancreas-ct-4fold-split.json');

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'panknet-datasets-'));
    split = JSON.parse(await readFile(splitFile, 'utf8')) as typeof split;
    // The NIH layout as the split names it, under root: data/PANCREAS-CT/{images,annotations}.
    const fold1 = [...split.fold1.train, ...split.fold1.test];
    for (const entry of fold1) {
      await tinyNifti(join(root, entry.image.replace(/\\/g, '/')));
      await tinyNifti(join(root, entry.mask.replace(/\\/g, '/')));
    }
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('loadNihSplit', () => {
    it('resolves fold1 of the real split file: 61 train and 21 test cases', async () => {
      const data = await loadNihSplit(splitFile, { fold: 1, dataRoot: root });
      assert.equal(data.train.length, split.fold1.train.length);
      assert.equal(data.train.length, 61);
      assert.equal(data.test.length, 21);
      const firstTest = split.fold1.test[0].image.split('\\').pop() ?? '';
      assert.equal(data.test[0].id, firstTest.replace('.nii.gz', ''));
      assert.equal(data.test[0].image, join(root, 'data', 'PANCREAS-CT', 'images', firstTest));
      assert.match(data.test[0].label, /annotations[/\\]label\d{4}\.nii\.gz$/);
      assert.deepEqual(data.labelMap, { 1: 1 });
    });

    it('finds the same files from a data root at PANCREAS-CT itself', async () => {
      const inner = join(root, 'data', 'PANCREAS-CT');
      const data = await loadNihSplit(splitFile, { fold: 1, dataRoot: inner });
      assert.equal(data.train[0].image.startsWith(join(inner, 'images')), true);
    });

    it('reports a missing image and a missing label of fold1 together in one error', async () => {
      const lostImage = join(root, split.fold1.train[3].image.replace(/\\/g, '/'));
      const lostLabel = join(root, split.fold1.test[5].mask.replace(/\\/g, '/'));
      await unlink(lostImage);
      await unlink(lostLabel);
      try {
        await assert.rejects(
          loadNihSplit(splitFile, { fold: 1, dataRoot: root }),
          (error: unknown) =>
            error instanceof InputFileError &&
            error.file === splitFile &&
            error.message.includes('2 problems') &&
            error.message.includes(`fold1.train[3]: image ${lostImage} is missing`) &&
            error.message.includes(`fold1.test[5]: label ${lostLabel} is missing`),
        );
      } finally {
        await tinyNifti(lostImage);
        await tinyNifti(lostLabel);
      }
    });

    it('rejects fold 4 of a 4-fold split, listing the folds present', async () => {
      await assert.rejects(
        loadNihSplit(splitFile, { fold: 4, dataRoot: root }),
        /has no fold4 \(folds present: fold0, fold1, fold2, fold3\)/,
      );
    });

    it('finds all 82 cases for fold0 too, since every fold splits the same 82 cases', async () => {
      const fold1Images = new Set([...split.fold1.train, ...split.fold1.test].map((e) => e.image));
      const onlyInFold0 = [...split.fold0.train, ...split.fold0.test].filter(
        (e) => !fold1Images.has(e.image),
      );
      // fold0 and fold1 split the same 82 cases, so the fold1 tree serves fold0 as well.
      assert.equal(onlyInFold0.length, 0);
      const data = await loadNihSplit(splitFile, { fold: 0, dataRoot: root });
      assert.equal(data.train.length + data.test.length, 82);
    });
  });

  describe('loadMsdDataset', () => {
    let msd: string;

    before(async () => {
      msd = join(root, 'Task07_Pancreas');
      const training = ['pancreas_001', 'pancreas_004'].map((id) => ({
        image: `./imagesTr/${id}.nii.gz`,
        label: `./labelsTr/${id}.nii.gz`,
      }));
      for (const entry of training) {
        await tinyNifti(join(msd, entry.image));
        await tinyNifti(join(msd, entry.label));
      }
      const labels = { 0: 'background', 1: 'pancreas', 2: 'cancer' };
      await writeFile(
        join(msd, 'dataset.json'),
        JSON.stringify({ name: 'Pancreas', labels, numTraining: 2, training, test: [] }),
      );
    });

    it('merges tumour (2) into pancreas by default, or keeps it as class 2', async () => {
      const merged = await loadMsdDataset(msd);
      assert.deepEqual(
        merged.train.map((p) => p.id),
        ['pancreas_001', 'pancreas_004'],
      );
      assert.equal(merged.train[1].label, join(msd, 'labelsTr', 'pancreas_004.nii.gz'));
      const labels = new Uint8Array([0, 1, 2, 2, 0]);
      assert.deepEqual([...applyLabelMap(labels, merged.labelMap)], [0, 1, 1, 1, 0]);
      const separate = await loadMsdDataset(msd, { tumour: 'separate' });
      assert.deepEqual([...applyLabelMap(labels, separate.labelMap)], [0, 1, 2, 2, 0]);
      assert.deepEqual(separate.classes, ['background', 'pancreas', 'tumour']);
    });

    it('is what loadDataset picks for a folder holding dataset.json', async () => {
      assert.equal((await loadDataset(msd)).layout, 'msd');
    });

    it('reports a missing label file naming the entry and the path', async () => {
      const broken = join(root, 'Task07_broken');
      await tinyNifti(join(broken, 'imagesTr', 'pancreas_010.nii.gz'));
      const training = [
        { image: './imagesTr/pancreas_010.nii.gz', label: './labelsTr/pancreas_010.nii.gz' },
      ];
      await writeFile(join(broken, 'dataset.json'), JSON.stringify({ training }));
      await assert.rejects(
        loadMsdDataset(broken),
        (error: unknown) =>
          error instanceof InputFileError &&
          error.message.includes('1 problem with the dataset') &&
          error.message.includes(
            `training[0]: label ${join(broken, 'labelsTr', 'pancreas_010.nii.gz')} is missing`,
          ),
      );
    });
  });

  describe('loadPairList', () => {
    it('reads a CSV with a header, resolving paths against its folder', async () => {
      const dir = join(root, 'list');
      await tinyNifti(join(dir, 'ct', 'case7.nii.gz'));
      await tinyNifti(join(dir, 'seg', 'case7_seg.nii.gz'));
      const csv = join(dir, 'pairs.csv');
      await writeFile(csv, 'image,label\nct/case7.nii.gz,seg/case7_seg.nii.gz\n');
      const data = await loadPairList(csv);
      assert.deepEqual(data.train, [
        {
          id: 'case7',
          image: join(dir, 'ct', 'case7.nii.gz'),
          label: join(dir, 'seg', 'case7_seg.nii.gz'),
        },
      ]);
      assert.equal(data.labelMap, null);
      assert.deepEqual([...applyLabelMap([0, 3, 7, 0], null)], [0, 1, 1, 0]);
    });

    it('reports a missing image, a mismatched pair and a bad JSON entry at once', async () => {
      const dir = join(root, 'json-list');
      await tinyNifti(join(dir, 'img', 'p12.nii.gz'));
      await tinyNifti(join(dir, 'lab', 'p13.nii.gz'));
      await tinyNifti(join(dir, 'lab', 'p20.nii.gz'));
      const list = join(dir, 'pairs.json');
      await writeFile(
        list,
        JSON.stringify([
          { image: 'img/p12.nii.gz', label: 'lab/p13.nii.gz' },
          { image: 'img/p20.nii.gz', label: 'lab/p20.nii.gz' },
          { image: 'img/p30.nii.gz' },
        ]),
      );
      await assert.rejects(
        loadDataset(list),
        (error: unknown) =>
          error instanceof InputFileError &&
          error.message.startsWith(`${list}: 3 problems with the dataset`) &&
          error.message.includes('list[2] lacks a string "image" and "label"') &&
          error.message.includes('different case numbers (12 vs 13)') &&
          error.message.includes(`list[1]: image ${join(dir, 'img', 'p20.nii.gz')} is missing`),
      );
    });
  });

  it('loadDataset asks for a fold and a data root when given a split file alone', async () => {
    await assert.rejects(loadDataset(splitFile), /needs a fold and a data root/);
  });
});
