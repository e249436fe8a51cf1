"""The Tuning dialog (Optuna studies, live trials, importances, presets) and the fair comparison it starts."""
