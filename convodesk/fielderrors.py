"""The one shape of "this input is refused, field by field" that services raise, so views put
each message beside its field and the API answers 422 naming it."""


class FieldErrors(Exception):
    """`errors` maps each field ("time_zone", "config.imap.password") to why it is refused."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
