"""The ``nginx`` provider: the PoP fleet (see :mod:`.provider`)."""
