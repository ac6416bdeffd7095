"""GMI benchmarks, accuracy and scale reports (``make bench``, ``make accuracy``)."""
