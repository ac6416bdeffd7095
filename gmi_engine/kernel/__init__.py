"""GMI compute kernel: pure numpy + stdlib, Python 3.7 syntax.

The same code runs on a laptop and inside a MaxCompute Python 3.7 UDTF, so it imports nothing
of the project outside this package and nothing beyond numpy and the standard library.
"""

#: Version of the kernel's numerical behaviour; recorded in every result row's meta.
KERNEL_VERSION = "0.3.0"
