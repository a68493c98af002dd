"""Semantic-only data (image + label-map pairs) for the semantic task."""
import os.path as osp
from typing import List, Optional

from mmdet.datasets import BaseSegDataset
from mmdet.registry import DATASETS


@DATASETS.register_module()
class OneFormerSemSegDataset(BaseSegDataset):
    """mmdet's :class:`BaseSegDataset` (mmseg layout) that tells the OneFormer transforms its classes.

    Images ``{img_path}/{stem}{img_suffix}`` pair with label maps ``{seg_map_path}/{stem}{seg_map_suffix}`` (one
    class index per pixel, palette PNGs included). ``ann_file`` may name an mmseg-style split file listing one stem
    per line (relative to ``data_root``); without it every image of the folder is used.

    Differences from :class:`BaseSegDataset`:

    - ``get_data_info`` adds ``classes`` and ``num_things_classes`` (``len(metainfo['thing_classes'])``, 0 when not
      given: semantic data has no thing/stuff split) for :class:`~oneformer.datasets.LoadSemSegAsSegments` and
      :class:`~oneformer.datasets.OneFormerTaskTargets`;
    - a missing split file, an empty folder or a split file naming missing images raise errors naming the paths
      (instead of an ``AssertionError`` or an empty dataset).

    Args:
        **kwargs: Arguments of :class:`mmdet.datasets.BaseSegDataset` (``ann_file``, ``data_root``,
            ``data_prefix=dict(img_path=..., seg_map_path=...)``, ``img_suffix``, ``seg_map_suffix``, ...).
    """

    def load_data_list(self) -> List[dict]:
        if self.ann_file and '://' not in self.ann_file and not osp.exists(self.ann_file):
            raise FileNotFoundError(f'split file (ann_file) not found: {self.ann_file}; it lists one image stem per '
                                    "line (mmseg format); set ann_file='' to use every image of "
                                    f"{self.data_prefix.get('img_path')}")
        img_dir = self.data_prefix.get('img_path', None)
        if not self.ann_file and img_dir and '://' not in img_dir and not osp.isdir(img_dir):
            raise FileNotFoundError(f'image folder not found: {img_dir} (data_root + data_prefix.img_path)')
        data_list = super().load_data_list()
        if not data_list:
            source = f'split file {self.ann_file}' if self.ann_file else f'folder {img_dir}'
            raise ValueError(f'no images in {source} (img_suffix={self.img_suffix!r})')
        if self.ann_file:
            missing = [d['img_path'] for d in data_list if '://' not in d['img_path'] and
                       not osp.isfile(d['img_path'])]
            if missing:
                raise FileNotFoundError(f'{len(missing)} image(s) listed in the split file {self.ann_file} do not '
                                        f'exist, e.g. {missing[:3]} (check img_suffix={self.img_suffix!r} and '
                                        'data_prefix.img_path)')
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info['classes'] = self.metainfo['classes']
        info['num_things_classes'] = self.num_things_classes
        return info

    @property
    def num_things_classes(self) -> int:
        """``len(metainfo['thing_classes'])``, 0 without a thing/stuff split."""
        things: Optional[tuple] = self.metainfo.get('thing_classes')
        return len(things) if things else 0
