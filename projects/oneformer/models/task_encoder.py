"""Task encoder: maps the tokenized task prompt to the task token Q_task."""
from mmdet.models.layers.transformer.utils import MLP
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor


@MODELS.register_module()
class TaskEncoder(BaseModule):
    """2-layer MLP over the raw CLIP token ids of ``"the task is {task}"``.

    The official model feeds the integer ids, cast to float, straight into the MLP (no embedding table);
    we do the same so that published weights reproduce the published behaviour.

    Args:
        seq_len (int): Token sequence length. Defaults to 77.
        embed_dims (int): Output (and hidden) width. Defaults to 256.
        num_layers (int): MLP depth. Defaults to 2.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 seq_len: int = 77,
                 embed_dims: int = 256,
                 num_layers: int = 2,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.seq_len = seq_len
        self.task_mlp = MLP(seq_len, embed_dims, embed_dims, num_layers)

    def forward(self, task_tokens: Tensor) -> Tensor:
        """(B, seq_len) int64 token ids -> (B, embed_dims) task token."""
        if task_tokens.shape[-1] != self.seq_len:
            raise ValueError(f'task tokens have length {task_tokens.shape[-1]}, the task encoder expects '
                             f'{self.seq_len}')
        return self.task_mlp(task_tokens.float())
