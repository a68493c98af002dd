# OneFormer R50 (semantic task) as an mmseg segmentor, next to mmseg's
# mask2former_r50_8xb2-160k_ade20k-512x512.py: data pipeline, batch size (8x2), AdamW + poly 160k schedule,
# checkpointing and IoUMetric are inherited from that config unchanged; only the decode head differs.
_base_ = [
    'mmseg::mask2former/mask2former_r50_8xb2-160k_ade20k-512x512.py',
    './_base_/oneformer_head.py',
]

custom_imports = dict(imports=['oneformer', 'mmdet.models'], allow_failed_imports=False)

model = dict(
    type='OneFormerEncoderDecoder',  # EncoderDecoder that finds decode_head.in_channels / strides from the backbone
    decode_head=dict(
        type='OneFormerSegHead',  # merged into Mask2Former's head config (num_classes=150, losses, matcher)
        class_names='ADE20KDataset',  # names of the text list: mmseg's ADE20KDataset.METAINFO['classes']
        num_queries=150,  # OneFormer R50 (Mask2Former: 100)
        pixel_decoder={{_base_.oneformer_pixel_decoder}},
        task_encoder={{_base_.oneformer_task_encoder}},
        query_transformer={{_base_.oneformer_query_transformer}},
        text_mapper={{_base_.oneformer_text_mapper}},
        loss_contrastive={{_base_.oneformer_loss_contrastive}}))

optim_wrapper = dict(paramwise_cfg=dict(custom_keys={{_base_.oneformer_custom_keys}}))
# mmseg's SegTTAModel would re-apply a softmax to the head's sum_q softmax(cls) * sigmoid(mask) scores
tta_model = dict(_delete_=True, type='OneFormerSegTTAModel')
