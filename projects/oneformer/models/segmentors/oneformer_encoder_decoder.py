"""mmseg's EncoderDecoder whose OneFormer decode head takes its in_channels / strides from the built backbone."""
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig

from ..utils import PROBE_SIZE, dry_forward, fill_neck, resolve_head_inputs


@MODELS.register_module()
class OneFormerEncoderDecoder(EncoderDecoder):
    """``EncoderDecoder`` for :class:`OneFormerSegHead` (the mmseg face of OneFormer), as :class:`OneFormer` is for
    the detector: ``decode_head.in_channels`` / ``strides`` may be left out (None) and are found from the built
    backbone (+ neck) with one dry forward; given values are checked against it (a mismatch names both values and
    the key). A neck may leave out ``in_channels`` (and ``backbone_stride`` for ``mmdet.SimpleFeaturePyramid``).
    Arguments as mmseg's ``EncoderDecoder``.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: str = None,
                 init_cfg: OptMultiConfig = None):
        # Mirrored from mmseg 1.2.2 EncoderDecoder.__init__, which builds the neck with no hook before it: the
        # neck's backbone-dependent arguments are filled from a dry forward of the built backbone first.
        super(EncoderDecoder, self).__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if pretrained is not None:
            if backbone.get('pretrained') is not None:
                raise ValueError('both backbone and segmentor set pretrained weight')
            backbone.pretrained = pretrained
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            outs, _ = dry_forward([self.backbone])
            self.neck = MODELS.build(fill_neck(neck, outs, PROBE_SIZE, MODELS))
        self._init_decode_head(decode_head)
        self._init_auxiliary_head(auxiliary_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        assert self.with_decode_head

    def _init_decode_head(self, decode_head: ConfigType) -> None:
        super()._init_decode_head(resolve_head_inputs(decode_head, self.backbone, getattr(self, 'neck', None),
                                                      'model.decode_head'))
