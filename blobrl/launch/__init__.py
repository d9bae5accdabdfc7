"""``python -m blobrl.launch``: start or join Ray and train (see :mod:`blobrl.launch.runner`)."""
