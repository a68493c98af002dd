from .contrastive_loss import QueryTextContrastiveLoss

__all__ = ['QueryTextContrastiveLoss']
