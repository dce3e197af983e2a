"""Independent numbers for test/cli/evaluate.spec.ts, from scipy (run with /usr/bin/python3).

Surface = mask minus its 6-connected erosion (outside counts as background); distances from
scipy's exact EDT with the voxel spacing; numpy's default linear percentile.
"""
import nibabel as nib
import numpy as np
from scipy import ndimage


def surface(mask):
    six = ndimage.generate_binary_structure(3, 1)
    return mask & ~ndimage.binary_erosion(mask, structure=six, border_value=0)


def hd95_asd(pred, ref, spacing):
    sp, sr = surface(pred), surface(ref)
    to_ref = ndimage.distance_transform_edt(~sr, sampling=spacing)[sp]
    to_pred = ndimage.distance_transform_edt(~sp, sampling=spacing)[sr]
    hd95 = max(np.percentile(to_ref, 95), np.percentile(to_pred, 95))
    asd = (to_ref.sum() + to_pred.sum()) / (to_ref.size + to_pred.size)
    return hd95, asd


image = nib.load('../shared/data/ct-abdomen-3mm.pancreas.nii.gz')
ref = np.asarray(image.dataobj) != 0
spacing = image.header.get_zooms()[:3]
pred = np.roll(ref, (2, 0, -1), axis=(0, 1, 2)) & ~np.roll(ref, (0, 3, 0), axis=(0, 1, 2))
dice = 2 * (pred & ref).sum() / (pred.sum() + ref.sum())
# Printed 2026-12-04: 818 680 0.3818424566088118 (6.708203932499369, 3.1503155725613636)
print(ref.sum(), pred.sum(), dice, hd95_asd(pred, ref, spacing))
