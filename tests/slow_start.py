"""A module that takes seconds to import: a pool worker preloading it is still starting."""

import time

time.sleep(5)
