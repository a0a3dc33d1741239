"""The application built on the faconv library: the regime workflow.

``training/`` (data preparation, the trainer, checkpoints, torchrun), ``estimator``
(:class:`RegimeEstimator`, xarray in and out), ``evaluation``, ``eof``, ``regimes`` and
``results`` (embeddings, clustering beside EOF + KMeans, regime diagnostics, tables),
``plots``, and the command line (``cli``, ``commands``, ``demo``, ``ablation``). Nothing in
the library (the package root) imports from here.
"""
