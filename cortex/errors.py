"""CORTEX errors: each names the problem and the fix, and maps to one HTTP status."""

from __future__ import annotations

from synapse.errors import SynapseError


class CortexError(SynapseError):
    """Base of CORTEX errors; `status` is the HTTP status the API answers with."""

    status = 400


class CortexUnavailableError(CortexError):
    """CORTEX cannot be reached or is not ready."""

    status = 503
    exit_code = 1


class DocumentNotFoundError(CortexError):
    """No document with that id."""

    status = 404


class BadDocumentError(CortexError):
    """An upload that cannot be stored: empty, wrong type, too large, unreadable."""

    status = 400


class DocumentTooLargeError(BadDocumentError):
    status = 413


class TextTooLongError(DocumentTooLargeError):
    """An upload within the byte limit whose text is over CORTEX_MAX_TEXT_CHARS (a compression bomb, or a
    document too long to ingest in reasonable time)."""

    HINT = "split the document into smaller files, or raise CORTEX_MAX_TEXT_CHARS"

    @classmethod
    def over(cls, label: str, max_chars: int) -> TextTooLongError:
        return cls(
            f"{label} holds more than {max_chars:,} characters of text, the limit of CORTEX_MAX_TEXT_CHARS", cls.HINT
        )


class TooManyFilesError(BadDocumentError):
    """A multipart upload with more than one file: each file is one document, stored by its own request."""

    status = 422


class UnsupportedDocumentError(BadDocumentError):
    status = 415


class EmbedderMismatchError(CortexError):
    """The store was built with another embedder (name or dimension)."""

    status = 409


class InvalidCollectionError(CortexError):
    """A collection name outside the rule (an upload's `collection`, a listing's filter)."""

    status = 422


class CollectionConflictError(CortexError):
    """A document uploaded again into another collection: a document (one content) is in one collection."""

    status = 409
