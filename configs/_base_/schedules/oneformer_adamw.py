# Optimizer, loops and checkpointing shared by every OneFormer schedule (inherited by schedule_*.py).
# Sources: OneFormer paper (arXiv:2211.06220) sec. 4 / official d2 yamls (SOLVER.*); mmdet 3.3 mask2former configs
# for the mmengine spelling.

optim_wrapper = dict(
    # official: nan -> 0, +-inf -> +-1e5 on all grads before clipping. `tools/train.py --amp` switches to
    # FiniteGradAmpOptimWrapper (official R50/Swin-T runs use AMP)
    type='FiniteGradOptimWrapper',
    # d2 build_optimizer semantics: norm / nn.Embedding decay rules win over custom_keys (mmengine's default
    # constructor skips them for any param matching a key, e.g. the LayerNorms inside a Swin backbone)
    constructor='OneFormerOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW',  # SOLVER.OPTIMIZER ADAMW
        lr=1e-4,  # SOLVER.BASE_LR 0.0001 at batch 16
        betas=(0.9, 0.999),  # torch AdamW defaults used by d2
        eps=1e-8,  # torch AdamW default used by d2
        weight_decay=0.05),  # SOLVER.WEIGHT_DECAY 0.05
    # SOLVER.CLIP_GRADIENTS: CLIP_TYPE full_model, CLIP_VALUE 0.01, NORM_TYPE 2.0 (clip over all parameters
    # together, which is what OptimWrapper's clip_grad_norm_ does).
    clip_grad=dict(max_norm=0.01, norm_type=2),
    paramwise_cfg=dict(
        # mmengine: the longest matching key wins, so keys that only occur inside the backbone carry its
        # lr_mult too; norm_decay_mult / embed_decay_mult are applied afterwards by the constructor.
        custom_keys={
            'backbone': dict(lr_mult=0.1, decay_mult=1.0),  # SOLVER.BACKBONE_MULTIPLIER 0.1
            # SOLVER.WEIGHT_DECAY_EMBED 0.0 (nn.Embedding): queries, level embeddings, text context / tokens
            'query_embed': dict(decay_mult=0.),
            'level_embed': dict(decay_mult=0.),
            'prompt_ctx': dict(decay_mult=0.),
            'token_embedding': dict(decay_mult=0.),
            # text encoder positional embedding: no decay (like the embeddings above)
            'positional_embedding': dict(decay_mult=0.),
            # Swin: relative_position_bias_table / absolute_pos_embed get weight decay 0 (d2 build_optimizer),
            # still with the backbone lr
            'relative_position_bias_table': dict(lr_mult=0.1, decay_mult=0.),
            'absolute_pos_embed': dict(lr_mult=0.1, decay_mult=0.),
        },
        norm_decay_mult=0.0,  # SOLVER.WEIGHT_DECAY_NORM 0.0 (every norm layer, backbone included)
        embed_decay_mult=0.0))  # SOLVER.WEIGHT_DECAY_EMBED 0.0 (every nn.Embedding)

val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# checkpointing (d2 CHECKPOINT_PERIOD 5000) and the iteration-based log processor live in default_runtime.py:
# mmengine refuses keys defined by two bases of one config.

# SOLVER.IMS_PER_BATCH 16 (8 GPUs x 2 images); `tools/train.py --auto-scale-lr` rescales lr to the real batch
auto_scale_lr = dict(enable=False, base_batch_size=16)
