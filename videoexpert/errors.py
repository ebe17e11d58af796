"""Errors raised at the package's boundaries. Each message names the offending value and, where it can, the fix."""


class VideoExpertError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(VideoExpertError, ValueError):
    """A configuration value is invalid or inconsistent."""


class VideoDecodeError(VideoExpertError):
    """A video cannot be read: missing, unreadable, no video stream, zero length or too large."""


class CheckpointError(VideoExpertError):
    """A checkpoint is missing, incomplete, of the wrong architecture or unsafe to load."""


class ResultSchemaError(VideoExpertError, ValueError):
    """A prediction does not follow the result schema (DESIGN.md §5)."""


class InputError(VideoExpertError, ValueError):
    """A user input (query, task, option) is invalid: empty, too long, or unknown."""
