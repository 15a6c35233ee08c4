"""Running flows written for ``metaflow`` unchanged: the alias and the names (the decorator fallbacks are in decorators/fallbacks.py)."""
