"""One contrastive step: the loss over queries, codes and the memory; plain or with cached gradients."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from graphmer.model.retrieval import embed, graph_batch, query_batch


def contrastive_loss(q: torch.Tensor, c: torch.Tensor, queries: list[str], memory, temperature: float) -> torch.Tensor:
    """Symmetric InfoNCE: query -> code over the batch and the memory, code -> query over the batch.

    A negative whose query text equals the anchor's (a repeated docstring) is masked out.
    """
    b = len(queries)
    keys = c if memory is None or not len(memory.queries) else torch.cat([c, memory.codes.to(c.dtype)])
    key_queries = queries + ([] if memory is None else memory.queries)
    same = torch.tensor([[a == o for o in key_queries] for a in queries], dtype=torch.bool)
    same[:, :b] &= ~torch.eye(b, dtype=torch.bool)
    labels = torch.arange(b)
    logits_q = (q @ keys.T / temperature).masked_fill(same, -1e4)
    logits_c = (c @ q.T / temperature).masked_fill(same[:, :b].T, -1e4)
    return (F.cross_entropy(logits_q, labels) + F.cross_entropy(logits_c, labels)) / 2


def embed_pairs(model, pooler, pairs, tokenizer, cfg, rcfg) -> tuple[torch.Tensor, torch.Tensor]:
    """(query embeddings, code embeddings) of a list of Pairs, queries first (the dropout order)."""
    q = embed(model, pooler, query_batch([p.query for p in pairs], tokenizer, cfg, rcfg.max_query_tokens))
    c = embed(model, pooler, graph_batch([p.sample for p in pairs], cfg, rcfg.leaves))
    return q, c


def step_loss(model, pooler, pairs, tokenizer, cfg, rcfg, memory) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, detached code embeddings) of one batch, gradients accumulated in the parameters.

    With rcfg.grad_cache = g < len(pairs): embeddings of every sub-batch of g pairs first
    (no graph kept), the loss and its gradient with respect to the embeddings, then each
    sub-batch again, its dropout replayed from the RNG state of the first pass, backward
    from the cached embedding gradients. Nothing is backpropagated when the loss is not finite.
    """
    queries = [p.query for p in pairs]
    g = rcfg.grad_cache
    if not g or g >= len(pairs):
        q, c = embed_pairs(model, pooler, pairs, tokenizer, cfg, rcfg)
        loss = contrastive_loss(q, c, queries, memory, rcfg.temperature)
        if torch.isfinite(loss):
            loss.backward()
        return loss.detach(), c.detach()
    subs = [pairs[i : i + g] for i in range(0, len(pairs), g)]
    states, qs, cs = [], [], []
    with torch.no_grad():
        for sub in subs:
            states.append(torch.get_rng_state())
            q, c = embed_pairs(model, pooler, sub, tokenizer, cfg, rcfg)
            qs.append(q)
            cs.append(c)
    big_q = torch.cat(qs).requires_grad_()
    big_c = torch.cat(cs).requires_grad_()
    loss = contrastive_loss(big_q, big_c, queries, memory, rcfg.temperature)
    if not torch.isfinite(loss):
        return loss.detach(), big_c.detach()
    loss.backward()
    after = torch.get_rng_state()
    sizes = [len(s) for s in subs]
    for sub, state, gq, gc in zip(subs, states, big_q.grad.split(sizes), big_c.grad.split(sizes)):
        torch.set_rng_state(state)
        q, c = embed_pairs(model, pooler, sub, tokenizer, cfg, rcfg)
        torch.autograd.backward([q, c], [gq, gc])
    torch.set_rng_state(after)
    return loss.detach(), big_c.detach()
