# OneFormer's additions to mmseg's Mask2Former decode head, shared by the configs in configs/mmseg/.
# Each config there inherits one of mmseg's own Mask2Former configs (configs/mask2former/ in mmseg: same data
# pipeline, batch size, optimizer, schedule, evaluator) and merges these values into its `decode_head`, whose
# type becomes `OneFormerSegHead`. Everything not listed (pixel decoder layout, masked-attention decoder,
# mask/dice/class losses, Hungarian matcher) stays exactly as in the Mask2Former config.
# mmseg's default scope: every mmdet / OneFormer component needs the `mmdet.` prefix.
# Numbers: official OneFormer yamls (R50 / Swin-L).

# ONE_FORMER.DROPOUT 0.1 also applies to the deformable pixel decoder (mmseg's Mask2Former uses 0.0)
oneformer_pixel_decoder = dict(
    encoder=dict(layer_cfg=dict(self_attn_cfg=dict(dropout=0.1), ffn_cfg=dict(ffn_drop=0.1))))

# task token: MLP over the token ids of "the task is semantic"
oneformer_task_encoder = dict(type='mmdet.TaskEncoder', context_length=77, embed_dims=256, num_layers=2)

# N-1 task-guided queries from the 1/4-scale features (CLASS_DEC_LAYERS 2)
oneformer_query_transformer = dict(
    type='mmdet.TaskGuidedQueryTransformer',
    embed_dims=256,
    decoder=dict(
        num_layers=2,
        return_intermediate=False,
        layer_cfg=dict(
            self_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.1, batch_first=True),
            cross_attn_cfg=dict(embed_dims=256, num_heads=8, dropout=0.1, batch_first=True),
            ffn_cfg=dict(embed_dims=256, feedforward_channels=2048, ffn_drop=0.1))))

# training only: text list ("a photo with a {class}" per class present, padded with "a semantic photo" to
# num_queries - num_ctx entries) -> text queries for the contrastive loss
oneformer_text_mapper = dict(
    type='mmdet.TextMapper', embed_dims=256, context_length=77, width=256, num_layers=6, num_heads=4,
    proj_num_layers=2, num_ctx=16)
oneformer_loss_contrastive = dict(type='mmdet.QueryTextContrastiveLoss', temperature=0.07, loss_weight=0.5)

# merged into the Mask2Former config's optim_wrapper.paramwise_cfg.custom_keys: no weight decay on the text
# embeddings either (WEIGHT_DECAY_EMBED 0.0)
oneformer_custom_keys = {
    'prompt_ctx': dict(lr_mult=1.0, decay_mult=0.0),
    'token_embedding': dict(lr_mult=1.0, decay_mult=0.0),
    'positional_embedding': dict(lr_mult=1.0, decay_mult=0.0),
}
