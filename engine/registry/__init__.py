"""The machinery of the extensible concepts (models, losses, metrics, breakdowns): a named
registry, declared settings (label, help, valid range) and search spaces. Only the machinery lives
here; each concept registers its entries where it is defined."""
