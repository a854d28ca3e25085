"""The recipe: the typed model of a deployment and the loader that reports bad input precisely."""
