"""Side-by-side panels with a title above each: the layout of ``make demo`` and ``tools/test.py --show-dir``."""
from typing import Sequence

import cv2
import numpy as np

#: title of each panel kind (the task panels are titled by their task name)
INPUT_TITLE, GT_TITLE = 'input', 'ground truth'


def title_scale(width: int) -> float:
    """cv2 font scale of the titles over panels ``width`` px wide: 0.6 up to 256 px, growing to 1.0 at 512 px."""
    return float(min(1.0, max(0.6, width / 512)))


def title_height(width: int) -> int:
    """Height of the title strip over panels ``width`` px wide (28 px at font scale 0.6)."""
    return int(round(28 * title_scale(width) / 0.6))


def _title(text: str, width: int, height: int, scale: float) -> np.ndarray:
    """A white ``height`` x ``width`` RGB strip with ``text`` in black (cut at the panel's edge)."""
    header = np.full((height, width, 3), 255, np.uint8)
    cv2.putText(header, text, (int(8 * scale / 0.6), int(round(height * 0.72))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0), 1 if scale < 0.8 else 2, cv2.LINE_AA)
    return header


def titled_strip(panels: Sequence[np.ndarray], titles: Sequence[str]) -> np.ndarray:
    """Concatenate RGB ``panels`` left to right, each under its title.

    Args:
        panels: HxWx3 uint8 images; panels lower than the highest are padded at the bottom with white.
        titles: one title per panel.

    Returns:
        np.ndarray: the (:func:`title_height` of the narrowest panel + max height) x (sum of widths) x 3 strip;
        the titles grow with the panels (:func:`title_scale`).
    """
    if len(panels) != len(titles):
        raise ValueError(f'{len(panels)} panels but {len(titles)} titles {list(titles)}')
    height = max(p.shape[0] for p in panels)
    narrowest = min(p.shape[1] for p in panels)
    scale, header = title_scale(narrowest), title_height(narrowest)
    columns = []
    for panel, title in zip(panels, titles):
        pad = np.full((height - panel.shape[0], panel.shape[1], 3), 255, np.uint8)
        columns.append(np.concatenate([_title(title, panel.shape[1], header, scale), panel, pad], axis=0))
    return np.concatenate(columns, axis=1)
