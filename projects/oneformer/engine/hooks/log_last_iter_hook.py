# Copyright (c) OpenMMLab. All rights reserved.
"""Log the last training iteration when the logger's interval skipped it."""
from mmdet.registry import HOOKS
from mmengine.hooks import Hook, LoggerHook


@HOOKS.register_module()
class LogLastIterHook(Hook):
    """Log the losses of the last training iteration if ``LoggerHook`` did not.

    mmengine's ``LoggerHook`` logs every ``interval`` iterations, so a run of ``max_iters`` not divisible by it
    ends without logging its last iterations, and a run shorter than the interval prints no loss at all. This hook
    runs after ``LoggerHook`` and logs the last iteration (averaged over the log processor's window, like the
    regular lines) into the same log and ``scalars.json`` when that iteration was not logged.

    ``tools/train.py`` adds it to ``custom_hooks`` (see :func:`oneformer.engine.add_default_hooks`).
    """
    priority = 'LOW'  # after LoggerHook (BELOW_NORMAL)

    @staticmethod
    def _logger_hook(runner):
        return next((h for h in runner.hooks if isinstance(h, LoggerHook)), None)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.is_last_train_iter(runner):
            return
        logger_hook = self._logger_hook(runner)
        if logger_hook is None:
            return
        if logger_hook.every_n_inner_iters(batch_idx, logger_hook.interval) or (
                logger_hook.end_of_epoch(runner.train_dataloader, batch_idx)
                and (not logger_hook.ignore_last or len(runner.train_dataloader) <= logger_hook.interval)):
            return  # LoggerHook logged this iteration
        tag, log_str = runner.log_processor.get_log_after_iter(runner, batch_idx, 'train')
        runner.logger.info(log_str)
        runner.visualizer.add_scalars(tag, step=runner.iter + 1, file_path=logger_hook.json_log_path)
