"""The small GPT against torch's own attention and between its two attention variants."""

import torch
import torch.nn.functional as F

from lmech.nn.gpt import GPT, GPTConfig


def test_separate_attention_equals_sdpa_with_its_scale():
    torch.manual_seed(0)
    cfg = GPTConfig(vocab=10, seq_len=7, d_model=24, n_layer=1, n_head=3, bias=True)
    attn = GPT(cfg).blocks[0].attn.self_attn
    attn.attn_scale = torch.tensor(0.37)
    x = torch.randn(2, 7, 24)
    q, k, v = (f(x).view(2, 7, 3, 8).transpose(1, 2) for f in (attn.q, attn.k, attn.v))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.37)
    ref = attn.out(ref.transpose(1, 2).reshape(2, 7, 24))
    torch.testing.assert_close(attn(x), ref, rtol=1e-5, atol=1e-6)


def test_torch_variant_equals_separate_variant():
    torch.manual_seed(0)
    a = GPT(GPTConfig(vocab=10, seq_len=7, d_model=24, n_layer=2, n_head=3))
    b = GPT(GPTConfig(vocab=10, seq_len=7, d_model=24, n_layer=2, n_head=3, attention="torch"))
    sa, sb = a.state_dict(), b.state_dict()
    for k in sb:
        if "mha.in_proj_weight" in k:
            p = k.replace("mha.in_proj_weight", "")
            sb[k] = torch.cat([sa[p + n + ".weight"] for n in "qkv"])
        elif "mha.out_proj.weight" in k:
            sb[k] = sa[k.replace("mha.out_proj", "out")]
        else:
            sb[k] = sa[k]
    b.load_state_dict(sb)
    idx = torch.randint(0, 10, (3, 7))
    torch.testing.assert_close(a(idx), b(idx), rtol=1e-5, atol=1e-5)
    # causal: the logits at position t do not depend on tokens after t
    idx2 = idx.clone()
    idx2[:, 5:] = (idx2[:, 5:] + 1) % 10
    torch.testing.assert_close(a(idx)[:, :5], a(idx2)[:, :5])
