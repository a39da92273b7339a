"""One error type for bad dataset folders, so entry points can print it and exit 2."""


class DatasetError(ValueError):
    """A dataset folder or file is missing, unpaired or unusable; the message names the path."""
