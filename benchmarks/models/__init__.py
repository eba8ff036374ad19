"""Real models ported by hand to jaxinit for the training-step benchmark (``bench_models.py``).

The vision models are torchvision 0.28's class code with ``torch.nn`` switched to
``jaxinit.nn`` and the few tensor methods torch spells differently (``permute``, ``flatten``)
written with ``jax.numpy``; the transformers are the Hugging Face GPT-2 and Llama blocks,
written out with jaxinit layers. Each ``build_*`` returns the jaxinit module; the torch
original comes from :mod:`benchmarks.models.reference`.
"""
