"""The project's own error types, so callers can tell bad input and unusable stores from bugs."""


class InputError(ValueError):
    """Input from outside that cannot be used, said in words written for a clinician.

    The message names the problem and, where possible, what to do instead.
    detail holds what a library said, in its own words, for whoever supports
    the app; it stays out of the message.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class ImageInputError(InputError):
    """An uploaded or scanned file cannot be turned into a chest X-ray image."""


class AuditStoreError(RuntimeError):
    """The audit database cannot be read or written; the message says why and what to do.

    Raised instead of repairing or recreating the database, so earlier reads are never lost. The
    message names no path or server, since every reader sees it; detail holds the database's own
    words for an administrator.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail
