"""pytest configuration shared by every test file: hypothesis runs the same examples everywhere.

The property tests (test_properties*.py) draw sizes, options and seeds with
hypothesis. Under the default profile ``"ci"`` they are deterministic:

- ``derandomize=True``: the examples come from a fixed seed derived from each
  test's source, so every run, machine and virtual environment checks the same
  cases, and a pass or a failure reproduces;
- ``database=None``: nothing is stored in ``.hypothesis/`` and no stored case
  is replayed, so a fresh clone behaves like CI and a failure found once does
  not haunt later runs.

To search for new failures on purpose, choose the random profile::

    HYPOTHESIS_PROFILE=explore python -m pytest tests/test_properties.py

It draws fresh random examples on every run, still stores nothing, and
prints the ``@reproduce_failure`` line of any failure so you can pin it as a
fixed example.
"""

import os
import tempfile

from hypothesis import settings

# On a failure hypothesis's pytest plugin also writes a patch with the failing example.
# Keep it out of the working tree (the message names the file, wherever it is).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      os.path.join(tempfile.gettempdir(), "lstmlab-hypothesis"))

settings.register_profile("ci", derandomize=True, database=None, deadline=None,
                          print_blob=False)
settings.register_profile("explore", derandomize=False, database=None, deadline=None,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
