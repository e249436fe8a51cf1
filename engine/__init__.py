"""HRNN Workbench engine: data, models, training, evaluation and storage. Never imports Qt."""
