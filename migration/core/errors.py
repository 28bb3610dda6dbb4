"""The one exception type the converter raises for bad input."""

from __future__ import annotations


class InputError(ValueError):
    """Invalid or hostile input.

    ``path`` is the dotted field path inside the offending document (``spec.template.spec.domain.cpu.cores``),
    empty for document-level problems; ``document`` is the 0-based document index, ``source`` the file name.
    """

    def __init__(self, message: str, path: str = "", document: int | None = None, source: str = "") -> None:
        self.message = message
        self.path = path
        self.document = document
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.document is not None:
            where.append(f"document {self.document + 1}")
        prefix = " ".join(where)
        body = f"{self.path}: {self.message}" if self.path else self.message
        return f"{prefix}: {body}" if prefix else body

    def located(self, document: int | None = None, source: str = "", prefix: str = "") -> InputError:
        """Return a copy that also names the document/source and nests ``path`` under ``prefix``."""
        path = self.path
        if prefix:
            path = f"{prefix}.{path}" if path and not path.startswith("[") else f"{prefix}{path}"
        return InputError(
            self.message,
            path,
            self.document if document is None else document,
            self.source or source,
        )
