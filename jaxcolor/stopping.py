"""SIGTERM / SIGINT during training: save at the next step boundary, then stop."""

import signal


class StopSignal:
  """A context manager; `received` is the signal's name once one arrived, else None.

  A second Ctrl-C stops at once (KeyboardInterrupt). Outside the main thread
  signals cannot be caught, and are left alone.
  """

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread
        pass
    return self

  def _handle(self, signum, frame):
    del frame
    if self.received is not None and signum == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
