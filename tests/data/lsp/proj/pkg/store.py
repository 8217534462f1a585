"""Storage of records."""


class BaseStore:
    """Keeps records in memory."""

    def save(self, record):
        """Save one record."""
        self.records.append(record)

    def load(self):
        return list(self.records)


class FileStore(BaseStore):
    """Keeps records in a file."""

    class Options:
        """Nested options of a file store."""

        def validate(self):
            return True

    def save(self, record):
        """Save one record to the file."""
        super().save(record)
        self.flush()

    def flush(self):
        pass
