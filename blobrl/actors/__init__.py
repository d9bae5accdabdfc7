"""Ray actors: thin shells over the plain classes of each component."""
