"""Errors that the CLI reports as one line, without a traceback."""


class UserError(Exception):
  """A mistake in user input (file, field, flag): reported as `error: <message>`, exit 2."""


class ImageError(UserError):
  """An image that cannot be read; the message names the file."""

  def __init__(self, path, reason):
    self.path = str(path)
    self.reason = reason
    super().__init__(f"{path}: {reason}")
