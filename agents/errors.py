"""Errors that stop a run before compute is spent, with one line that says what is wrong and how to fix it."""


class ConfigError(ValueError):
    """A bad config value, game, method or protocol."""


class UndeclaredSetting(ConfigError, AttributeError):
    """Code reads a setting that agents/defaults.yaml does not declare (a new method's setting, not yet declared)."""


class DemoFileError(ValueError):
    """A demonstration file that is missing, corrupt, truncated or recorded under other settings."""


class NonFiniteError(RuntimeError):
    """A loss or Q-value that became NaN or infinite during training."""


class OutputError(OSError):
    """An output place that cannot take a run's outputs (a file where a folder should be, no write permission, too
    little free space), or a write that failed anyway (the disk filled meanwhile)."""
