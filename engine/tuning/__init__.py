"""Hyper-parameter search with Optuna, below the use cases (:mod:`engine.workbench.tuning`,
:mod:`engine.workbench.compare`) and above the runs it trains: where a workspace's studies are
stored, how a model's declared search space becomes Optuna's suggestions, the fixed sample of
validation users each epoch is scored on, and one worker's loop over a study's trials."""
