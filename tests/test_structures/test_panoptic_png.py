"""The panoptic PNG codec: id <-> RGB, file round trip, errors naming the file, the segments_info check."""
import numpy as np
import pytest
from PIL import Image

from oneformer.structures import check_panoptic_ids, id2rgb, read_panoptic_png, rgb2id, write_panoptic_png


def test_id_rgb_round_trip_and_byte_order():
    ids = np.array([[0, 1, 255], [256, 65536 + 7, 256**3 - 1]], dtype=np.int64)
    rgb = id2rgb(ids)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    assert rgb[1, 1].tolist() == [7, 0, 1]  # R is the low byte, B the high one (COCO panoptic)
    np.testing.assert_array_equal(rgb2id(rgb), ids)
    assert id2rgb(256 + 3) == [3, 1, 0] and rgb2id((3, 1, 0)) == 259


@pytest.mark.parametrize('bad', [-1, 256**3])
def test_ids_outside_three_bytes_are_refused(bad):
    with pytest.raises(ValueError, match=r'\[0, 256\^3\)'):
        id2rgb(np.array([[0, bad]]))


def test_file_round_trip_reads_what_pil_reads(tmp_path):
    ids = np.random.default_rng(0).integers(0, 256**3, size=(1, 7))  # 1 pixel high: mmdet's loader squeezes it
    path = str(tmp_path / 'sub' / 'a.png')
    write_panoptic_png(ids, path)
    np.testing.assert_array_equal(read_panoptic_png(path), ids)
    np.testing.assert_array_equal(rgb2id(np.asarray(Image.open(path).convert('RGB'))), ids)


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.png'):
        read_panoptic_png(str(tmp_path / 'missing.png'))
    (tmp_path / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(ValueError, match='broken.png'):
        read_panoptic_png(str(tmp_path / 'broken.png'))


def test_check_against_segments_info_both_ways():
    ids = np.array([[0, 5, 5], [9, 9, 7]])
    check_panoptic_ids(ids, [5, 9], 'x.png', void_ids=[7])
    with pytest.raises(ValueError, match=r'x.png contains segment id\(s\) \[7\]'):
        check_panoptic_ids(ids, [5, 9], 'x.png')
    with pytest.raises(ValueError, match='id 3 is listed .* absent from the PNG x.png'):
        check_panoptic_ids(ids, [5, 9, 3], 'x.png', void_ids=[7])
    with pytest.raises(ValueError, match=r'lists segment id\(s\) \[5\] more than once'):
        check_panoptic_ids(ids, [5, 5, 9], 'x.png', void_ids=[7])
