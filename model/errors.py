"""The project's own error types, so callers can tell bad input and unusable stores from bugs."""


class ImageInputError(ValueError):
    """An uploaded or scanned file cannot be turned into a chest X-ray image.

    The message is written for a clinician: it names the problem and, where
    possible, what to do instead.
    """


class AuditStoreError(RuntimeError):
    """The audit database cannot be read or written; the message says why and what to do.

    Raised instead of repairing or recreating the file, so earlier reads are never lost.
    """
