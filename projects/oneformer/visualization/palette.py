"""One rule for the colours of every drawing: a palette name, a list of colours or nothing -> one colour per class.

mmdet's drawing code takes ``dataset_meta['palette']`` in two ways: its instance and panoptic paths pass it through
``get_palette`` (names such as 'random' or 'coco' allowed), its semantic path indexes it directly as a list of
colours. A name (a converted model's checkpoint has no palette and the inferencer used to fall back to 'random'),
a missing palette or one shorter than the class list thus drew some panels and crashed others. Every drawing path
(:class:`~oneformer.visualization.OneFormerVisualizer` whenever its ``dataset_meta`` is set, and with it the
inferencer, ``demo/image_demo.py``, ``tools/test.py --show-dir`` and ``tools/demo.py``) resolves the palette with
:func:`resolve_palette` first, so all of them see the same list of colours.
"""
import hashlib
from typing import List, Optional, Sequence, Tuple, Union

from mmdet.visualization.palette import get_palette

Colour = Tuple[int, int, int]
PaletteLike = Union[None, str, Sequence[Sequence[int]]]

#: palette names mmdet's ``get_palette`` maps to a dataset's colours (fewer colours than some class lists)
DATASET_PALETTES = ('coco', 'citys', 'voc')


def name_colour(name: str) -> Colour:
    """A fixed colour derived from a class name (for classes beyond the end of a palette)."""
    digest = hashlib.md5(str(name).encode()).digest()
    return int(digest[0]), int(digest[1]), int(digest[2])


def _colour(value, index: int, source: str) -> Colour:
    try:
        colour = tuple(int(c) for c in value)
    except (TypeError, ValueError):
        colour = ()
    if len(colour) != 3 or not all(0 <= c <= 255 for c in colour):
        raise ValueError(f'palette entry {index} of {source} is {value!r}: a colour must be 3 integers in 0..255')
    return colour


def resolve_palette(palette: PaletteLike, classes: Sequence[str], source: str = 'dataset_meta') -> List[Colour]:
    """One RGB colour per class, whatever form the palette comes in.

    Args:
        palette: None, 'none' or '' (-> 'random'), an mmdet palette name ('random', 'coco', 'citys', 'voc') or a
            colour name ('red', ...; every class that colour), a single colour (r, g, b), or a sequence of colours.
        classes (Sequence[str]): The class names; the result has one colour per class.
        source (str): Named in errors.

    Returns:
        list[tuple]: ``len(classes)`` colours. A palette shorter than the class list is extended with a fixed
        colour per class name (:func:`name_colour`); a longer one is cut.

    Raises:
        ValueError: a palette entry is not a colour; TypeError: the palette is none of the forms above.
    """
    num = len(classes)
    if palette is None or (isinstance(palette, str) and palette.lower() in ('', 'none')):
        palette = 'random'
    if isinstance(palette, str):
        try:
            if palette in DATASET_PALETTES:
                # mmdet's choice for this many classes ('coco': 80 colours, 133 above 80 classes); all of them
                # when the class list is longer still (the rest is filled below)
                longest = get_palette(palette, 81 if palette == 'coco' else 0)
                colours = get_palette(palette, num) if num <= len(longest) else longest
            else:
                colours = get_palette(palette, num)
        except (ValueError, KeyError, TypeError) as e:  # mmcv.color_val rejects unknown colour names
            raise ValueError(f'palette {palette!r} of {source}: not a palette name (random, coco, citys, voc) or a '
                             f'colour name ({e})') from e
    elif isinstance(palette, Sequence) or hasattr(palette, 'tolist'):
        palette = palette.tolist() if hasattr(palette, 'tolist') else list(palette)
        single = len(palette) == 3 and all(isinstance(c, int) for c in palette)
        colours = [palette] * num if single else palette
    else:
        raise TypeError(f'palette of {source} must be a name or a list of (r, g, b) colours, got '
                        f'{type(palette).__name__}')
    resolved = [_colour(c, i, source) for i, c in enumerate(colours[:num])]
    resolved += [name_colour(name) for name in classes[len(resolved):]]
    return resolved


def resolve_dataset_meta(meta: Optional[dict], source: str = 'dataset_meta') -> Optional[dict]:
    """A copy of ``meta`` whose ``palette`` is :func:`resolve_palette`'s list (``meta`` as is without classes)."""
    if not meta or not meta.get('classes'):
        return meta
    meta = dict(meta)
    meta['palette'] = resolve_palette(meta.get('palette'), tuple(meta['classes']), source)
    return meta
