import pytest
import torch


@pytest.fixture(scope='module')
def one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP oversubscription when other jobs share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
