"""Side-by-side panels with a title above each: the layout of ``make demo`` and ``tools/test.py --show-dir``."""
from typing import Sequence

import cv2
import numpy as np

#: title of each panel kind (the task panels are titled by their task name)
INPUT_TITLE, GT_TITLE = 'input', 'ground truth'
TITLE_HEIGHT = 28


def _title(text: str, width: int) -> np.ndarray:
    """A white ``TITLE_HEIGHT`` x ``width`` RGB strip with ``text`` in black (cut at the panel's edge)."""
    header = np.full((TITLE_HEIGHT, width, 3), 255, np.uint8)
    cv2.putText(header, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    return header


def titled_strip(panels: Sequence[np.ndarray], titles: Sequence[str]) -> np.ndarray:
    """Concatenate RGB ``panels`` left to right, each under its title.

    Args:
        panels: HxWx3 uint8 images; panels lower than the highest are padded at the bottom with white.
        titles: one title per panel.

    Returns:
        np.ndarray: the (``TITLE_HEIGHT`` + max height) x (sum of widths) x 3 strip.
    """
    if len(panels) != len(titles):
        raise ValueError(f'{len(panels)} panels but {len(titles)} titles {list(titles)}')
    height = max(p.shape[0] for p in panels)
    columns = []
    for panel, title in zip(panels, titles):
        pad = np.full((height - panel.shape[0], panel.shape[1], 3), 255, np.uint8)
        columns.append(np.concatenate([_title(title, panel.shape[1]), panel, pad], axis=0))
    return np.concatenate(columns, axis=1)
