# OneFormer, ResNet-50 backbone. Every number is the paper's / the official yaml's (see comments).
# Class and query counts are literals here (COCO, 150 queries): the dataset bases own the variables
# `num_things_classes` / `num_stuff_classes` / `num_queries`, and model configs pass them through `model=`.
hidden_dim = 256

data_preprocessor = dict(
    type='DetDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_size_divisor=32,  # SIZE_DIVISIBILITY 32
    pad_mask=True,
    mask_pad_value=0,
    pad_seg=True,
    seg_pad_value=255)

model = dict(
    type='OneFormer',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=False),  # FrozenBN (detectron2 default)
        norm_eval=True,
        style='pytorch',
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    panoptic_head=dict(
        type='OneFormerHead',
        # in_channels / strides: found from the built backbone at build time ([256, 512, 1024, 2048] / [4, 8, 16, 32]
        # for ResNet-50), so a config that changes only `backbone` needs nothing else; given values are checked
        feat_channels=hidden_dim,
        out_channels=hidden_dim,  # MASK_DIM
        num_things_classes=80,
        num_stuff_classes=53,
        num_queries=150,  # COCO and all R50 configs; 250 for the large ADE20K/Cityscapes models
        num_transformer_feat_level=3,  # res3..res5 into the deformable encoder
        pixel_decoder=dict(
            type='MSDeformAttnPixelDecoder',
            num_outs=3,
            norm_cfg=dict(type='GN', num_groups=32),
            act_cfg=dict(type='ReLU'),
            encoder=dict(
                num_layers=6,  # TRANSFORMER_ENC_LAYERS
                layer_cfg=dict(
                    self_attn_cfg=dict(
                        embed_dims=hidden_dim, num_heads=8, num_levels=3, num_points=4,
                        dropout=0.1, batch_first=True),  # ONE_FORMER.DROPOUT 0.1
                    ffn_cfg=dict(
                        embed_dims=hidden_dim, feedforward_channels=1024, num_fcs=2, ffn_drop=0.1,
                        act_cfg=dict(type='ReLU', inplace=True)))),
            positional_encoding=dict(num_feats=hidden_dim // 2, normalize=True)),
        enforce_decoder_input_project=False,
        positional_encoding=dict(num_feats=hidden_dim // 2, normalize=True),
        transformer_decoder=dict(
            return_intermediate=True,
            num_layers=9,  # DEC_LAYERS 10 = 9 layers + the prediction from the initial queries
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=hidden_dim, num_heads=8, dropout=0.0, batch_first=True),
                cross_attn_cfg=dict(embed_dims=hidden_dim, num_heads=8, dropout=0.0, batch_first=True),
                ffn_cfg=dict(
                    embed_dims=hidden_dim, feedforward_channels=2048, num_fcs=2, ffn_drop=0.0,
                    act_cfg=dict(type='ReLU', inplace=True))),
            init_cfg=None),
        task_encoder=dict(type='TaskEncoder', context_length=77, embed_dims=hidden_dim, num_layers=2),
        query_transformer=dict(
            type='TaskGuidedQueryTransformer',
            embed_dims=hidden_dim,
            decoder=dict(
                num_layers=2,  # CLASS_DEC_LAYERS
                return_intermediate=False,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=hidden_dim, num_heads=8, dropout=0.1, batch_first=True),
                    cross_attn_cfg=dict(embed_dims=hidden_dim, num_heads=8, dropout=0.1, batch_first=True),
                    ffn_cfg=dict(embed_dims=hidden_dim, feedforward_channels=2048, ffn_drop=0.1)))),
        text_mapper=dict(
            type='TextMapper', embed_dims=hidden_dim, context_length=77, width=256, num_layers=6, num_heads=4,
            proj_num_layers=2, num_ctx=16),  # N_ctx 16: the text list has num_queries - 16 entries
        loss_contrastive=dict(type='QueryTextContrastiveLoss', temperature=0.07, loss_weight=0.5),
        loss_cls=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0, reduction='mean',
            class_weight=None),  # None: [1.0] * num_classes + [no_object_weight] (0.1)
        loss_mask=dict(type='CrossEntropyLoss', use_sigmoid=True, reduction='mean', loss_weight=5.0),
        loss_dice=dict(
            type='DiceLoss', use_sigmoid=True, activate=True, reduction='mean', naive_dice=True, eps=1.0,
            loss_weight=5.0)),
    # its num_things_classes / num_stuff_classes follow panoptic_head's unless set (the OneFormer detector)
    panoptic_fusion_head=dict(type='OneFormerFusionHead', loss_panoptic=None, init_cfg=None),
    train_cfg=dict(
        num_points=12544,  # 112 * 112
        oversample_ratio=3.0,
        importance_sample_ratio=0.75,
        assigner=dict(
            type='HungarianAssigner',
            match_costs=[
                dict(type='ClassificationCost', weight=2.0),
                dict(type='CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                dict(type='DiceCost', weight=5.0, pred_act=True, eps=1.0)
            ]),
        sampler=dict(type='MaskPseudoSampler')),
    test_cfg=dict(
        # evaluation: one backbone pass, each prediction (and metric) from its own task token; task_token='panoptic'
        # would make that one token produce all of them (official MODEL.TEST.TASK evaluation)
        tasks=('panoptic', 'instance', 'semantic'),
        object_mask_thr=0.8,  # COCO/Cityscapes 0.8, ADE20K 0.5
        iou_thr=0.8),  # OVERLAP_THRESHOLD; max_per_image (instance top-k, TEST.DETECTIONS_PER_IMAGE) = num_queries
    init_cfg=None)
