"""Running flows written for ``metaflow`` unchanged: the alias, the names, the fallbacks."""
