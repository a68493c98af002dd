"""Task encoder: maps the tokenized task prompt to the task token Q_task."""
from mmdet.models.layers.transformer.utils import MLP
from mmdet.registry import MODELS
from mmdet.utils import OptMultiConfig
from mmengine.model import BaseModule
from torch import Tensor

from ...tasks import CONTEXT_LENGTH


@MODELS.register_module()
class TaskEncoder(BaseModule):
    """2-layer MLP over the raw CLIP token ids of ``"the task is {task}"``.

    The official model feeds the integer ids, cast to float, straight into the MLP (no embedding table);
    we do the same so that published weights reproduce the published behaviour.

    Args:
        context_length (int): Token sequence length (``oneformer.tasks.CONTEXT_LENGTH``). Defaults to 77.
        embed_dims (int): Output (and hidden) width. Defaults to 256.
        num_layers (int): MLP depth. Defaults to 2.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 context_length: int = CONTEXT_LENGTH,
                 embed_dims: int = 256,
                 num_layers: int = 2,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.context_length = context_length
        self.task_mlp = MLP(context_length, embed_dims, embed_dims, num_layers)

    def forward(self, task_tokens: Tensor) -> Tensor:
        """(B, context_length) int64 token ids -> (B, embed_dims) task token."""
        if task_tokens.shape[-1] != self.context_length:
            raise ValueError(f'task tokens have length {task_tokens.shape[-1]}, the task encoder expects '
                             f'{self.context_length}')
        return self.task_mlp(task_tokens.float())
