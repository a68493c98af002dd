"""The text encoder's speed-up leaves results unchanged: ``TextTransformer.forward`` (unique texts encoded once,
sequence cut after the longest text) vs. encoding every row over all 77 positions (outputs and parameter
gradients)."""

import numpy as np
import pytest
import torch

import oneformer  # noqa: F401
from oneformer.models.layers.text_mapper import TextTransformer
from oneformer.tasks import TASKS, build_text_list, pad_text_list, tokenize

pytestmark = pytest.mark.usefixtures('one_thread')


CLASS_NAMES = ('person', 'car', 'traffic light', 'sky', 'road', 'potted plant')


def _text_encoder(seed=0) -> TextTransformer:
    torch.manual_seed(seed)
    enc = TextTransformer(context_length=77, width=32, num_layers=2, num_heads=2, vocab_size=49408)
    enc.init_weights()
    for p in enc.parameters():  # CLIP init leaves biases / LN at 0 / 1: perturb them so they matter too
        if p.dim() == 1:
            p.data.add_(0.1 * torch.randn_like(p))
    return enc


def _reference_text(enc: TextTransformer, tokens: torch.Tensor) -> torch.Tensor:
    """Every row, all 77 positions, the full mask, state at the EOT token (the largest id)."""
    x = enc.token_embedding(tokens) + enc.positional_embedding
    for block in enc.transformer.resblocks:
        x = block(x, enc.attn_mask)
    x = enc.ln_final(x)
    return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)]


def _text_tokens(task='panoptic', labels=(0, 0, 0, 1, 3, 4, 4, 5, 2), num_texts=20) -> torch.Tensor:
    texts = pad_text_list(build_text_list(np.array(labels), CLASS_NAMES), task, num_texts)
    return tokenize(texts)


def _assert_grads_match(enc, tokens, seed=1):
    params = [p for p in enc.parameters()]
    out = enc(tokens)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed))
    grads = torch.autograd.grad(out, params, g)
    ref = _reference_text(enc, tokens)
    ref_grads = torch.autograd.grad(ref, params, g)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    for (name, _), a, b in zip(enc.named_parameters(), grads, ref_grads):
        scale = b.abs().max().item()
        assert scale > 0, f'{name}: reference gradient is zero (test would be vacuous)'
        err = (a - b).abs().max().item()
        assert err <= 1e-4 * scale + 1e-8, f'gradient of {name} differs: max err {err:.3g} (scale {scale:.3g})'


@pytest.mark.parametrize('task', TASKS)
def test_text_encoder_matches_full_length_reference(task):
    enc = _text_encoder()
    tokens = _text_tokens(task)
    # realistic list: repeated class names and many pad texts -> far fewer distinct rows, short texts
    assert len(torch.unique(tokens, dim=0)) < tokens.shape[0]
    assert int(tokens.argmax(-1).max()) + 1 < 20
    _assert_grads_match(enc, tokens)
    enc.eval()
    with torch.no_grad():
        torch.testing.assert_close(enc(tokens), _reference_text(enc, tokens), atol=1e-5, rtol=0)


def test_text_encoder_output_order_follows_input_rows():
    """Distinct texts in a shuffled order: the gather with ``inverse`` puts each result back on its row."""
    enc = _text_encoder(seed=3)
    tokens = _text_tokens(labels=(5, 4, 3, 2, 1, 0, 0, 2), num_texts=12)
    perm = torch.randperm(tokens.shape[0], generator=torch.Generator().manual_seed(0))
    tokens = tokens[perm]
    out, ref = enc(tokens), _reference_text(enc, tokens)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=0)
    # rows of different texts really differ (the comparison above is not trivially satisfied)
    assert (out[:, None] - out[None]).abs().amax(-1).gt(1e-3).sum() > 0


def test_text_encoder_longest_text_uses_full_context():
    """A text truncated by the tokenizer has its EOT at position 76: nothing can be cut."""
    enc = _text_encoder(seed=2)
    long_text = 'a photo with a ' + ' '.join(['very'] * 100) + ' large person'
    tokens = torch.cat([tokenize([long_text]), _text_tokens(num_texts=6)])
    assert int(tokens[0].argmax()) == 76
    _assert_grads_match(enc, tokens)


@pytest.mark.parametrize('rows', [1, 7])
def test_text_encoder_identical_rows_and_single_row(rows):
    enc = _text_encoder(seed=4)
    tokens = tokenize(['a panoptic photo'] * rows)
    out = enc(tokens)
    assert out.shape == (rows, 32)
    _assert_grads_match(enc, tokens)
    if rows > 1:
        assert torch.equal(out, out[:1].expand_as(out))  # one encoding, broadcast


@pytest.mark.parametrize('mask_kind', ['zeros', 'one_future_entry'])
def test_text_encoder_non_causal_mask_disables_truncation(mask_kind):
    enc = _text_encoder(seed=5)
    tokens = _text_tokens(num_texts=10)
    causal_out = enc(tokens).detach()
    if mask_kind == 'zeros':  # every position sees the zero padding after the texts
        enc.attn_mask = torch.zeros(77, 77)
    else:  # causal except that position 0 sees the last position
        mask = enc.attn_mask.clone()
        mask[0, 76] = 0
        enc.attn_mask = mask
    ref = _reference_text(enc, tokens)
    # the padding now changes the result: a truncated encoding could not reproduce it
    assert (ref - causal_out).abs().max() > 1e-3
    _assert_grads_match(enc, tokens)


def test_text_encoder_empty_text_list():
    enc = _text_encoder()
    out = enc(torch.zeros((0, enc.context_length), dtype=torch.long))
    assert out.shape == (0, enc.ln_final.weight.shape[0])
