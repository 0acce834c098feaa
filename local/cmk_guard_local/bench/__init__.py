"""``make bench``: what one remediation costs, how fast cmk-guard starts and how it scales, on the emulated account.

One module per measure; ``__main__`` runs them all and writes ``docs/benchmarks.md`` and ``docs/benchmarks.json``.
Pure parts (prices, tables) live in ``pricing`` and ``render`` so they can be checked without running anything.
"""

import os

# The emulation hooks into botocore before any client exists; the credentials are the emulation's, never real ones.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_name, _value)
