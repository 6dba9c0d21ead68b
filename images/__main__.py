"""``python -m images``: build the service and operator images (see :mod:`images.build`)."""

from images.build import main

main()
